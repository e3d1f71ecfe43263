"""A publisher schedules related rules' approved versions as one change: over the API and in the admin."""

import pytest
import time_machine
from django.test import Client

from rulecenter.accounts.roles import actor_for
from rulecenter.announcements.models import Announcement
from rulecenter.rules import services
from rulecenter.rules.lifecycle import lifecycle_run_due
from rulecenter.rules.models import ChangeBundle, RuleVersion

from .conftest import Person
from .factories import NEW_TEXT, OLD_TEXT, category_create, rule_create, shanghai

pytestmark = pytest.mark.django_db
URL = "/api/v1/rules/bundles"
JSON = "application/json"
NOW = shanghai(2025, 2, 1, 9)
NOTICE, EFFECTIVE = shanghai(2025, 2, 10, 10), shanghai(2025, 2, 18)


def drafts(staff: dict[str, Person], *, approved: bool = True) -> list[RuleVersion]:
    category = category_create()
    made = []
    for slug, title, text in (("goods", "禁限售规则", OLD_TEXT), ("abroad", "境外禁售商品", NEW_TEXT)):
        rule = rule_create(slug=slug, title=title, category=category)
        version = services.rule_version_create(actor=actor_for(staff["writer"].user), rule=rule, text=text)
        if approved:
            version = services.rule_version_approve(actor=actor_for(staff["reviewer"].user), version=version)
        made.append(version)
    return made


def body(**overrides: object) -> dict[str, object]:
    return {
        "title": "《禁限售规则》和其相关规则的更新",
        "versions": [{"rule": "goods", "number": 1}, {"rule": "abroad", "number": 1}],
        "notice_at": NOTICE.isoformat(),
        "effective_at": EFFECTIVE.isoformat(),
    } | overrides


@time_machine.travel(NOW, tick=False)
def test_a_publisher_schedules_approved_versions_together_and_their_notice_is_one_news_item(
    client: Client, staff: dict[str, Person]
) -> None:
    drafts(staff)
    headers = staff["publisher"].headers | {"Idempotency-Key": "bundle-1"}
    response = client.post(URL, body(), content_type=JSON, headers=headers)
    assert response.status_code == 201
    data = response.json()
    assert data["title"] == "《禁限售规则》和其相关规则的更新"
    assert [(v["number"], v["review_state"]) for v in data["versions"]] == [
        (1, "scheduled"),
        (1, "scheduled"),
    ]
    assert data["record_url"].endswith(f"/rules/bundles/{data['id']}/record")
    # Retried with the same key: the same bundle, nothing scheduled twice.
    again = client.post(URL, body(), content_type=JSON, headers=headers)
    assert again.json()["id"] == data["id"]
    assert ChangeBundle.objects.count() == 1
    assert client.get(data["record_url"]).status_code == 404  # not public before its notice
    with time_machine.travel(NOTICE, tick=False):
        lifecycle_run_due()
        notice = Announcement.objects.get(statutory=True)
        assert notice.title.endswith("和其相关规则的更新公示")
        assert "《境外禁售商品》和《禁限售规则》" in notice.body
        assert client.get(data["record_url"]).status_code == 200


@time_machine.travel(NOW, tick=False)
def test_only_a_publisher_may_and_nothing_is_written_otherwise(
    client: Client, staff: dict[str, Person]
) -> None:
    drafts(staff)
    for who in ("editor", "reviewer", "member"):
        response = client.post(URL, body(), content_type=JSON, headers=staff[who].headers)
        assert response.status_code == 403
        assert response.json()["detail"] == "此操作需要“发布”角色。"
    assert not ChangeBundle.objects.exists()
    assert not RuleVersion.objects.filter(notice_at__isnull=False).exists()


@time_machine.travel(NOW, tick=False)
def test_an_unapproved_version_stops_the_whole_bundle(client: Client, staff: dict[str, Person]) -> None:
    goods, _abroad = drafts(staff, approved=False)
    services.rule_version_approve(actor=actor_for(staff["reviewer"].user), version=goods)
    response = client.post(URL, body(), content_type=JSON, headers=staff["publisher"].headers)
    assert response.status_code == 409
    assert "审核" in response.json()["detail"]
    assert not ChangeBundle.objects.exists()
    assert not RuleVersion.objects.filter(notice_at__isnull=False).exists()


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("overrides", "status", "words"),
    [
        ({"versions": [{"rule": "goods", "number": 9}]}, 404, "没有第 9 版"),
        ({"versions": [{"rule": "nope", "number": 1}]}, 404, "不存在"),
        ({"versions": [{"rule": "goods", "number": 1}, {"rule": "goods", "number": 1}]}, 422, "出现了多次"),
        ({"versions": []}, 422, ""),
        ({"effective_at": shanghai(2025, 2, 16).isoformat()}, 422, "电子商务法"),
        ({"title": ""}, 422, ""),
    ],
)
def test_bad_bundles_are_refused_with_the_reason_and_write_nothing(
    client: Client, staff: dict[str, Person], overrides: dict[str, object], status: int, words: str
) -> None:
    drafts(staff)
    response = client.post(URL, body(**overrides), content_type=JSON, headers=staff["publisher"].headers)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/problem+json")
    assert words in response.content.decode()
    assert not ChangeBundle.objects.exists()


ADMIN = "/admin/rules/ruleversion/"


def admin_client(person: Person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


def bundle_form(versions: list[RuleVersion], **fields: str) -> dict[str, object]:
    return {
        "action": "schedule_bundle",
        "_selected_action": [v.pk for v in versions],
        "apply": "1",
        "title": "《禁限售规则》和其相关规则的更新",
        "notice_at": "2025-02-10 10:00:00",
        "effective_at": "2025-02-18 00:00:00",
        **fields,
    }


@time_machine.travel(NOW, tick=False)
def test_a_publisher_bundles_approved_versions_in_the_admin(staff: dict[str, Person]) -> None:
    versions = drafts(staff)
    client = admin_client(staff["publisher"])
    assert "schedule_bundle" in client.get(ADMIN).content.decode()
    page = client.post(ADMIN, {"action": "schedule_bundle", "_selected_action": [v.pk for v in versions]})
    assert page.status_code == 200
    assert "编为变更包并排期公示" in page.content.decode()
    assert not ChangeBundle.objects.exists()  # the first post only shows the form
    done = client.post(ADMIN, bundle_form(versions), follow=True)
    assert "已排期：2 个版本将同时公示、同时生效" in done.content.decode()
    bundle = ChangeBundle.objects.get()
    assert {v.notice_at for v in bundle.versions.all()} == {NOTICE}


@time_machine.travel(NOW, tick=False)
def test_the_admin_shows_why_a_bundle_is_refused_and_writes_nothing(staff: dict[str, Person]) -> None:
    versions = drafts(staff, approved=False)
    response = admin_client(staff["publisher"]).post(ADMIN, bundle_form(versions))
    assert response.status_code == 200
    assert "审核" in response.content.decode()
    assert not ChangeBundle.objects.exists()
    short = admin_client(staff["publisher"]).post(
        ADMIN, bundle_form(drafts_again(staff), effective_at="2025-02-12 00:00:00")
    )
    assert "电子商务法" in short.content.decode()
    assert not ChangeBundle.objects.exists()


def drafts_again(staff: dict[str, Person]) -> list[RuleVersion]:
    for version in RuleVersion.objects.all():
        services.rule_version_approve(actor=actor_for(staff["checker"].user), version=version)
    return list(RuleVersion.objects.all())


@time_machine.travel(NOW, tick=False)
def test_only_publishers_are_offered_the_bundle_and_nobody_a_bulk_delete(staff: dict[str, Person]) -> None:
    versions = drafts(staff)
    for who in ("editor", "reviewer"):
        client = admin_client(staff[who])
        changelist = client.get(ADMIN).content.decode()
        assert "schedule_bundle" not in changelist
        assert "delete_selected" not in changelist
        client.post(ADMIN, bundle_form(versions))
    assert "delete_selected" not in admin_client(staff["publisher"]).get(ADMIN).content.decode()
    assert not ChangeBundle.objects.exists()
