"""The project's URLs plus two bench-only views: a constant page and a database-settings probe."""

from django.urls import path

from config.urls import handler404, handler500
from config.urls import urlpatterns as project_urlpatterns

from . import views

urlpatterns = [
    path("bench/constant/", views.constant, name="bench-constant"),
    path("bench/sqlite/", views.sqlite_settings, name="bench-sqlite"),
    *project_urlpatterns,
]

__all__ = ["handler404", "handler500", "urlpatterns"]
