import csv
import io

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.services import member_create
from rulecenter.accounts.tests.factories import user_create
from rulecenter.common.actors import SYSTEM
from rulecenter.rules import services
from rulecenter.rules.models import ExitRequest, RuleVersion

from .factories import OLD_TEXT, rule_create, scheduled_version, shanghai

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("operator", "op@example.com", "pw-operator-1"))
    return client


def schedule_form(notice: str, effective: str) -> dict[str, str]:
    """The 排期公示 button on an approved version's page (the operator also sees its text: they edit too)."""
    return {
        "text": OLD_TEXT,
        "summary": "",
        "notice_at_0": notice.split()[0],
        "notice_at_1": notice.split()[1],
        "effective_at_0": effective.split()[0],
        "effective_at_1": effective.split()[1],
        "buffer_ends_at_0": "",
        "buffer_ends_at_1": "",
        "_schedule": "1",
    }


def approved_draft(*, major: bool = False) -> RuleVersion:
    """A draft written by the platform and approved by a reviewer: ready for a publisher to schedule."""
    draft = services.rule_version_create(actor=SYSTEM, rule=rule_create(), text=OLD_TEXT, major=major)
    reviewer = user_create("reviewer", roles=(Role.REVIEWER,), is_staff=True)
    return services.rule_version_approve(actor=actor_for(reviewer), version=draft)


def change_url(version: RuleVersion) -> str:
    return f"/admin/rules/ruleversion/{version.pk}/change/"


@time_machine.travel(shanghai(2025, 2, 1), tick=False)
def test_admin_refuses_six_days_of_notice_naming_the_seven_day_rule(admin_client: Client) -> None:
    version = approved_draft()
    response = admin_client.post(
        change_url(version), schedule_form("2025-02-10 10:00:00", "2025-02-16 10:00:00")
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "电子商务法" in html
    assert "至少在实施前 7 日公示" in html
    assert "2025-02-17 10:00" in html
    version.refresh_from_db()
    assert version.notice_at is None


@time_machine.travel(shanghai(2025, 2, 1), tick=False)
def test_admin_refuses_fourteen_days_for_a_major_change(admin_client: Client) -> None:
    version = approved_draft(major=True)
    form = schedule_form("2025-02-10 10:00:00", "2025-02-24 10:00:00") | {"major": "on"}
    response = admin_client.post(change_url(version), form)
    assert "至少在实施前 15 日公示" in response.content.decode()
    version.refresh_from_db()
    assert version.notice_at is None


@time_machine.travel(shanghai(2025, 2, 1), tick=False)
def test_admin_schedules_an_approved_version(admin_client: Client) -> None:
    version = approved_draft()
    response = admin_client.post(
        change_url(version), schedule_form("2025-02-10 10:00:00", "2025-02-18 00:00:00")
    )
    assert response.status_code == 302
    assert response["Location"] == change_url(version)
    version.refresh_from_db()
    assert version.number == 1
    assert version.effective_at == shanghai(2025, 2, 18)
    assert version.events.count() == 2


def test_admin_cannot_edit_or_delete_a_noticed_version(admin_client: Client) -> None:
    with time_machine.travel(shanghai(2025, 2, 1), tick=False):
        version = scheduled_version(rule_create(), notice_at=shanghai(2025, 2, 10, 10))
    form = {"text": "篡改", "summary": "", "_save": "1"}
    admin_client.post(change_url(version), form)
    delete = admin_client.post(f"/admin/rules/ruleversion/{version.pk}/delete/", {"post": "yes"}, follow=True)
    assert delete.redirect_chain == [(change_url(version), 302)]
    assert "不能修改或删除" in delete.content.decode()  # said on the page, not a bare 403
    version.refresh_from_db()
    assert version.text == OLD_TEXT


def test_operators_export_exit_requests_as_csv(admin_client: Client) -> None:
    with time_machine.travel(shanghai(2025, 2, 1), tick=False) as clock:
        rule = rule_create()
        scheduled_version(rule, notice_at=shanghai(2025, 2, 1, 0, 1), days=8)
        new = services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT + "\n\n第四条 新增。")
        bundle = services.change_bundle_schedule(
            actor=SYSTEM,
            title="发货规范变更",
            versions=[new],
            notice_at=shanghai(2025, 2, 20),
            effective_at=shanghai(2025, 3, 1),
        )
        clock.move_to(shanghai(2025, 2, 21))
        member = member_create(actor=SYSTEM, username="shop-a", shop_name="甲店")
        services.exit_request_create(actor=SYSTEM, bundle=bundle, user=member.user, reason="不接受")
    response = admin_client.post(
        "/admin/rules/exitrequest/",
        {"action": "export_csv", "_selected_action": [ExitRequest.objects.get().pk]},
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["会员", "店铺", "变更包"]
    assert rows[1][:3] == ["shop-a", "甲店", "发货规范变更"]
    assert rows[1][4] == "《1688商家发货行为管理规范》 v1"


def test_the_stated_notice_periods_follow_the_settings(admin_client: Client, settings) -> None:
    """The footer of every page and the admin's help text state the periods the services enforce."""
    settings.RULECENTER_NOTICE_DAYS = 10
    settings.RULECENTER_MAJOR_NOTICE_DAYS = 20
    footer = admin_client.get("/rules/").content.decode()
    assert "一般变更至少提前 10 日，重大变更至少提前 20 日" in footer
    form = admin_client.get("/admin/rules/ruleversion/add/").content.decode()
    assert "重大变更的公示期至少 20 日" in form


def test_renaming_a_rule_in_the_admin_refiles_it_in_search(admin_client: Client) -> None:
    """The admin saves through the service, so the change is announced and search's outbox gets a row."""
    from rulecenter.search.models import OutboxEntry

    rule = rule_create()
    OutboxEntry.objects.all().delete()
    response = admin_client.post(
        f"/admin/rules/rule/{rule.pk}/change/",
        {
            "title": "《新名称规则》",
            "slug": rule.slug,
            "kind": rule.kind,
            "category": rule.category_id,
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule.refresh_from_db()
    assert rule.title == "新名称规则"  # stored without book-title marks, as rule_create stores it
    assert list(OutboxEntry.objects.values_list("entity", "object_id")) == [("rule", rule.pk)]
