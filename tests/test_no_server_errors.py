"""No public URL answers 5xx, whatever the query string (issue 2's 'done when')."""

from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulecenter.announcements.demo import load_demo

pytestmark = pytest.mark.django_db

URLS = [
    "/news/",
    "/news/1/",
    "/feeds/news.rss",
    "/feeds/news.atom",
    "/feeds/news.json",
    "/api/v1/announcements",
    "/api/v1/announcements/1",
]
NASTY = [
    "page=0", "page=-1", "page=abc", "page=1e9", "page=" + "9" * 400, "page=%00", "page=1%00",
    "page=%ff%fe", "page=", "page", "page=1&page=2", "page[]=1", "page_size=0", "page_size=-5",
    "page_size=100000", "category=%00", "category=" + "x" * 5000, "category=%E8%A7%84%E5%88%99",
    "category=../../etc/passwd", "category='%20OR%201=1--", "q=%F0%9F%98%80", "%=%", "&&&", "=",
]  # fmt: skip


@pytest.mark.parametrize("url", URLS)
def test_nasty_query_strings_never_cause_a_server_error(client: Client, url: str) -> None:
    load_demo()
    for query in NASTY:
        response = client.get(f"{url}?{query}")
        assert response.status_code < 500, (url, query, response.content[:500])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from(["page", "category", "page_size", "at", "q"]),
    value=st.text(max_size=40),
)
def test_random_query_values_never_cause_a_server_error(client: Client, key: str, value: str) -> None:
    for url in ("/news/", "/feeds/news.rss", "/api/v1/announcements"):
        response = client.get(f"{url}?{key}={quote(value)}")
        assert response.status_code < 500, (url, key, value)
