"""Acknowledgments: a major change may ask each member for an explicit 我已阅读并知悉 — never pre-ticked, never
implied by a visit, written once (the database refuses rewriting it), on the page and through the API."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.common.actors import SYSTEM
from rulecenter.consultations.tests.factories import member_create
from rulecenter.rules import services
from rulecenter.rules.models import Acknowledgment, RuleVersion
from rulecenter.rules.tests.factories import rule_create, shanghai

pytestmark = pytest.mark.django_db

NOTICE = shanghai(2026, 3, 1, 10)
EFFECTIVE = NOTICE + timedelta(days=16)
DURING = NOTICE + timedelta(days=2)
PAGE = "/rules/shipping/versions/1/acknowledge/"
API = "/api/v1/rules/shipping/versions/1/acknowledgment"


def asking_version(*, required: bool = True) -> RuleVersion:
    with time_machine.travel(NOTICE - timedelta(days=1)):
        rule = rule_create(slug="shipping", title="发货规范")
        version = services.rule_version_create(
            actor=SYSTEM,
            rule=rule,
            text="第一条 发货时限为24小时。",
            major=True,
            acknowledgment_required=required,
        )
        return services.rule_version_schedule(
            actor=SYSTEM, version=version, notice_at=NOTICE, effective_at=EFFECTIVE
        )


def test_only_a_major_change_can_ask_for_it_in_the_service_and_the_database() -> None:
    rule = rule_create(slug="shipping")
    with pytest.raises(ValidationError) as refused:
        services.rule_version_create(
            actor=SYSTEM, rule=rule, text="第一条 甲。", acknowledgment_required=True
        )
    assert "只有重大变更可以要求商家确认" in str(refused.value)
    version = services.rule_version_create(actor=SYSTEM, rule=rule, text="第一条 甲。")
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleVersion.objects.filter(pk=version.pk).update(acknowledgment_required=True)
    assert RuleVersion.objects.get(pk=version.pk).acknowledgment_required is False


def test_the_page_asks_with_an_unticked_box_and_a_visit_records_nothing(client: Client) -> None:
    asking_version()
    member = member_create()
    client.force_login(member.user)
    with time_machine.travel(DURING):
        page = client.get(PAGE)
        assert page.status_code == 200
        html = page.content.decode()
        assert 'name="acknowledge" value="yes" required>' in html  # not checked
        assert "checked" not in html.split('name="acknowledge"')[1].split(">")[0]
        assert Acknowledgment.objects.count() == 0

        unticked = client.post(PAGE, {})
        assert unticked.status_code == 422
        assert "请勾选“我已阅读并知悉”" in unticked.content.decode()
        assert Acknowledgment.objects.count() == 0

        done = client.post(PAGE, {"acknowledge": "yes"})
        assert done.status_code == 303
        assert "您已于 2026-03-03 10:00 确认" in client.get(PAGE).content.decode()
        client.post(PAGE, {"acknowledge": "yes"})
    (acknowledgment,) = Acknowledgment.objects.all()
    assert (acknowledgment.user, acknowledgment.version.number) == (member.user, 1)


def test_no_acknowledging_before_the_notice_or_of_a_change_that_does_not_ask(client: Client) -> None:
    asking_version()
    other = asking_version_other()
    member = member_create()
    client.force_login(member.user)
    with time_machine.travel(NOTICE - timedelta(hours=1)):
        assert client.get(PAGE).status_code == 404  # not public yet
        assert client.post(PAGE, {"acknowledge": "yes"}).status_code == 404
    with pytest.raises(ValidationError, match="不需要确认"):
        services.acknowledgment_record(actor=actor_for(member.user), user=member.user, version=other)
    assert Acknowledgment.objects.count() == 0


def test_only_members_acknowledge(client: Client) -> None:
    asking_version()
    client.force_login(user_create("editor", roles=(Role.EDITOR,)))
    with time_machine.travel(DURING):
        assert "只有会员账户需要确认" in client.get(PAGE).content.decode()
        refused = client.post(PAGE, {"acknowledge": "yes"})
        assert refused.status_code == 403
    assert Acknowledgment.objects.count() == 0
    anonymous = Client()
    with time_machine.travel(DURING):
        assert anonymous.post(PAGE, {"acknowledge": "yes"}).status_code == 302


def test_the_database_keeps_the_ledger_as_written() -> None:
    version = asking_version()
    member = member_create()
    with time_machine.travel(DURING):
        acknowledgment, created = services.acknowledgment_record(
            actor=actor_for(member.user), user=member.user, version=version
        )
    assert created
    for statement in (
        "UPDATE rules_acknowledgment SET acknowledged_at = acknowledged_at",
        "DELETE FROM rules_acknowledgment",
    ):
        with pytest.raises(Exception, match="cannot be changed or deleted"), transaction.atomic():
            connection.cursor().execute(statement)
    other = asking_version_other()
    with pytest.raises(Exception, match="does not ask"), transaction.atomic():
        Acknowledgment.objects.create(version=other, user=member.user, acknowledged_at=DURING)
    assert Acknowledgment.objects.get() == acknowledgment


def asking_version_other() -> RuleVersion:
    rule = rule_create(slug="refunds", title="退款规则")
    return services.rule_version_create(actor=SYSTEM, rule=rule, text="第一条 乙。", major=True)


def test_the_api_for_members_and_the_ledger_for_staff(client: Client) -> None:
    asking_version()
    member = member_create()
    token = bearer(token_for(member.user))
    with time_machine.travel(DURING):
        mine = client.get("/api/v1/acknowledgments", headers=token).json()
        assert [(p["rule"], p["version"]) for p in mine["pending"]] == [("shipping", 1)]
        assert mine["pending"][0]["acknowledge_url"].endswith(API)
        assert mine["done"] == []

        first = client.post(API, headers=token)
        assert first.status_code == 201, first.content
        again = client.post(API, headers=token)
        assert again.status_code == 200
        assert again.json()["acknowledged_at"] == first.json()["acknowledged_at"]
        mine = client.get("/api/v1/acknowledgments", headers=token).json()
        assert mine["pending"] == []
        assert [(d["rule"], d["version"]) for d in mine["done"]] == [("shipping", 1)]

        ledger_url = "/api/v1/rules/shipping/versions/1/acknowledgments"
        assert client.get(ledger_url, headers=token).status_code == 403  # a member does not read others'
        staff = bearer(token_for(user_create("editor", roles=(Role.EDITOR,))))
        ledger = client.get(ledger_url, headers=staff).json()
        assert ledger["count"] == 1
        assert ledger["items"][0]["member"] == member.user.get_username()
        assert client.post(API, headers=staff).status_code == 403  # staff are not members
        assert (
            client.post("/api/v1/rules/shipping/versions/9/acknowledgment", headers=token).status_code == 404
        )
    assert Acknowledgment.objects.count() == 1


def test_the_member_page_lists_what_is_pending_then_what_was_acknowledged(client: Client) -> None:
    asking_version()
    member = member_create()
    client.force_login(member.user)
    with time_machine.travel(DURING):
        page = client.get("/me/").content.decode()
        assert "待确认" in page
        assert PAGE in page
        client.post(PAGE, {"acknowledge": "yes"})
        page = client.get("/me/").content.decode()
    assert "确认于 2026-03-03 10:00" in page
    assert PAGE not in page
