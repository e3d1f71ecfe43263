from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "rulecenter.rules"
    label = "rules"
    verbose_name = "规则"
