"""Webhooks end to end: a subscriber's real HTTP receiver, checked with the `standardwebhooks` package.

The worker runs as in production (`rulecenter db_worker`, once); the receiver is a real server on
loopback, which the tests allow (`RULECENTER_WEBHOOK_ALLOW_PRIVATE`) except where they check the refusal.
"""

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.fixtures import Settings
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from rulecenter.accounts import services as account_services
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.tests.factories import approved_draft, category_create
from rulecenter.common import outbound
from rulecenter.common.actors import SYSTEM
from rulecenter.notifications import services, webhooks
from rulecenter.notifications.models import Delivery, Event, Subscription
from rulecenter.rules.lifecycle import lifecycle_run_due
from rulecenter.rules.tests.factories import rule_create, scheduled_version

pytestmark = pytest.mark.django_db(transaction=True)  # the worker commits and closes, as in production

API = "/api/v1/subscriptions"


@dataclass
class Receiver:
    """A webhook endpoint: records each request and answers the next status of `answers` (then 200)."""

    url: str
    answers: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            if status in (429, 503):
                self.send_header("Retry-After", "120")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/rules"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def loopback_allowed(settings: Settings) -> None:
    settings.RULECENTER_WEBHOOK_ALLOW_PRIVATE = True
    settings.RULECENTER_WEBHOOK_TIMEOUT_SECONDS = 5


def services_token(user: Any) -> str:
    """A read-only token, as a partner's software holds."""
    _record, token = account_services.api_token_create(actor=SYSTEM, user=user, roles=[])
    return token


def work() -> None:
    """What `rulecenter db_worker` does, once: every task whose time has come."""
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def subscribe(client: Client, headers: dict[str, str], **body: str) -> Any:
    return client.post(
        API, {"channel": "webhook", "topic": "all", **body}, content_type="application/json", headers=headers
    )


def publish(title: str = "《发货规范》更新", **fields: Any) -> None:
    draft = approved_draft(title=title, **fields)
    announcement_services.announcement_publish(actor=SYSTEM, announcement=draft)


def test_publishing_reaches_a_subscriber_signed_as_standard_webhooks_says(
    client: Client, receiver: Receiver
) -> None:
    partner = bearer(services_token(user_create("erp-partner")))  # a read-only partner token
    created = subscribe(client, partner, target=receiver.url)
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in client.get(API, headers=partner).json()["items"][0]  # shown once

    publish()
    assert receiver.received == []  # no web request waits for a delivery
    work()

    ((headers, body),) = receiver.received
    payload = Webhook(secret).verify(body, headers)  # the independent verifier accepts it
    assert payload["type"] == "announcement.published"
    assert payload["data"]["title"] == "《发货规范》更新"
    assert payload["data"]["url"].startswith("http://127.0.0.1:8000/news/")
    assert headers["webhook-id"].startswith("msg_")

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("发货".encode(), "退货".encode()), headers)  # tampered
    with time_machine.travel(timezone.now() + timedelta(minutes=6)), pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)  # replayed six minutes later

    log = client.get(f"{API}/{created.json()['id']}/deliveries", headers=partner).json()
    assert log["count"] == 1
    assert log["items"][0] | {"latency_ms": 0, "last_attempt_at": None, "occurred_at": None} == {
        "message_id": headers["webhook-id"], "event": "announcement.published", "status": "succeeded",
        "attempts": 1, "response_status": 200, "error": "", "next_attempt_at": None,
        "latency_ms": 0, "last_attempt_at": None, "occurred_at": None,
    }  # fmt: skip


def test_a_failed_attempt_is_retried_with_the_same_id_until_it_succeeds(
    client: Client, receiver: Receiver
) -> None:
    member = bearer(token_for(user_create("merchant")))
    assert subscribe(client, member, target=receiver.url).status_code == 201
    receiver.answers = [500, 503]
    publish()
    work()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, 500)
    assert delivery.next_attempt_at is not None
    assert delivery.last_attempt_at is not None
    first_retry = delivery.next_attempt_at - delivery.last_attempt_at
    assert timedelta(seconds=4) <= first_retry <= timedelta(seconds=6)  # 5 s ± 20%

    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1)):
        work()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 2, 503)
    assert delivery.next_attempt_at - delivery.last_attempt_at >= timedelta(seconds=120)  # Retry-After: 120

    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1)):
        work()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    assert len({headers["webhook-id"] for headers, _body in receiver.received}) == 1
    assert len(receiver.received) == 3


def test_410_gone_disables_the_subscription_and_nothing_more_is_sent(
    client: Client, receiver: Receiver
) -> None:
    member = bearer(token_for(user_create("merchant")))
    subscription_id = subscribe(client, member, target=receiver.url).json()["id"]
    receiver.answers = [410]
    publish("第一条")
    work()
    listed = client.get(API, headers=member).json()["items"][0]
    assert listed["active"] is False
    assert "410" in listed["disabled_reason"]
    assert Delivery.objects.get().status == "failed"

    publish("第二条")
    work()
    assert len(receiver.received) == 1
    assert Delivery.objects.count() == 1

    message_id = Delivery.objects.get().message_id
    again = client.post(f"{API}/{subscription_id}/deliveries/{message_id}/redeliver", headers=member)
    assert again.status_code == 202
    work()
    assert [headers["webhook-id"] for headers, _body in receiver.received] == [message_id, message_id]
    assert client.get(API, headers=member).json()["items"][0]["active"] is True


def test_only_subscribers_of_the_topic_hear_of_it(client: Client, receiver: Receiver) -> None:
    category_create(slug="shipping", name="发货")
    category_create(slug="refunds", name="退款")
    member = bearer(token_for(user_create("merchant")))
    assert subscribe(client, member, target=receiver.url, topic="category:shipping").status_code == 201
    publish("退款规则", category=category_create(slug="refunds"))
    work()
    assert receiver.received == []
    publish("发货规则", category=category_create(slug="shipping"))
    work()
    ((_headers, body),) = receiver.received
    assert json.loads(body)["data"]["category"] == "shipping"


def test_a_saved_search_hears_of_the_changes_its_words_find(client: Client, receiver: Receiver) -> None:
    """`search:<query>`: told of a change whose title or summary has every word of the query (and each
    quoted phrase as written), as /search/ requires of a document."""
    member = bearer(token_for(user_create("merchant")))
    for query in ("发货 时限", '"发货规范"'):
        created = subscribe(client, member, target=f"{receiver.url}?q={len(query)}", topic=f"search:{query}")
        assert created.status_code == 201, created.content
    assert client.get(API, headers=member).json()["items"][0]["topic"] == "search:发货 时限"

    publish("《退款规则》更新", summary="退款时限缩短")  # neither: no 发货
    publish("《发货规范》更新", summary="发货时限改为 48 小时")  # both
    publish("发货管理办法", summary="新增规范条款")  # 发货 without 时限, and not the phrase 发货规范
    work()

    told = sorted(
        (headers["webhook-id"], json.loads(body)["data"]["title"]) for headers, body in receiver.received
    )
    assert [title for _id, title in told] == ["《发货规范》更新", "《发货规范》更新"]
    assert len({webhook_id for webhook_id, _title in told}) == 2  # one delivery to each subscription


def test_a_change_rolled_back_tells_no_one(client: Client, receiver: Receiver) -> None:
    member = bearer(token_for(user_create("merchant")))
    assert subscribe(client, member, target=receiver.url).status_code == 201
    draft = approved_draft(title="撤销的发布")

    class Undone(Exception):
        pass

    def publish_then_fail() -> None:
        with transaction.atomic():
            announcement_services.announcement_publish(actor=SYSTEM, announcement=draft)
            raise Undone

    with pytest.raises(Undone):
        publish_then_fail()
    work()
    assert (Event.objects.count(), receiver.received) == (0, [])


def test_an_internal_address_is_refused_unless_allowed(
    client: Client, receiver: Receiver, settings: Settings
) -> None:
    settings.RULECENTER_WEBHOOK_ALLOW_PRIVATE = False
    member = bearer(token_for(user_create("merchant")))
    refused = subscribe(client, member, target=receiver.url)
    assert refused.status_code == 422
    assert "内部或保留地址" in json.dumps(refused.json(), ensure_ascii=False)
    for url in (
        "http://10.1.2.3/",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data",
        "ftp://example.com/",
    ):
        with pytest.raises(outbound.TargetRefused):
            webhooks.url_check(url)
    # A name resolving to loopback passes the form check and is refused when it is resolved, unsent.
    hostname_url = receiver.url.replace("127.0.0.1", "localhost")
    outcome = webhooks.post(hostname_url, body=b"{}", headers={})
    assert outcome.status is None
    assert "内部或保留地址" in outcome.error
    assert receiver.received == []


def test_subscriptions_are_their_owner_s_alone(client: Client, receiver: Receiver) -> None:
    alice = bearer(token_for(user_create("alice")))
    bob = bearer(token_for(user_create("bob")))
    mine = subscribe(client, alice, target=receiver.url).json()["id"]
    assert client.get(API, headers=bob).json() == {"count": 0, "items": []}
    assert client.get(f"{API}/{mine}/deliveries", headers=bob).status_code == 404
    assert client.delete(f"{API}/{mine}", headers=bob).status_code == 404
    assert client.delete(f"{API}/{mine}", headers=alice).status_code == 204
    assert not Subscription.objects.exists()
    assert client.get(API).status_code == 401


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"channel": "email", "target": "not-an-address"}, "target", "不是有效的电子邮件地址"),
        ({"channel": "dingtalk", "target": "https://example.com/not-a-robot"}, "target", "钉钉"),
        ({"target": "https://example.com/h", "robot_secret": "SEC1"}, "robot_secret", "只有钉钉和飞书"),
        (
            {"target": "https://example.com/h", "topic": "rule:no-such-rule"},
            "topic",
            "没有标识为“no-such-rule”的公开规则",
        ),
        ({"target": "https://example.com/h", "topic": "weird"}, "topic", "主题“weird”无效"),
        ({"target": "https://example.com/h", "topic": "search:"}, "topic", "至少一个检索词"),
        ({"target": "https://example.com/h", "topic": "search: ，。"}, "topic", "至少一个检索词"),
        ({"target": "https://example.com/h", "topic": "search:" + "发" * 74}, "topic", "最长 73 个字符"),
        ({"target": "https://example.com/h", "topic": "search:" + "发" * 194}, "topic", "最多 200 个字符"),
        (
            {"target": "https://example.com/h", "topic": "search:?q=发货&when=today"},
            "topic",
            "只能带这些条件",
        ),
        ({"target": "https://example.com/h", "topic": "search:?q=发货&q=退款"}, "topic", "只能带这些条件"),
        ({"target": "https://example.com/h", "topic": "search:?q=发货&kind=both"}, "topic", "类型“both”无效"),
        ({"target": "https://example.com/h", "topic": "search:?type=memo"}, "topic", "细分类型“memo”无效"),
        ({"target": "https://example.com/h", "topic": "search:?category=nope"}, "topic", "“nope”不存在"),
        ({"target": "https://example.com/h", "topic": "search:?q=，。&kind=rule"}, "topic", "至少一个检索词"),
        ({"target": "https://example.com/h", "topic": "search:?q="}, "topic", "至少一个检索词"),
        ({"target": "https://example.com/h", "frequency": "daily"}, "frequency", "只能是 immediate"),
        ({"target": "https://user:pw@example.com/h"}, "target", "不能带用户名或密码"),
    ],
)
def test_bad_subscriptions_are_refused_with_the_reason_and_store_nothing(
    client: Client, body: dict[str, str], field: str, message: str
) -> None:
    member = bearer(token_for(user_create("merchant")))
    refused = subscribe(client, member, **body)
    assert refused.status_code == 422, refused.content
    errors = {error["loc"][-1]: error["msg"] for error in refused.json()["errors"]}
    assert message in errors[field]
    assert not Subscription.objects.exists()


def test_a_saved_search_too_long_for_its_topic_is_refused_by_the_service_too() -> None:
    """The API and the form stop at 200 characters; the service says why for any other caller."""
    with pytest.raises(ValidationError) as refused:
        services.subscription_create(
            actor=SYSTEM, owner=user_create("merchant"), channel="webhook", target="https://example.com/h",
            topic="search:" + "发" * 194, frequency="immediate",
        )  # fmt: skip
    assert refused.value.message_dict == {"topic": ["保存的搜索最长 193 个字符。"]}
    assert not Subscription.objects.exists()


def test_fan_out_runs_once_per_event_whatever_the_repeats(receiver: Receiver) -> None:
    owner = user_create("merchant")
    for n in range(3):
        services.subscription_create(
            actor=SYSTEM,
            owner=owner,
            channel="webhook",
            target=f"{receiver.url}?n={n}",
            topic="all",
            frequency="immediate",
        )
    with transaction.atomic():
        event = services.event_record(type="announcement.published", topics=[], data={"title": "x"})
    assert event is not None
    assert services.event_fan_out(event_id=event.pk) == 3
    assert services.event_fan_out(event_id=event.pk) == 0
    work()
    assert Delivery.objects.filter(status="succeeded").count() == 3
    assert len(receiver.received) == 3


def test_refusals_speak_english_when_asked(client: Client) -> None:
    member = {**bearer(token_for(user_create("merchant"))), "Accept-Language": "en"}
    refused = subscribe(client, member, channel="email", target="not-an-address")
    errors = {error["loc"][-1]: error["msg"] for error in refused.json()["errors"]}
    assert errors["target"] == "“not-an-address” is not a valid e-mail address."


def test_a_rule_change_is_told_at_its_notice_and_when_it_takes_effect(
    client: Client, receiver: Receiver
) -> None:
    notice_at = timezone.now() + timedelta(hours=1)
    with time_machine.travel(notice_at - timedelta(days=1)):
        rule = rule_create(slug="shipping")
        other = rule_create(slug="refunds", title="退款规则")
        scheduled_version(rule, notice_at=notice_at, days=8)
        scheduled_version(other, notice_at=notice_at, days=8)
        member = bearer(token_for(user_create("merchant")))
        # Only public rules can be subscribed to by name: before its notice "shipping" is not one yet.
        assert subscribe(client, member, target=receiver.url, topic="rule:shipping").status_code == 422
    with time_machine.travel(notice_at + timedelta(seconds=1)):
        lifecycle_run_due()
        assert subscribe(client, member, target=receiver.url, topic="rule:shipping").status_code == 201
    with time_machine.travel(notice_at + timedelta(days=8, seconds=1)):
        lifecycle_run_due()
        work()
    types = [json.loads(body)["type"] for _headers, body in receiver.received]
    assert types == ["rule.effective"]  # subscribed after the notice; the other rule never
    data = json.loads(receiver.received[0][1])["data"]
    assert (data["rule"], data["version"]) == ("shipping", 1)
    assert data["version_url"] == "http://127.0.0.1:8000" + reverse("rules:version", args=["shipping", 1])


def test_redelivery_of_an_unknown_or_someone_else_s_delivery_is_a_404_and_sends_nothing(
    client: Client, receiver: Receiver
) -> None:
    alice = bearer(token_for(user_create("alice")))
    bob = bearer(token_for(user_create("bob")))
    mine = subscribe(client, alice, target=receiver.url).json()["id"]
    publish()
    work()
    message_id = Delivery.objects.get().message_id
    assert client.post(f"{API}/{mine}/deliveries/msg_nothing/redeliver", headers=alice).status_code == 404
    assert client.post(f"{API}/{mine}/deliveries/{message_id}/redeliver", headers=bob).status_code == 404
    work()
    assert len(receiver.received) == 1
    assert Delivery.objects.get().attempts == 1


def test_a_batch_slower_than_its_lease_keeps_holding_what_it_has_not_sent(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch claims all its deliveries at once; one that takes longer than the lease (each endpoint as
    slow as the timeout allows) must renew it, or its safety net would send the last ones a second time."""
    owner = user_create("merchant")
    for n in range(10):
        services.subscription_create(
            actor=SYSTEM, owner=owner, channel="webhook", target=f"{receiver.url}?n={n}", topic="all",
            frequency="immediate",
        )  # fmt: skip
    with transaction.atomic():
        event = services.event_record(type="announcement.published", topics=[], data={"title": "x"})
    assert event is not None
    services.event_fan_out(event_id=event.pk)
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    send, slowest = services._send, services._lease() - services.LEASE_MARGIN
    taken_by_safety_net: list[int] = []

    with time_machine.travel(timezone.now(), tick=False) as traveller:

        def slow(delivery: Delivery, *args: Any) -> services.Attempt:
            attempt = send(delivery, *args)
            traveller.shift(slowest)
            # The batch's safety net, if it ran now, would find nothing of it to send.
            taken, _robots = services._claim_batch(ids, timezone.now())
            taken_by_safety_net.extend(delivery.pk for delivery in taken)
            return attempt

        monkeypatch.setattr(services, "_send", slow)
        assert services.deliveries_attempt(delivery_ids=ids) == 10

    assert taken_by_safety_net == []
    assert len(receiver.received) == 10
    assert len({headers["webhook-id"] for headers, _body in receiver.received}) == 10
    assert set(Delivery.objects.values_list("status", "attempts")) == {("succeeded", 1)}
