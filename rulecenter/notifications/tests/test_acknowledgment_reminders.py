"""Reminders before a change that asks for acknowledgment takes effect: by e-mail, to the members who have
not acknowledged it and have an address, each once — read from a real SMTP server."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from rulecenter.accounts.roles import actor_for
from rulecenter.common.actors import SYSTEM
from rulecenter.consultations.tests.factories import member_create
from rulecenter.rules import services as rule_services
from rulecenter.rules.models import AcknowledgmentReminder
from rulecenter.rules.tests.factories import rule_create, shanghai

from .test_email import Mailbox, text_of, work
from .test_email import mailbox as mailbox  # the fixture

pytestmark = pytest.mark.django_db(transaction=True)

NOTICE = shanghai(2026, 3, 1, 10)
EFFECTIVE = NOTICE + timedelta(days=16)


def test_members_who_have_not_acknowledged_are_reminded_once_before_it_takes_effect(
    client: Client, mailbox: Mailbox
) -> None:
    with time_machine.travel(NOTICE - timedelta(days=1), tick=False):
        rule = rule_create(slug="shipping", title="发货规范")
        version = rule_services.rule_version_create(
            actor=SYSTEM, rule=rule, text="第一条 发货时限为24小时。", major=True, acknowledgment_required=True,
            summary="发货时限缩短为24小时",
        )  # fmt: skip
        version = rule_services.rule_version_schedule(
            actor=SYSTEM, version=version, notice_at=NOTICE, effective_at=EFFECTIVE
        )
        done, waiting, silent = member_create("done"), member_create("waiting"), member_create("silent")
        english = member_create("english")
        for member in (done, waiting, english):
            member.user.email = f"{member.user.username}@shop.example"
            member.user.save()
        client.force_login(english.user)  # chooses English on /me/
        assert client.post("/me/language/", {"language": "en"}).status_code == 302
        work()
    with time_machine.travel(NOTICE + timedelta(days=1), tick=False):
        work()  # the notice: nothing yet to remind of
        rule_services.acknowledgment_record(actor=actor_for(done.user), user=done.user, version=version)
    assert mailbox.count() == 0
    with time_machine.travel(EFFECTIVE - timedelta(hours=72) + timedelta(seconds=1), tick=False):
        work()
        work()  # once each, however many runs
    (reminder,) = mailbox.to("waiting@shop.example")
    (in_english,) = mailbox.to("english@shop.example")
    assert mailbox.count() == 2  # not the one who acknowledged, not the one without an address
    assert in_english["Subject"] == (
        "[Rule Center] Please acknowledge: version 1 of “发货规范” takes effect on 2026-03-17 10:00"
    )
    assert not AcknowledgmentReminder.objects.filter(user=silent.user).exists()
    assert reminder["Subject"] == "[规则中心] 请确认：《发货规范》第 1 版将于 2026-03-17 10:00 生效"
    assert "/rules/shipping/versions/1/acknowledge/" in text_of(reminder)
    reminded = AcknowledgmentReminder.objects.values_list("user__username", flat=True)
    assert sorted(reminded) == ["english", "waiting"]
