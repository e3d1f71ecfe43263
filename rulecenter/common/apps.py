from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "rulecenter.common"
    label = "common"
    verbose_name = "通用"

    def ready(self) -> None:
        from . import sessions  # noqa: F401  # connects the staff session expiry
