"""A change's record (site/record.py), mounted under /rules/ before the rule pages' own URLs."""

from django.urls import path, re_path

from . import record

app_name = "record"
urlpatterns = [
    path("bundles/<int:pk>/record", record.bundle_record, name="bundle"),
    path("bundles/<int:pk>/record.json", record.bundle_record_json, name="bundle_json"),
    re_path(
        r"^(?P<slug>[-a-zA-Z0-9_]+)/versions/(?P<number>[0-9]{1,9})/record$",
        record.version_record,
        name="version",
    ),
    re_path(
        r"^(?P<slug>[-a-zA-Z0-9_]+)/versions/(?P<number>[0-9]{1,9})/record\.json$",
        record.version_record_json,
        name="version_json",
    ),
]
