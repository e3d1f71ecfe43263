"""Chat robots end to end: subscribed through the API, told by the worker, checked by local receivers that
verify as DingTalk, WeCom and Feishu do (test_robots.py), and never more than 20 messages a minute each."""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.tests.factories import approved_draft
from rulecenter.common.actors import SYSTEM
from rulecenter.notifications.models import Delivery, RobotSend, Subscription

from .test_robots import DINGTALK_SECRET, FEISHU_SECRET, HOOK, TOKEN, WECOM_KEY, Platforms
from .test_robots import platforms as platforms  # the fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def loopback_allowed(settings: Settings) -> None:
    settings.RULECENTER_WEBHOOK_ALLOW_PRIVATE = True  # the "platforms" listen on loopback
    settings.RULECENTER_WEBHOOK_TIMEOUT_SECONDS = 5


def work() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def publish(title: str) -> None:
    announcement_services.announcement_publish(actor=SYSTEM, announcement=approved_draft(title=title))


def subscribe(client: Client, headers: dict[str, str], channel: str, target: str, secret: str = "") -> Any:
    body = {"channel": channel, "target": target, "topic": "all", "robot_secret": secret}
    return client.post("/api/v1/subscriptions", body, content_type="application/json", headers=headers)


def test_each_robot_is_told_signed_as_its_platform_checks(client: Client, platforms: Platforms) -> None:
    member = bearer(token_for(user_create("merchant")))
    targets = {
        "dingtalk": (f"{platforms.base}/robot/send?access_token={TOKEN}", DINGTALK_SECRET),
        "wecom": (f"{platforms.base}/cgi-bin/webhook/send?key={WECOM_KEY}", ""),
        "feishu": (f"{platforms.base}/open-apis/bot/v2/hook/{HOOK}", FEISHU_SECRET),
    }
    for channel, (target, secret) in targets.items():
        created = subscribe(client, member, channel, target, secret)
        assert created.status_code == 201, created.content
        assert created.json()["secret"].startswith("whsec_")
        assert created.json()["active"] is True
    publish("《发货规范》更新")
    work()
    assert sorted(path.split("/")[1] for path, _body in platforms.received) == [
        "cgi-bin",
        "open-apis",
        "robot",
    ]
    assert all("《发货规范》更新" in str(body) for _path, body in platforms.received)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_wrong_robot_secret_is_a_failure_with_the_platform_s_reason(
    client: Client, platforms: Platforms
) -> None:
    member = bearer(token_for(user_create("merchant")))
    subscribe(client, member, "dingtalk", f"{platforms.base}/robot/send?access_token={TOKEN}", "SECwrong")
    publish("《发货规范》更新")
    work()
    delivery = Delivery.objects.get()
    assert platforms.received == []
    assert delivery.status == "pending"  # retried on the schedule
    assert delivery.response_status == 200
    assert "sign not match" in delivery.error


def test_a_robot_never_gets_more_than_twenty_a_minute_and_nothing_is_lost(
    client: Client, platforms: Platforms
) -> None:
    member = bearer(token_for(user_create("merchant")))
    target = f"{platforms.base}/cgi-bin/webhook/send?key={WECOM_KEY}"
    subscribe(client, member, "wecom", target)
    # Another account's subscription of the same robot: the limit is the robot's, not each subscription's.
    Subscription.objects.create(
        owner=user_create("colleague"),
        channel="wecom",
        target=target,
        topic="all",
        confirmed_at=timezone.now(),
    )
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        for number in range(12):
            publish(f"公告 {number}")  # 12 events x 2 subscriptions = 24 messages to one robot
        work()
        assert len(platforms.received) == 20
        waiting = Delivery.objects.filter(status="pending")
        assert waiting.count() == 4
        first_free = min(at for at in waiting.values_list("next_attempt_at", flat=True) if at is not None)
        first_sent = min(RobotSend.objects.values_list("sent_at", flat=True))
        assert first_free == first_sent + timedelta(seconds=60, milliseconds=100)  # the oldest's minute is up
    # A second after the first slot frees up (not a fixed time after `start`: publishing twelve on a busy
    # PostgreSQL can take seconds, and the first send with it).
    with time_machine.travel(first_free + timedelta(seconds=1), tick=True):
        work()
    assert len(platforms.received) == 24
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
    sends = sorted(RobotSend.objects.values_list("sent_at", flat=True))
    assert len(sends) == 24
    assert all(
        later - earlier >= timedelta(seconds=60) for earlier, later in zip(sends, sends[20:], strict=False)
    )
