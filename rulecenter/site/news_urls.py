"""/news/: the listing (announcements) and the detail page (composed here), under one namespace."""

from django.urls import path

from rulecenter.announcements import views as announcement_views

from . import views

app_name = "announcements"
urlpatterns = [
    path("", announcement_views.news_list, name="list"),
    path("<int:pk>/", views.news_detail, name="detail"),
]
