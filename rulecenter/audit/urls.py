from django.urls import path

from . import feeds, views

app_name = "audit"
urlpatterns = [
    path("", views.audit_page, name="index"),
    path("checkpoints.atom", feeds.CheckpointAtomFeed(), name="checkpoints-atom"),
    path("checkpoints.json", views.checkpoints_json, name="checkpoints-json"),
]
