from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "rulecenter.accounts"
    label = "accounts"
    verbose_name = "账户"
