"""/me/: the signed-in member's own page (site/me.py)."""

from django.urls import path

from . import me

app_name = "me"
urlpatterns = [
    path("", me.member_page, name="page"),
    path("language/", me.language_set, name="language"),
    path("subscriptions/<int:pk>/delete/", me.subscription_delete, name="subscription_delete"),
]
