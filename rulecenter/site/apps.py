from django.apps import AppConfig


class SiteConfig(AppConfig):
    """Pages and commands that compose several apps: the news detail with its extracted facts, the calendar,
    the demo loader. It stands above every content app and its followers; no app imports it."""

    name = "rulecenter.site"
    label = "site"
    verbose_name = "网站"
