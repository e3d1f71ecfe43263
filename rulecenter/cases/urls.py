"""/me/cases/: a member's complaints and appeals (cases/views.py)."""

from django.urls import path

from . import views

app_name = "cases"
urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/", views.case_new, name="new"),
    path("<str:number>/", views.case_detail, name="detail"),
    path("<str:number>/escalate/", views.case_escalate, name="escalate"),
    path("<str:number>/close/", views.case_close, name="close"),
    path("<str:number>/attachments/<int:pk>/", views.attachment_download, name="attachment"),
]
