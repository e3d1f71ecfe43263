"""Browser-test fixtures: the demo data on a transactional test database, a live server, Chromium pages.

All database work happens before Chromium starts and after it stops. Playwright's sync API keeps an asyncio
loop in the test's thread: Django refuses queries there (SynchronousOnlyOperation), and a connection opened
under that loop belongs to another context, so it would be left open and block dropping the test database
on PostgreSQL. The pages' own requests are answered by the live server on its threads.
"""

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import Page
from pytest_django.live_server_helper import LiveServer

from rulecenter.announcements.demo import SeedItem, load_demo, seed_items
from rulecenter.rules.models import Rule

from .browser import DESKTOP, PHONE, chromium_page


@pytest.fixture
def demo_news(transactional_db: None) -> list[SeedItem]:
    """The seed page's 12 items, published, committed where the live server can read them."""
    load_demo()
    return seed_items()


@pytest.fixture
def demo_rule_slug(demo_news: list[SeedItem]) -> str:
    """All the demo data `make run` loads (`rulecenter loaddemo`); returns a rule with several versions."""
    call_command("loaddemo", stdout=StringIO())
    rule = Rule.objects.filter(versions__number=2).order_by("id").first()
    assert rule is not None, "the demo data has no rule with a second version"
    return rule.slug


@pytest.fixture
def desktop_page(
    live_server: LiveServer, demo_news: list[SeedItem], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Page]:
    with chromium_page(tmp_path_factory.mktemp("chromium-desktop"), viewport=DESKTOP) as page:
        yield page


@pytest.fixture
def phone_page(
    live_server: LiveServer, demo_news: list[SeedItem], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Page]:
    with chromium_page(tmp_path_factory.mktemp("chromium-phone"), viewport=PHONE, phone=True) as page:
        yield page
