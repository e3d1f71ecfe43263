"""Consultations told on time: opening, 24 hours before closing, closed — by the worker, once each, to the
subscribers of the consultation, of the rules it consults on and of everything."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.announcements import services as announcement_services
from rulecenter.common.actors import SYSTEM
from rulecenter.consultations import services as consultation_services
from rulecenter.consultations.tests.factories import consultation_create, draft_version
from rulecenter.notifications.models import Event
from rulecenter.rules.tests.factories import shanghai

from .test_webhooks import Receiver, subscribe, work
from .test_webhooks import loopback_allowed as loopback_allowed  # the fixture
from .test_webhooks import receiver as receiver  # the fixture

pytestmark = pytest.mark.django_db(transaction=True)

NOW = shanghai(2026, 12, 1, 9)
OPENS = shanghai(2026, 12, 1, 10)
CLOSES = shanghai(2026, 12, 9, 18)


def told(receiver: Receiver) -> list[str]:
    return [json.loads(body)["type"] for _headers, body in receiver.received]


def test_a_consultation_is_told_when_it_opens_a_day_before_it_closes_and_when_it_closes(
    client: Client, receiver: Receiver
) -> None:
    with time_machine.travel(NOW, tick=False):
        consultation = consultation_create(
            versions=[draft_version("shipping")], opens_at=OPENS, closes_at=CLOSES
        )
        member = bearer(token_for(user_create("merchant")))
        assert subscribe(client, member, target=receiver.url, topic="rule:shipping").status_code == 201
        # Not public before it opens: nobody can follow it by number yet.
        early = subscribe(client, member, target=receiver.url + "?c", topic=f"consultation:{consultation.pk}")
        assert early.status_code == 422
        assert f"没有编号为 {consultation.pk} 的公开意见征集" in early.content.decode()
        work()
    assert told(receiver) == []

    with time_machine.travel(OPENS + timedelta(seconds=1), tick=False):
        work()
        work()  # a repeat raises nothing twice
        assert told(receiver) == ["consultation.opened"]
        follower = subscribe(
            client, member, target=receiver.url + "?c", topic=f"consultation:{consultation.pk}"
        )
        assert follower.status_code == 201, follower.content

    with time_machine.travel(CLOSES - timedelta(hours=24) + timedelta(seconds=1), tick=False):
        work()
    assert told(receiver) == ["consultation.opened", "consultation.closing", "consultation.closing"]
    closing = json.loads(receiver.received[-1][1])["data"]
    assert closing["title"] == consultation.title
    assert closing["rules"] == ["shipping"]
    assert closing["url"].endswith(f"/consultations/{consultation.pk}/")

    with time_machine.travel(CLOSES + timedelta(seconds=1), tick=False):
        work()
    assert told(receiver)[-2:] == ["consultation.closed", "consultation.closed"]

    # The platform publishes its result report: told as the consultation's result, once, to both.
    consultation.refresh_from_db()
    report = consultation.result_announcement
    assert report is not None
    with time_machine.travel(CLOSES + timedelta(hours=2), tick=False):
        report = announcement_services.announcement_approve(actor=SYSTEM, announcement=report)
        announcement_services.announcement_publish(actor=SYSTEM, announcement=report)
        work()
    assert told(receiver)[-2:] == ["consultation.result_published", "consultation.result_published"]
    assert len(receiver.received) == 7
    result = json.loads(receiver.received[-1][1])["data"]
    assert result["url"].endswith(f"/news/{report.pk}/")
    assert Event.objects.filter(type__startswith="consultation.").count() == 4
    assert not Event.objects.filter(type="announcement.published").exists()


def test_a_window_moved_before_its_time_is_told_at_its_new_time_only(
    client: Client, receiver: Receiver
) -> None:
    with time_machine.travel(NOW, tick=False):
        consultation = consultation_create(
            versions=[draft_version("shipping")], opens_at=OPENS, closes_at=CLOSES
        )
        member = bearer(token_for(user_create("merchant")))
        subscribe(client, member, target=receiver.url, topic="all")
        work()
    later = CLOSES + timedelta(days=2)
    with time_machine.travel(OPENS + timedelta(hours=1), tick=False):
        work()
        consultation_services.consultation_update(
            actor=SYSTEM, consultation=consultation, title=consultation.title, explanation="",
            opens_at=OPENS, closes_at=later,
        )  # fmt: skip
    with time_machine.travel(CLOSES - timedelta(hours=23), tick=False):
        work()  # the first closing time has passed: its task finds the window moved and says nothing
    assert told(receiver) == ["consultation.opened"]
    with time_machine.travel(later - timedelta(hours=23), tick=False):
        work()
    assert told(receiver) == ["consultation.opened", "consultation.closing"]


def test_a_past_consultation_recorded_after_the_fact_tells_no_one(client: Client, receiver: Receiver) -> None:
    member = bearer(token_for(user_create("merchant")))
    subscribe(client, member, target=receiver.url, topic="all")
    consultation_create(versions=[draft_version("shipping")])  # held in January 2025, recorded now
    work()
    assert told(receiver) == []
