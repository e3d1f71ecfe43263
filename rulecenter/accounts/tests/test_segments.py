"""Segments (issue 13): who is in one — industry, region, membership type, shop age with its boundaries — and
the services and database that keep a segment's definition sound."""

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client

from rulecenter.accounts import selectors, services
from rulecenter.accounts.models import Member, Role, Segment
from rulecenter.accounts.roles import actor_for
from rulecenter.audit.models import AuditEntry
from rulecenter.common.actors import SYSTEM

from .factories import user_create

pytestmark = pytest.mark.django_db

AT = datetime(2026, 6, 1, 12, tzinfo=ZoneInfo("Asia/Shanghai"))
TODAY = date(2026, 6, 1)


def member(username: str, **attributes: object) -> Member:
    fields: dict[str, object] = {"joined_on": date(2024, 1, 1), **attributes}
    return services.member_create(actor=SYSTEM, username=username, **fields)  # type: ignore[arg-type]


def segment(slug: str = "zj-apparel", **criteria: object) -> Segment:
    return services.segment_create(actor=SYSTEM, slug=slug, name=criteria.pop("name", slug), **criteria)  # type: ignore[arg-type]


def in_segment(*keys: str | int) -> set[str]:
    """The usernames of the members in any of these segments at AT."""
    ids = set(selectors.segment_users(keys, at=AT))
    return set(Member.objects.filter(user_id__in=ids).values_list("user__username", flat=True))


def test_each_criterion_matches_its_attribute_and_all_must_match() -> None:
    member("zj-apparel", industry="apparel", region="浙江省")
    member("gd-apparel", industry="apparel", region="广东省")
    member("zj-food", industry="food", region="浙江省")
    member("zj-none", region="浙江省")
    member("premium", industry="apparel", region="浙江省", membership="premium")
    segment("apparel", industries=["apparel"])
    segment("zhejiang", regions=["浙江省"])
    segment("zj-apparel", industries=["apparel"], regions=["浙江省"])
    segment("trustpass", memberships=["verified", "premium"])
    segment("zj-apparel-basic", industries=["apparel"], regions=["浙江省"], memberships=["basic"])

    assert in_segment("apparel") == {"zj-apparel", "gd-apparel", "premium"}
    assert in_segment("zhejiang") == {"zj-apparel", "zj-food", "zj-none", "premium"}
    assert in_segment("zj-apparel") == {"zj-apparel", "premium"}
    assert in_segment("trustpass") == {"premium"}
    assert in_segment("zj-apparel-basic") == {"zj-apparel"}
    # In any of a change's segments: the union.
    assert in_segment("trustpass", "zj-apparel-basic") == {"zj-apparel", "premium"}


@pytest.mark.parametrize(
    ("joined_days_ago", "inside"),
    [(29, False), (30, True), (31, True), (89, True), (90, True), (91, False)],
)
def test_shop_age_counts_whole_days_and_includes_both_ends(joined_days_ago: int, inside: bool) -> None:
    """30 to 90 days on the platform: a shop that joined 30 or 90 days before is in, 29 or 91 is not."""
    member("shop", joined_on=TODAY - timedelta(days=joined_days_ago))
    young_or_old = segment("growing", min_shop_days=30, max_shop_days=90)
    assert (in_segment("growing") == {"shop"}) is inside
    mine = selectors.segment_ids_of_user(user_id=Member.objects.get().user_id, at=AT)
    assert (mine == [young_or_old.pk]) is inside  # the member's own list agrees with the set


def test_only_a_minimum_or_only_a_maximum_leaves_the_other_side_open() -> None:
    member("new", joined_on=TODAY)
    member("old", joined_on=date(2016, 1, 1))
    segment("newcomers", max_shop_days=0)
    segment("veterans", min_shop_days=365)
    assert in_segment("newcomers") == {"new"}
    assert in_segment("veterans") == {"old"}


def test_a_segment_without_criteria_holds_every_member_and_an_unknown_one_no_one() -> None:
    member("a", industry="apparel")
    member("b", region="广东省")
    user_create("staff")  # not a member: in no segment
    segment("everyone")
    segment("nobody-matches", industries=["toys"])
    assert in_segment("everyone") == {"a", "b"}
    assert in_segment("everyone", "nobody-matches") == {"a", "b"}
    assert in_segment("nobody-matches") == set()
    assert in_segment("no-such-segment") == set()
    assert in_segment() == set()


def test_a_member_s_segments_agree_with_each_segment_s_members() -> None:
    """`segment_ids_of_user` (one member, all segments) and `segment_users` (one segment, all members)
    answer the same question the same way."""
    people = [
        member("a", industry="apparel", region="浙江省", joined_on=TODAY - timedelta(days=10)),
        member("b", industry="food", region="浙江省", membership="verified"),
        member("c", region="广东省", membership="premium", joined_on=TODAY - timedelta(days=400)),
    ]
    segments = [
        segment("s1", industries=["apparel", "food"]),
        segment("s2", regions=["浙江省"], memberships=["verified"]),
        segment("s3", min_shop_days=365),
        segment("s4", max_shop_days=10, regions=["浙江省"]),
        segment("s5"),
    ]
    for person in people:
        expected = [s.pk for s in segments if person.user_id in set(selectors.segment_users([s.pk], at=AT))]
        assert selectors.segment_ids_of_user(user_id=person.user_id, at=AT) == expected
    assert selectors.segment_ids_of_user(user_id=user_create("staff").pk, at=AT) == []


def test_attributes_are_cleaned_and_criteria_stored_sorted_without_repeats() -> None:
    created = segment(
        "mixed",
        industries=["Apparel", " apparel ", "food", ""],
        regions=["浙江省 ", "浙江省"],
        memberships=["premium", "basic"],
    )
    created.refresh_from_db()
    assert (created.industries, created.regions, created.memberships) == (
        ["apparel", "food"],
        ["浙江省"],
        ["basic", "premium"],
    )
    shop = member("shop", industry=" Apparel ", region=" 浙江省")
    assert (shop.industry, shop.region) == ("apparel", "浙江省")


@pytest.mark.parametrize(
    ("criteria", "field", "message"),
    [
        (
            {"min_shop_days": 91, "max_shop_days": 90},
            "min_shop_days",
            "最少开店天数（91）不能大于最多开店天数（90）。",
        ),
        ({"min_shop_days": -1}, "min_shop_days", "开店天数不能为负数（现为 -1）。"),
        ({"memberships": ["gold"]}, "memberships", "没有“gold”这种会员类型"),
        ({"industries": ["服装"]}, "industries", "行业类目“服装”无效"),
        ({"name": "  "}, "name", "分群名称不能为空。"),
        ({"slug": "浙江"}, "slug", "分群标识“浙江”无效"),
    ],
)
def test_bad_input_is_refused_in_chinese_naming_its_field_and_nothing_is_written(
    criteria: dict[str, object], field: str, message: str
) -> None:
    entries = AuditEntry.objects.count()
    fields: dict[str, object] = {"slug": "bad", "name": "坏分群", **criteria}
    with pytest.raises(ValidationError) as refused:
        services.segment_create(actor=SYSTEM, **fields)  # type: ignore[arg-type]
    assert message in refused.value.message_dict[field][0]
    assert Segment.objects.count() == 0
    assert AuditEntry.objects.count() == entries


def test_a_taken_slug_is_refused_and_the_slug_never_changes() -> None:
    first = segment("apparel", name="服装")
    with pytest.raises(ValidationError) as refused:
        segment("apparel", name="另一个")
    assert refused.value.message_dict["slug"] == ["已有标识为“apparel”的商家分群。"]
    updated = services.segment_update(actor=SYSTEM, segment=first, name="服装商家", industries=["apparel"])
    assert (updated.slug, updated.name, updated.industries) == ("apparel", "服装商家", ["apparel"])
    with pytest.raises(ValidationError):
        services.segment_update(
            actor=SYSTEM, segment=first, name="服装商家", min_shop_days=5, max_shop_days=1
        )
    first.refresh_from_db()
    assert (first.min_shop_days, first.max_shop_days, first.name) == (None, None, "服装商家")


def test_segments_are_written_by_editors_and_announced_for_the_audit_chain() -> None:
    reviewer = actor_for(user_create("rita", roles=(Role.REVIEWER,)))
    with pytest.raises(PermissionDenied, match="此操作需要“编辑”角色。"):
        services.segment_create(actor=reviewer, slug="x", name="X")
    editor = actor_for(user_create("eddie", roles=(Role.EDITOR,)))
    created = services.segment_create(actor=editor, slug="zj", name="浙江商家", regions=["浙江省"])
    services.segment_update(actor=editor, segment=created, name="浙江商家", regions=["浙江省", "330000"])
    entries = list(AuditEntry.objects.filter(kind="segment").order_by("seq"))
    assert [(e.action, e.actor_name) for e in entries] == [("created", "eddie"), ("updated", "eddie")]
    assert json.loads(entries[1].data or "{}")["regions"] == ["330000", "浙江省"]
    assert json.loads(entries[1].data or "{}")["before"]["regions"] == ["浙江省"]


def test_member_attributes_are_the_platform_s_to_set() -> None:
    shop = member("shop")
    editor = actor_for(user_create("eddie", roles=(Role.EDITOR,)))
    with pytest.raises(PermissionDenied, match="只有平台或超级管理员"):
        services.member_attributes_set(
            actor=editor, member=shop, industry="food", region="", membership="basic"
        )
    with pytest.raises(ValidationError) as refused:
        services.member_attributes_set(
            actor=SYSTEM, member=shop, industry="food", region="", membership="gold"
        )
    assert "没有“gold”这种会员类型" in refused.value.message_dict["membership"][0]
    shop.refresh_from_db()
    assert (shop.industry, shop.membership) == ("", "basic")
    services.member_attributes_set(
        actor=SYSTEM, member=shop, industry="food", region="上海市", membership="verified"
    )
    shop.refresh_from_db()
    assert (shop.industry, shop.region, shop.membership) == ("food", "上海市", "verified")
    entry = AuditEntry.objects.filter(kind="user", action="updated").get()
    assert json.loads(entry.data or "{}")["membership"] == "verified"


@pytest.mark.parametrize(
    ("columns", "constraint"),
    [
        ("min_shop_days, max_shop_days, name", "segment_shop_days_ordered"),
        ("min_shop_days, name", "segment_shop_days_not_negative"),
        ("name", "segment_name_not_empty"),
    ],
)
def test_the_database_refuses_an_unsound_segment_whatever_writes_it(columns: str, constraint: str) -> None:
    values = {
        "segment_shop_days_ordered": "10, 5, '坏'",
        "segment_shop_days_not_negative": "-1, '坏'",
        "segment_name_not_empty": "''",
    }[constraint]
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO accounts_segment (slug, {columns}, description, industries, regions, memberships, "  # noqa: S608
            f"created_at, updated_at) VALUES ('raw', {values}, '', '[]', '[]', '[]', "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
    assert Segment.objects.count() == 0


def test_the_admin_saves_segments_through_the_service_and_shows_refusals() -> None:
    editor = user_create("eddie", roles=(Role.EDITOR,), is_staff=True)
    client = Client()
    client.force_login(editor)
    form = {
        "slug": "zj-apparel", "name": "浙江服装商家", "description": "", "industries_text": "apparel\nshoes",
        "regions_text": "浙江省，330000", "memberships_chosen": ["verified"], "min_shop_days": "30",
        "max_shop_days": "",
    }  # fmt: skip
    response = client.post("/admin/accounts/segment/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    created = Segment.objects.get()
    assert (created.industries, created.regions, created.memberships, created.min_shop_days) == (
        ["apparel", "shoes"],
        ["330000", "浙江省"],
        ["verified"],
        30,
    )
    assert AuditEntry.objects.filter(kind="segment", action="created", actor_name="eddie").exists()
    bad = client.post(f"/admin/accounts/segment/{created.pk}/change/", {**form, "max_shop_days": "7"})
    assert bad.status_code == 200
    assert "最少开店天数不能大于最多开店天数。" in bad.content.decode()
    created.refresh_from_db()
    assert created.max_shop_days is None


def test_the_member_admin_sets_attributes_through_the_service() -> None:
    shop = member("shop", shop_name="小店")
    url = f"/admin/accounts/member/{shop.pk}/change/"
    form = {
        "user": shop.user_id, "shop_name": "小店", "joined_on": "2024-01-01", "industry": "Apparel",
        "region": "浙江省", "membership": "premium",
    }  # fmt: skip
    staff = user_create("clerk", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["change_member", "view_member"]))
    clerk = Client()
    clerk.force_login(staff)
    refused = clerk.post(url, form, follow=True)
    assert "只有平台或超级管理员可以修改会员的行业类目、地区和会员类型。" in refused.content.decode()
    shop.refresh_from_db()
    assert (shop.industry, shop.membership) == ("", "basic")
    root = Client()
    root.force_login(user_create("root", is_staff=True, is_superuser=True))
    assert root.post(url, form).status_code == 302
    shop.refresh_from_db()
    assert (shop.industry, shop.region, shop.membership) == ("apparel", "浙江省", "premium")
