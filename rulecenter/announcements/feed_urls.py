from django.urls import URLPattern, path

from . import feeds

app_name = "feeds"
urlpatterns: list[URLPattern] = [
    path("news.rss", feeds.NewsRssFeed(), name="news-rss"),
    path("news.atom", feeds.NewsAtomFeed(), name="news-atom"),
    path("news.json", feeds.NewsJsonFeed(), name="news-json"),
]
