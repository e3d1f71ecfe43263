"""E-mail end to end: a real SMTP server (aiosmtpd) receives what the worker sends, as a mail system would.

Double opt-in, the message's parts and headers (RFC 8058 one-click unsubscribe), daily and weekly digests —
one per address per period, none when empty, none twice — and what a refused address does.
"""

import email
import email.policy
import html
import logging
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.core.mail import EmailMessage as DjangoEmailMessage
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.tests.factories import approved_draft, category_create
from rulecenter.common.actors import SYSTEM
from rulecenter.notifications import mail, services
from rulecenter.notifications.models import Delivery, Digest, DigestRun, Subscription

pytestmark = pytest.mark.django_db(transaction=True)  # the worker commits and closes, as in production

SHANGHAI = ZoneInfo("Asia/Shanghai")
SITE = "https://rules.example.com"
REFUSED = "gone@example.net"


@dataclass
class Mailbox:
    """What the SMTP server accepted: one parsed message per recipient."""

    messages: list[tuple[str, EmailMessage]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # as they came over the wire
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [message for rcpt, message in self.messages if rcpt == address]

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


class Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.box.lock:
            self.box.raw.append(envelope.content)
            for rcpt in envelope.rcpt_tos:
                self.box.messages.append((rcpt, message))
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox(settings: Settings) -> Iterator[Mailbox]:
    box = Mailbox()
    # aiosmtpd logs every connection from its own thread, which outlives pytest's captured streams.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    with socket.socket() as probe:  # aiosmtpd checks it is up by connecting: it needs the port first
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(box), hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    settings.RULECENTER_SITE_URL = SITE
    settings.RULECENTER_DIGEST_HOUR = 8
    try:
        yield box
    finally:
        controller.stop()


def work() -> None:
    """What `rulecenter db_worker` does, once: every task whose time has come."""
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def publish(title: str = "《发货规范》更新", **fields: Any) -> None:
    draft = approved_draft(title=title, **fields)
    announcement_services.announcement_publish(actor=SYSTEM, announcement=draft)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def link(message: EmailMessage, path: str) -> str:
    found = re.search(rf"{re.escape(SITE)}{re.escape(path)}[^\s<>\"]+", text_of(message))
    assert found is not None, text_of(message)
    return found.group(0)


def visitor_subscribes(client: Client, address: str, **fields: str) -> Any:
    return client.post(
        "/notifications/subscribe/", {"email": address, "topic": "all", "frequency": "immediate", **fields}
    )


def confirmed(client: Client, mailbox: Mailbox, address: str, **fields: str) -> Subscription:
    assert visitor_subscribes(client, address, **fields).status_code == 200
    work()
    (confirmation,) = mailbox.to(address)
    page = client.post(link(confirmation, "/notifications/confirm/").removeprefix(SITE))
    assert page.status_code == 200
    return Subscription.objects.get(target=address)


def test_a_visitor_confirms_by_mail_before_anything_is_sent(client: Client, mailbox: Mailbox) -> None:
    page = visitor_subscribes(client, "Shop@Example.COM")
    assert page.status_code == 200
    assert "请查收确认邮件" in page.content.decode()
    publish("未确认时发布")  # before confirming: nothing but the confirmation
    work()
    (confirmation,) = mailbox.to("Shop@example.com")  # the domain is case-insensitive, kept lower-case
    assert confirmation["Subject"] == "[规则中心] 请确认订阅"
    assert "List-Unsubscribe" not in confirmation
    confirm_url = link(confirmation, "/notifications/confirm/")

    # A link scanner's GET confirms nothing; it shows a button.
    shown = client.get(confirm_url.removeprefix(SITE))
    assert shown.status_code == 200
    assert "确认订阅" in shown.content.decode()
    assert Subscription.objects.get().confirmed_at is None
    assert client.post(confirm_url.removeprefix(SITE)).status_code == 200
    assert Subscription.objects.get().confirmed_at is not None

    publish("《发货规范》更新")
    work()
    assert mailbox.count() == 2  # the news before confirming was never sent
    notice = mailbox.to("Shop@example.com")[-1]
    assert notice["Subject"] == "[规则中心] 公告发布：《发货规范》更新"
    assert "《发货规范》更新" in text_of(notice)
    assert "<a href=" in html_of(notice)
    assert "《发货规范》更新" in html_of(notice)
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(rf"<{re.escape(SITE)}/notifications/unsubscribe/[^>]+/>", notice["List-Unsubscribe"])
    assert notice["Message-ID"].startswith("<msg_")
    assert notice["Auto-Submitted"] == "auto-generated"
    # On the wire as written: one-click receivers do not decode an RFC 2047-encoded URL.
    assert re.search(
        rb"\r\nList-Unsubscribe: <https://rules\.example\.com/notifications/unsubscribe/[^>\s]+/>\r\n",
        mailbox.raw[-1],
    )


def test_a_forged_or_stale_confirmation_confirms_nothing(client: Client, mailbox: Mailbox) -> None:
    visitor_subscribes(client, "a@example.com")
    subscription = Subscription.objects.get()
    assert client.get("/notifications/confirm/forged/").status_code == 404
    assert client.post("/notifications/confirm/forged/").status_code == 404
    token = mail.confirm_token(subscription)
    with time_machine.travel(datetime.now(tz=SHANGHAI) + timedelta(days=8)):
        assert client.post(f"/notifications/confirm/{token}/").status_code == 404
    assert Subscription.objects.get().confirmed_at is None


def test_one_click_unsubscribes_by_post_and_never_by_get(client: Client, mailbox: Mailbox) -> None:
    confirmed(client, mailbox, "a@example.com")
    publish()
    work()
    notice = mailbox.to("a@example.com")[-1]
    url = notice["List-Unsubscribe"].strip("<>").removeprefix(SITE)

    assert client.get(url).status_code == 200  # a scanner following the link: a button, nothing more
    assert Subscription.objects.count() == 1
    # The mail client's one-click POST (RFC 8058): no session, no CSRF token, just the form field.
    strict = Client(enforce_csrf_checks=True)
    answer = strict.post(url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200
    assert "已退订" in answer.content.decode()
    assert Subscription.objects.count() == 0
    publish("退订之后")
    work()
    assert len(mailbox.to("a@example.com")) == 2  # the confirmation and the one notice
    assert strict.post(url.replace("unsubscribe/", "unsubscribe/x")).status_code == 404


def test_a_member_subscribes_by_api_and_confirms_too(client: Client, mailbox: Mailbox) -> None:
    member = bearer(token_for(user_create("merchant")))
    created = client.post(
        "/api/v1/subscriptions",
        {"channel": "email", "target": "ops@shop.example", "topic": "all", "frequency": "daily"},
        content_type="application/json",
        headers=member,
    )
    assert created.status_code == 201, created.content
    assert created.json() | {"id": 0, "created_at": None, "deliveries_url": ""} == {
        "id": 0, "channel": "email", "target": "ops@shop.example", "topic": "all", "frequency": "daily",
        "language": "zh-hans", "confirmed": False, "active": False, "created_at": None, "disabled_at": None,
        "disabled_reason": "", "deliveries_url": "", "secret": None,
    }  # fmt: skip
    work()
    assert len(mailbox.to("ops@shop.example")) == 1  # the confirmation, to the address named


def digest_subscriber(address: str, topic: str, frequency: str = "daily", language: str = "zh-hans") -> None:
    subscription = services.subscription_create(
        actor=SYSTEM, owner=None, channel="email", target=address, topic=topic, frequency=frequency,
        language=language,
    )  # fmt: skip
    services.subscription_confirm(token=mail.confirm_token(subscription))


def test_daily_digests_one_per_address_across_topics_none_when_empty_none_twice(
    client: Client, mailbox: Mailbox
) -> None:
    shipping = category_create(slug="shipping", name="发货")
    refunds = category_create(slug="refunds", name="退款")
    category_create(slug="other", name="其他")
    monday_9 = datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(monday_9, tick=False):
        digest_subscriber("both@example.com", "all")
        digest_subscriber("both@example.com", "category:shipping")  # two topics, one digest
        digest_subscriber("ship@example.com", "category:shipping")
        digest_subscriber("quiet@example.com", "category:other")
        digest_subscriber("weekly@example.com", "all", frequency="weekly")
    with time_machine.travel(monday_9 + timedelta(hours=2), tick=False):
        publish("发货新规", category=shipping)
        publish("退款新规", category=refunds)
        work()
        assert mailbox.count() == 0  # nothing before the period ends
    with time_machine.travel(datetime(2026, 12, 8, 8, 0, 1, tzinfo=SHANGHAI), tick=False):
        work()
        work()  # a second run (another worker, a repeat) sends nothing more
    (both,) = mailbox.to("both@example.com")
    (ship,) = mailbox.to("ship@example.com")
    assert mailbox.to("weekly@example.com") == []  # its period has not ended
    assert mailbox.to("quiet@example.com") == []  # nothing in its topic: no digest
    assert both["Subject"] == "[规则中心] 每日汇总 2026-12-08：2 条变更"
    assert text_of(both).count("发货新规") == 1
    assert "退款新规" in text_of(both)
    assert "发货新规" in text_of(ship)
    assert "退款新规" not in text_of(ship)
    assert ship["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    run = DigestRun.objects.get(frequency="daily")
    assert (run.digests, run.deliveries, run.finished_at is not None) == (2, 3, True)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded", "pending"}  # weekly waits

    # The next day, no news: no digest at all (never an empty one).
    with time_machine.travel(datetime(2026, 12, 9, 8, 0, 1, tzinfo=SHANGHAI), tick=False):
        services.digest_run(frequency="daily", period_end=datetime(2026, 12, 9, 8, 0, tzinfo=SHANGHAI))
        work()
    assert mailbox.count() == 2
    # The weekly one goes out the next Monday with both items.
    with time_machine.travel(datetime(2026, 12, 14, 8, 0, 1, tzinfo=SHANGHAI), tick=False):
        work()
    (weekly,) = mailbox.to("weekly@example.com")
    assert weekly["Subject"] == "[规则中心] 每周汇总 2026-12-14：2 条变更"


def test_a_digest_cut_short_by_a_dead_worker_is_sent_once_after_its_lease(mailbox: Mailbox) -> None:
    monday_9 = datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(monday_9, tick=False):
        digest_subscriber("a@example.com", "all")
        digest_subscriber("b@example.com", "all")
        publish()
        work()
    end = datetime(2026, 12, 8, 8, 0, tzinfo=SHANGHAI)
    with time_machine.travel(end + timedelta(seconds=1), tick=False):
        # A worker claims a's digest and dies before sending it (SIGKILL between the two transactions).
        run = DigestRun.objects.create(frequency="daily", period_end=end)
        Digest.objects.create(run=run, address="a@example.com", message_id="msg_dead")
        assert services._digest_claim(Digest.objects.get().pk, run, timezone.now()) is not None
        services.digest_run(frequency="daily", period_end=end)  # another run: b now, a is still leased
    assert [len(mailbox.to(address)) for address in ("a@example.com", "b@example.com")] == [0, 1]
    with time_machine.travel(end + timedelta(minutes=2), tick=False):
        work()  # the task queued for the lease's end
        work()
    (mail_a,) = mailbox.to("a@example.com")
    assert mail_a["Message-ID"].startswith("<msg_dead@")  # the id fixed before the first attempt
    assert len(mailbox.to("b@example.com")) == 1
    assert DigestRun.objects.get().finished_at is not None


def test_notices_built_from_one_frame_read_as_messages_built_each_in_full(
    mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch builds one MIME message per event, language and topic and fills each recipient in; over the
    wire every notice must read exactly as the message Django builds for that recipient alone."""
    for address, language in (("a@example.com", "zh-hans"), ("o'brien+rules@example.com", "zh-hans"),
                              ("b@example.com", "en")):  # fmt: skip
        digest_subscriber(address, "all", frequency="immediate", language=language)
    work()  # their confirmations
    publish("《发货规范》更新 <b>&</b>")
    built: list[DjangoEmailMessage] = []
    full = DjangoEmailMessage.message

    def counted(self: DjangoEmailMessage, **kwargs: Any) -> Any:
        built.append(self)
        return full(self, **kwargs)

    monkeypatch.setattr(DjangoEmailMessage, "message", counted)
    work()
    monkeypatch.undo()

    assert len(built) == 2  # one frame for Chinese, one for English: not one message per recipient
    for subscription in Subscription.objects.all():
        delivery = Delivery.objects.get(subscription=subscription)
        received = mailbox.to(subscription.target)[-1]
        alone = mail.event_message(subscription, delivery.event, delivery.message_id)
        expected = email.message_from_bytes(
            alone.message(policy=email.policy.SMTP).as_bytes(), policy=email.policy.default
        )
        for name in ("Subject", "From", "To", "Message-ID", "List-Unsubscribe-Post", "Auto-Submitted",
                     "MIME-Version"):  # fmt: skip
            assert received[name] == expected[name], name
        assert received.get_content_type() == "multipart/alternative"
        assert received["Date"].datetime is not None
        # The unsubscribe token is signed with the second it was made in: the same subscription, though.
        url, url_alone = received["List-Unsubscribe"].strip("<>"), expected["List-Unsubscribe"].strip("<>")
        assert mail.unsubscribe_token_read(url.rstrip("/").rpartition("/")[2]) == [subscription.pk]
        assert url in text_of(received)
        assert f'href="{url}"' in html_of(received)
        assert text_of(received).replace(url, url_alone) == text_of(expected)
        assert html_of(received).replace(url, url_alone) == html_of(expected)
        assert "&lt;b&gt;&amp;&lt;/b&gt;" in html_of(received)

    # An address that cannot go into To: as written is built in full.
    frame = mail.EventMail(Delivery.objects.first().event, "zh-hans", "all")  # type: ignore[union-attr]
    plain = frame.message(Subscription(pk=1, target="a@example.com"), "x")
    unusual = frame.message(Subscription(pk=1, target="a@bücher.example"), "x")
    assert isinstance(plain, mail.EventMessage)
    assert not isinstance(unusual, mail.EventMessage)


def test_a_visitor_subscribes_to_a_search_from_its_page(client: Client, mailbox: Mailbox) -> None:
    page = client.get("/search/", {"q": "发货 时限"}).content.decode()
    found = re.search(r'<a href="(/notifications/subscribe/\?topic=[^"]+)">订阅这个搜索</a>', page)
    assert found is not None, page
    form = client.get(found.group(1)).content.decode()
    assert '<option value="search:发货 时限" selected>搜索：发货 时限</option>' in form
    confirmed(client, mailbox, "s@example.com", topic="search:发货 时限")

    publish("《退款规则》更新", summary="退款时限缩短")
    publish("《发货规范》更新", summary="发货时限改为 48 小时")
    work()
    told = [message["Subject"] for message in mailbox.to("s@example.com")[1:]]  # after the confirmation
    assert told == ["[规则中心] 公告发布：《发货规范》更新"]
    assert "（搜索：发货 时限）" in text_of(mailbox.to("s@example.com")[-1])  # what they subscribed to


def test_a_filtered_search_is_subscribed_to_with_its_filters(client: Client, mailbox: Mailbox) -> None:
    """/search/'s kind, type and category go into the saved search; its dates and "in force" cannot (a
    subscription is about the changes to come), and the page says so."""
    category_create(slug="news", name="新闻")
    page = client.get(
        "/search/", {"q": "发货", "kind": "announcement", "category": "news", "from": "2026-01-01"}
    )
    found = re.search(
        r'<a href="(/notifications/subscribe/\?topic=[^"]+)">订阅这个搜索</a>([^<]*)', page.content.decode()
    )
    assert found is not None, page.content.decode()
    assert "订阅不带日期与“现行有效”条件" in found.group(2)
    form = client.get(html.unescape(found.group(1))).content.decode()
    topic = "search:?q=发货&amp;kind=announcement&amp;category=news"
    assert f'<option value="{topic}" selected>搜索：发货（公告 · 新闻）</option>' in form
    confirmed(client, mailbox, "f@example.com", topic=html.unescape(topic))

    publish("《发货规范》更新", category=category_create(slug="news", name="新闻"))
    publish("《发货规范》解读", category=category_create(slug="guides", name="指南"))  # another section
    work()
    told = [message["Subject"] for message in mailbox.to("f@example.com")[1:]]
    assert told == ["[规则中心] 公告发布：《发货规范》更新"]
    assert "（搜索：发货（公告 · 新闻））" in text_of(mailbox.to("f@example.com")[-1])


def test_english_subscribers_read_english(client: Client, mailbox: Mailbox) -> None:
    digest_subscriber("en@example.com", "all", frequency="immediate", language="en")
    publish("《发货规范》更新")
    work()
    (notice,) = mailbox.to("en@example.com")
    assert notice["Subject"] == "[Rule Center] Announcement published: 《发货规范》更新"
    assert "Unsubscribe" in text_of(notice)


def test_an_address_refused_for_good_ends_its_subscription(mailbox: Mailbox) -> None:
    digest_subscriber(REFUSED, "all", frequency="immediate")
    publish()
    work()
    subscription = Subscription.objects.get()
    assert subscription.disabled_at is not None
    assert subscription.disabled_reason == "收件服务器拒收这个地址"
    assert Delivery.objects.get().status == "failed"
    assert Delivery.objects.get().error.startswith("SMTPRecipientsRefused")


def test_bad_addresses_are_refused_on_the_page_and_store_nothing(client: Client, mailbox: Mailbox) -> None:
    for bad in ("not-an-address", "a@", "x" * 300 + "@example.com"):
        page = visitor_subscribes(client, bad)
        assert page.status_code == 422
        assert "有效的电子邮件地址" in page.content.decode()
    page = visitor_subscribes(client, "a@example.com", topic="rule:no-such-rule")
    assert page.status_code == 422
    assert "没有标识为“no-such-rule”的公开规则" in page.content.decode()
    assert Subscription.objects.count() == 0


def test_subscribing_again_only_sends_the_confirmation_again(client: Client, mailbox: Mailbox) -> None:
    visitor_subscribes(client, "a@example.com")
    visitor_subscribes(client, "a@example.com")
    work()
    assert Subscription.objects.count() == 1
    assert len(mailbox.to("a@example.com")) == 2


def test_subscribing_is_rate_limited_per_client(client: Client, mailbox: Mailbox, settings: Settings) -> None:
    settings.RULECENTER_SUBSCRIBE_RATE = "2/h"
    assert visitor_subscribes(client, "a@example.com").status_code == 200
    assert visitor_subscribes(client, "b@example.com").status_code == 200
    limited = visitor_subscribes(client, "c@example.com")
    assert limited.status_code == 429
    assert "Retry-After" in limited
    assert Subscription.objects.count() == 2


def test_a_signed_in_member_s_subscription_is_their_own(client: Client, mailbox: Mailbox) -> None:
    user = user_create("merchant")
    client.force_login(user)
    assert visitor_subscribes(client, "ops@shop.example").status_code == 200
    subscription = Subscription.objects.get()
    assert subscription.owner == user
    work()
    assert len(mailbox.to("ops@shop.example")) == 1  # the confirmation: still the address's owner decides
    assert subscription.confirmed_at is None
