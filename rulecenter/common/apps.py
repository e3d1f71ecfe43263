from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "rulecenter.common"
    label = "common"
    verbose_name = "通用"
