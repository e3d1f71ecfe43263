from django.urls import path, re_path

from . import views

app_name = "rules"
urlpatterns = [
    path("", views.rule_library, name="library"),
    path("bundles/<int:pk>/", views.bundle_detail, name="bundle"),
    path("bundles/<int:pk>/exit/", views.bundle_exit, name="bundle_exit"),
    path("<slug:slug>/", views.rule_detail, name="detail"),
    path("<slug:slug>/history/", views.rule_history, name="history"),
    path("<slug:slug>/diff/", views.rule_diff, name="diff"),
    re_path(
        r"^(?P<slug>[-a-zA-Z0-9_]+)/versions/(?P<number>[0-9]{1,9})/$", views.version_detail, name="version"
    ),
    re_path(
        r"^(?P<slug>[-a-zA-Z0-9_]+)/versions/(?P<number>[0-9]{1,9})/acknowledge/$",
        views.version_acknowledge,
        name="acknowledge",
    ),
    re_path(
        r"^(?P<slug>[-a-zA-Z0-9_]+)/versions/(?P<number>[0-9]{1,9})\.(?P<fmt>md|txt|json)$",
        views.version_download,
        name="download",
    ),
]
