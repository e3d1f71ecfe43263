from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SearchConfig(AppConfig):
    name = "rulecenter.search"
    label = "search"
    verbose_name = _("搜索")

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the receivers
