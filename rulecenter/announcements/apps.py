from django.apps import AppConfig


class AnnouncementsConfig(AppConfig):
    name = "rulecenter.announcements"
    label = "announcements"
    verbose_name = "新闻动态"
