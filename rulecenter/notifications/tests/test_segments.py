"""A targeted change is told only to those it concerns (issue 13), end to end: the real change hook, the
worker (`db_worker`), a real webhook receiver and a real SMTP server.

`all` and `category:` subscriptions hear a targeted change only when their owner is a member in one of its
segments, or is no member at all (a partner's or the staff's systems); visitors' e-mail subscriptions to
them are not told; `rule:` subscriptions always hear.
"""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from rulecenter.accounts import services as account_services
from rulecenter.accounts.tests.factories import user_create
from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.tests.factories import approved_draft, category_create
from rulecenter.common.actors import SYSTEM
from rulecenter.common.tests.pages import unmarked
from rulecenter.consultations.tests.factories import consultation_create, draft_version
from rulecenter.notifications import mail, services
from rulecenter.notifications.models import Delivery, Event, Subscription
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules import services as rule_services
from rulecenter.rules.tests.factories import OLD_TEXT, rule_create
from rulecenter.rules.tests.factories import category_create as rule_category_create

from .test_email import Mailbox, work
from .test_email import mailbox as mailbox  # the fixture

pytestmark = pytest.mark.django_db(transaction=True)  # the worker commits and closes, as in production


@dataclass
class Receivers:
    """One HTTP server standing in for every subscriber's endpoint: `/<name>` is the subscriber's."""

    base: str = ""
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def heard(self, event_type: str) -> set[str]:
        """Who received an event of this type (each name once; `told_once` checks there were no repeats)."""
        with self.lock:
            return {name for name, payload in self.received if payload["type"] == event_type}

    def told_once(self) -> bool:
        with self.lock:
            seen = [(name, payload["type"]) for name, payload in self.received]
        return len(seen) == len(set(seen))


@pytest.fixture
def receivers(settings: Settings) -> Iterator[Receivers]:
    settings.RULECENTER_WEBHOOK_ALLOW_PRIVATE = True
    settings.RULECENTER_WEBHOOK_TIMEOUT_SECONDS = 5
    state = Receivers()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with state.lock:
                state.received.append((self.path.strip("/"), json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class World:
    alice: User  # a member in the segment (apparel, 浙江省)
    bob: User  # a member outside it (food, 浙江省)
    young: User  # a member in the second segment only (a new shop)
    partner: User  # not a member: a partner's ERP


def hook(receivers: Receivers, owner: User, name: str, topic: str) -> Subscription:
    return services.subscription_create(
        actor=SYSTEM, owner=owner, channel="webhook", target=f"{receivers.base}/{name}", topic=topic,
        frequency="immediate",
    )  # fmt: skip


def email(owner: User | None, address: str, topic: str) -> Subscription:
    subscription = services.subscription_create(
        actor=SYSTEM, owner=owner, channel="email", target=address, topic=topic, frequency="immediate"
    )
    confirmed = services.subscription_confirm(token=mail.confirm_token(subscription))
    assert confirmed is not None
    return confirmed


@pytest.fixture
def world(receivers: Receivers, mailbox: Mailbox) -> World:
    account_services.segment_create(
        actor=SYSTEM, slug="zj-apparel", name="浙江服装商家", industries=["apparel"], regions=["浙江省"]
    )
    account_services.segment_create(actor=SYSTEM, slug="newcomers", name="新开店商家", max_shop_days=30)
    today = timezone.localdate()

    def member(username: str, industry: str, joined_on: date) -> User:
        return account_services.member_create(
            actor=SYSTEM, username=username, industry=industry, region="浙江省", joined_on=joined_on
        ).user

    people = World(
        alice=member("alice", "apparel", date(2024, 1, 1)),
        bob=member("bob", "food", date(2024, 1, 1)),
        young=member("young", "food", today - timedelta(days=3)),
        partner=user_create("erp-partner"),
    )
    category_create(slug="news", name="新闻")
    # A rule public since 2024 (so `rule:shipping` can be subscribed to).
    rule = rule_create(slug="shipping", title="发货规范")
    first = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT)
    rule_services.rule_version_schedule(
        actor=SYSTEM, version=first, notice_at=timezone.now() - timedelta(days=400),
        effective_at=timezone.now() - timedelta(days=390), record_past=True,
    )  # fmt: skip
    for owner, name in ((people.alice, "alice"), (people.bob, "bob"), (people.young, "young")):
        hook(receivers, owner, f"{name}-all", "all")
        hook(receivers, owner, f"{name}-news", "category:news")
    hook(receivers, people.partner, "partner-all", "all")
    hook(receivers, people.bob, "bob-rule", "rule:shipping")
    email(people.alice, "alice@shop.example", "all")
    email(people.bob, "bob@shop.example", "all")
    email(None, "visitor@example.com", "all")
    email(None, "watcher@example.com", "rule:shipping")
    work()  # the confirmation e-mails of the subscriptions made above
    mailbox.messages.clear()
    return people


def publish(segments: list[str]) -> None:
    draft = approved_draft(title="浙江服装商家发货指引", category=category_create(slug="news", name="新闻"))
    announcement_services.announcement_segments_set(actor=SYSTEM, announcement=draft, segments=segments)
    announcement_services.announcement_publish(actor=SYSTEM, announcement=draft)


def mailed(mailbox: Mailbox) -> set[str]:
    with mailbox.lock:
        return {rcpt for rcpt, _message in mailbox.messages}


def test_a_targeted_announcement_reaches_exactly_those_it_concerns(
    world: World, receivers: Receivers, mailbox: Mailbox
) -> None:
    publish(["zj-apparel"])
    work()
    assert receivers.heard("announcement.published") == {"alice-all", "alice-news", "partner-all"}
    assert mailed(mailbox) == {"alice@shop.example"}  # not bob, not the visitor
    assert receivers.told_once()
    (event,) = Event.objects.all()
    assert event.data["segments"] == ["zj-apparel"]
    assert Delivery.objects.filter(status="succeeded").count() == 4


def test_in_any_of_its_segments_is_enough(world: World, receivers: Receivers, mailbox: Mailbox) -> None:
    publish(["zj-apparel", "newcomers"])
    work()
    assert receivers.heard("announcement.published") == {
        "alice-all", "alice-news", "young-all", "young-news", "partner-all",
    }  # fmt: skip
    assert mailed(mailbox) == {"alice@shop.example"}


def test_an_announcement_for_everyone_reaches_everyone(
    world: World, receivers: Receivers, mailbox: Mailbox
) -> None:
    publish([])
    work()
    assert receivers.heard("announcement.published") == {
        "alice-all", "alice-news", "bob-all", "bob-news", "young-all", "young-news", "partner-all",
    }  # fmt: skip
    assert mailed(mailbox) == {"alice@shop.example", "bob@shop.example", "visitor@example.com"}
    assert Event.objects.get().data["segments"] == []


def test_a_targeted_rule_change_reaches_its_segment_and_those_who_watch_the_rule(
    world: World, receivers: Receivers, mailbox: Mailbox
) -> None:
    shipping = rule_selectors.rule_by_slug("shipping")
    assert shipping is not None
    version = rule_services.rule_version_create(
        actor=SYSTEM, rule=shipping, text=OLD_TEXT + "\n\n第四条 新增。", summary="新增第四条"
    )
    rule_services.rule_version_segments_set(actor=SYSTEM, version=version, segments=["zj-apparel"])
    notice_at = timezone.now() + timedelta(hours=1)
    rule_services.rule_version_schedule(
        actor=SYSTEM, version=version, notice_at=notice_at, effective_at=notice_at + timedelta(days=8)
    )
    with time_machine.travel(notice_at + timedelta(seconds=1)):
        work()  # the notice (the lifecycle's wake-up), then its events' fan-out
        work()
    assert receivers.heard("rule.noticed") == {"alice-all", "partner-all", "bob-rule"}
    # Its statutory notice, an announcement in the rule news category, is told as this rule.noticed, once.
    assert receivers.heard("announcement.published") == set()
    assert mailed(mailbox) == {"alice@shop.example", "watcher@example.com"}  # the rule's watcher too
    noticed = Event.objects.get(type="rule.noticed")
    assert noticed.data["segments"] == ["zj-apparel"]
    assert receivers.told_once()


def test_a_member_s_attributes_are_judged_when_the_change_is_told(
    world: World, receivers: Receivers, mailbox: Mailbox
) -> None:
    """Bob moves into apparel before the announcement: he hears it; the partner still does."""
    member = world.bob.member
    account_services.member_attributes_set(
        actor=SYSTEM, member=member, industry="apparel", region="浙江省", membership="basic"
    )
    publish(["zj-apparel"])
    work()
    assert receivers.heard("announcement.published") == {
        "alice-all", "alice-news", "bob-all", "bob-news", "partner-all",
    }  # fmt: skip
    assert mailed(mailbox) == {"alice@shop.example", "bob@shop.example"}


def test_a_targeted_change_reminds_only_its_segment_s_members_to_acknowledge(mailbox: Mailbox) -> None:
    """The reminder before it takes effect goes to the members in its segments who have not acknowledged it,
    read from a real SMTP server; the others are not asked at all."""
    account_services.segment_create(actor=SYSTEM, slug="apparel", name="服装商家", industries=["apparel"])
    notice_at = timezone.now() + timedelta(hours=1)
    effective_at = notice_at + timedelta(days=16)
    for username, industry in (("in-shop", "apparel"), ("out-shop", "food")):
        member = account_services.member_create(actor=SYSTEM, username=username, industry=industry)
        member.user.email = f"{username}@shop.example"
        member.user.save()
    version = rule_services.rule_version_create(
        actor=SYSTEM, rule=rule_create(slug="shipping", title="发货规范"), text=OLD_TEXT, major=True,
        acknowledgment_required=True,
    )  # fmt: skip
    rule_services.rule_version_segments_set(actor=SYSTEM, version=version, segments=["apparel"])
    rule_services.rule_version_schedule(
        actor=SYSTEM, version=version, notice_at=notice_at, effective_at=effective_at
    )
    with time_machine.travel(notice_at + timedelta(seconds=1)):
        work()
    with time_machine.travel(effective_at - timedelta(hours=72) + timedelta(seconds=1)):
        work()
        work()
    assert mailed(mailbox) == {"in-shop@shop.example"}
    assert len(mailbox.to("in-shop@shop.example")) == 1


def test_a_targeted_consultation_is_told_only_to_its_segment(world: World, receivers: Receivers) -> None:
    """A consultation on drafts that all target segments is theirs: its opening reaches `all` subscribers in
    those segments (and non-members), and whoever follows one of its rules; its page says whom it concerns."""
    draft = draft_version("returns", "退货规范")
    rule_services.rule_version_segments_set(actor=SYSTEM, version=draft, segments=["zj-apparel"])
    hook(receivers, world.bob, "bob-returns", "rule:returns")
    opens_at = timezone.now() + timedelta(hours=1)
    consultation = consultation_create(
        versions=[draft], opens_at=opens_at, closes_at=opens_at + timedelta(days=8)
    )
    with time_machine.travel(opens_at + timedelta(seconds=1)):
        work()
        work()
        page = Client().get(consultation.get_absolute_url()).content.decode()
    assert receivers.heard("consultation.opened") == {"alice-all", "partner-all", "bob-returns"}
    assert Event.objects.get(type="consultation.opened").data["segments"] == ["zj-apparel"]
    assert "本变更主要涉及：浙江服装商家" in unmarked(page)


def test_a_consultation_with_a_draft_for_everyone_is_told_to_everyone(
    world: World, receivers: Receivers
) -> None:
    targeted, for_all = draft_version("returns", "退货规范"), draft_version("refunds", "退款规范")
    rule_services.rule_version_segments_set(actor=SYSTEM, version=targeted, segments=["zj-apparel"])
    opens_at = timezone.now() + timedelta(hours=1)
    consultation_create(
        versions=[targeted, for_all], opens_at=opens_at, closes_at=opens_at + timedelta(days=8)
    )
    with time_machine.travel(opens_at + timedelta(seconds=1)):
        work()
        work()
    assert receivers.heard("consultation.opened") == {"alice-all", "bob-all", "young-all", "partner-all"}


def test_a_saved_search_s_filters_choose_the_changes_as_search_does(
    world: World, receivers: Receivers
) -> None:
    """`search:?q=…&kind=…&type=…&category=…` — /search/'s own filters: the kind of item (announcement or
    rule), its type, its category (a rule category takes in those below it)."""
    market = rule_category_create(slug="market")
    banned = rule_services.rule_category_create(actor=SYSTEM, slug="banned", name="禁限售", parent=market)
    rule_create(slug="banned-goods", title="禁售商品发货管理规则", category=banned)
    partner = world.partner
    for name, topic in (
        ("rules-shipping", "search:?q=发货&kind=rule"),
        ("news-shipping", "search:?q=发货&kind=announcement&type=news"),
        ("guides", "search:?type=guide"),
        ("market", "search:?category=market"),
        ("banned", "search:?q=发货&category=banned"),
        ("everything-shipping", "search:发货"),
    ):
        hook(receivers, partner, name, topic)

    publish([])  # an announcement (新闻) titled 浙江服装商家发货指引
    for slug in ("shipping", "banned-goods"):
        rule = rule_selectors.rule_by_slug(slug)
        assert rule is not None
        version = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT, summary="调整")
        notice_at = timezone.now() + timedelta(hours=1)
        rule_services.rule_version_schedule(
            actor=SYSTEM, version=version, notice_at=notice_at, effective_at=notice_at + timedelta(days=8)
        )
    work()
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        work()
        work()

    def heard_of(event_type: str, title: str) -> set[str]:
        with receivers.lock:
            return {
                name for name, payload in receivers.received
                if payload["type"] == event_type and payload["data"]["title"] == title
                and not name.startswith(("alice", "bob", "young", "partner"))
            }  # fmt: skip

    assert heard_of("announcement.published", "浙江服装商家发货指引") == {
        "news-shipping",
        "everything-shipping",
    }
    assert heard_of("rule.noticed", "发货规范") == {"rules-shipping", "market", "everything-shipping"}
    assert heard_of("rule.noticed", "禁售商品发货管理规则") == {
        "rules-shipping", "market", "banned", "everything-shipping",
    }  # fmt: skip
    with receivers.lock:
        seen = [(name, payload["type"], payload["data"]["title"]) for name, payload in receivers.received]
    assert len(seen) == len(set(seen))  # each told once
