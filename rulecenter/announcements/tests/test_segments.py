"""An announcement may target segments (issue 13): set on drafts by editors, frozen once published — by the
service and by the database — and marked on the public page and in the API, which stay public."""

import json
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client

from rulecenter.accounts import services as account_services
from rulecenter.accounts.models import Role, Segment
from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.tests.factories import user_create
from rulecenter.announcements import services
from rulecenter.announcements.models import Announcement
from rulecenter.audit.models import AuditEntry
from rulecenter.common.actors import SYSTEM
from rulecenter.common.tests.pages import unmarked

from .factories import approved_draft, draft_announcement, published_announcement

pytestmark = pytest.mark.django_db


@pytest.fixture
def segments() -> list[Segment]:
    return [
        account_services.segment_create(
            actor=SYSTEM, slug="zj-apparel", name="浙江服装商家", regions=["浙江省"]
        ),
        account_services.segment_create(
            actor=SYSTEM, slug="trustpass", name="诚信通会员", memberships=["verified"]
        ),
    ]


def slugs_of(announcement: Announcement) -> list[str]:
    return sorted(announcement.segments.values_list("slug", flat=True))


def raw(sql: str, *params: Any) -> None:
    """A statement as a database client would run it, bypassing the services."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_editor_targets_a_draft_and_the_change_is_recorded(segments: list[Segment]) -> None:
    editor = actor_for(user_create("eddie", roles=(Role.EDITOR,)))
    draft = draft_announcement(actor=editor)
    chosen = services.announcement_segments_set(
        actor=editor, announcement=draft, segments=["zj-apparel", "trustpass"]
    )
    assert [s.slug for s in chosen] == ["zj-apparel", "trustpass"]  # by name, as the database sorts it
    assert slugs_of(draft) == ["trustpass", "zj-apparel"]
    entry = AuditEntry.objects.filter(kind="announcement", action="updated").get()
    assert (entry.actor_name, json.loads(entry.data or "{}")["segments"]) == (
        "eddie",
        ["zj-apparel", "trustpass"],
    )
    services.announcement_segments_set(actor=editor, announcement=draft, segments=["trustpass", "zj-apparel"])
    assert AuditEntry.objects.filter(kind="announcement", action="updated").count() == 1  # the same: no write
    services.announcement_segments_set(actor=editor, announcement=draft, segments=[])
    assert slugs_of(draft) == []


def test_targeting_is_not_the_text_an_approval_stands(segments: list[Segment]) -> None:
    draft = approved_draft()
    services.announcement_segments_set(actor=SYSTEM, announcement=draft, segments=["trustpass"])
    draft.refresh_from_db()
    assert draft.is_approved


def test_only_editors_target(segments: list[Segment]) -> None:
    draft = draft_announcement()
    publisher = actor_for(user_create("pat", roles=(Role.PUBLISHER, Role.REVIEWER)))
    with pytest.raises(PermissionDenied, match="此操作需要“编辑”角色。"):
        services.announcement_segments_set(actor=publisher, announcement=draft, segments=["trustpass"])
    assert slugs_of(draft) == []


def test_an_unknown_segment_is_refused_by_name_and_nothing_changes(segments: list[Segment]) -> None:
    draft = draft_announcement()
    services.announcement_segments_set(actor=SYSTEM, announcement=draft, segments=["trustpass"])
    with pytest.raises(ValidationError) as refused:
        services.announcement_segments_set(actor=SYSTEM, announcement=draft, segments=["zj-apparel", "nope"])
    assert refused.value.message_dict["segments"] == ["没有标识为“nope”的商家分群。"]
    assert slugs_of(draft) == ["trustpass"]
    with pytest.raises(ValidationError, match="没有标识为“nope”的商家分群。"):
        draft_announcement(title="另一篇", segments=["nope"])
    assert not Announcement.objects.filter(title="另一篇").exists()


@pytest.mark.parametrize("state", ["published", "withdrawn", "statutory"])
def test_after_publication_the_service_refuses_and_nothing_changes(
    segments: list[Segment], state: str
) -> None:
    item = published_announcement(statutory=state == "statutory", segments=["trustpass"])
    if state == "withdrawn":
        services.announcement_withdraw(actor=SYSTEM, announcement=item, reason="有误")
    with pytest.raises(services.AnnouncementStateConflict):
        services.announcement_segments_set(actor=SYSTEM, announcement=item, segments=["zj-apparel"])
    assert slugs_of(item) == ["trustpass"]


def test_the_refusal_after_publication_says_why(segments: list[Segment]) -> None:
    item = published_announcement(title="发货新规")
    with pytest.raises(services.AnnouncementStateConflict) as refused:
        services.announcement_segments_set(actor=SYSTEM, announcement=item, segments=["zj-apparel"])
    assert refused.value.messages == [services.SEGMENTS_FROZEN.format(title="发货新规")]


def test_created_published_with_segments_it_is_published_and_targeted(segments: list[Segment]) -> None:
    """The platform's notices are created published: their segments are written while the row is a draft,
    in the same transaction, so the database's guard lets them in."""
    item = published_announcement(statutory=True, segments=["zj-apparel"])
    item.refresh_from_db()
    assert (item.status, item.statutory, slugs_of(item)) == ("published", True, ["zj-apparel"])
    entry = AuditEntry.objects.filter(kind="announcement", action="created").order_by("-seq").first()
    assert entry is not None
    assert json.loads(entry.data or "{}")["segments"] == ["zj-apparel"]


def test_the_database_refuses_changing_a_published_announcement_s_segments(segments: list[Segment]) -> None:
    item = published_announcement(segments=["trustpass"])
    trustpass, zhejiang = Segment.objects.get(slug="trustpass"), Segment.objects.get(slug="zj-apparel")
    table = "announcements_announcement_segments"
    with pytest.raises(IntegrityError, match="frozen"):
        raw(f"INSERT INTO {table} (announcement_id, segment_id) VALUES (%s, %s)", item.pk, zhejiang.pk)  # noqa: S608
    with pytest.raises(IntegrityError, match="frozen"):
        raw(f"DELETE FROM {table} WHERE announcement_id = %s", item.pk)  # noqa: S608
    with pytest.raises(IntegrityError, match="frozen"):
        raw(f"UPDATE {table} SET segment_id = %s WHERE announcement_id = %s", zhejiang.pk, item.pk)  # noqa: S608
    with pytest.raises(IntegrityError), transaction.atomic():
        trustpass.delete()  # it would take the announcement's row with it
    assert slugs_of(item) == ["trustpass"]


def test_the_database_lets_a_draft_s_segments_change(segments: list[Segment]) -> None:
    draft = draft_announcement()
    zhejiang = Segment.objects.get(slug="zj-apparel")
    raw(
        "INSERT INTO announcements_announcement_segments (announcement_id, segment_id) VALUES (%s, %s)",
        draft.pk,
        zhejiang.pk,
    )
    assert slugs_of(draft) == ["zj-apparel"]
    raw("DELETE FROM announcements_announcement_segments WHERE announcement_id = %s", draft.pk)
    assert slugs_of(draft) == []


def test_the_public_page_marks_a_targeted_announcement_and_stays_public(
    client: Client, segments: list[Segment]
) -> None:
    targeted = published_announcement(title="浙江服装专项", segments=["zj-apparel", "trustpass"])
    plain = published_announcement(title="面向全体")
    page = client.get(f"/news/{targeted.pk}/")  # anonymous
    assert page.status_code == 200
    html = page.content.decode()
    assert "本公告主要涉及：浙江服装商家、诚信通会员（公告对所有人公开；通知只发给相关商家）" in unmarked(
        html
    )
    assert "浙江服装专项" in html
    assert "本公告主要涉及" not in client.get(f"/news/{plain.pk}/").content.decode()
    english = client.get(f"/news/{targeted.pk}/", headers={"accept-language": "en"}).content.decode()
    assert "mainly concerns: 浙江服装商家, 诚信通会员" in unmarked(english)
    assert "浙江服装专项" in client.get("/news/").content.decode()  # listed like any other


def test_segment_names_are_escaped_on_the_page(client: Client) -> None:
    account_services.segment_create(actor=SYSTEM, slug="odd", name="<b>商家</b>")
    item = published_announcement(segments=["odd"])
    html = client.get(f"/news/{item.pk}/").content.decode()
    assert "&lt;b&gt;商家&lt;/b&gt;" in html
    assert "<b>商家</b>" not in html


def test_the_api_answers_the_segments(client: Client, segments: list[Segment]) -> None:
    item = published_announcement(segments=["zj-apparel"])
    body = client.get(f"/api/v1/announcements/{item.pk}").json()
    assert body["segments"] == [{"slug": "zj-apparel", "name": "浙江服装商家"}]
    plain = published_announcement(title="面向全体")
    assert client.get(f"/api/v1/announcements/{plain.pk}").json()["segments"] == []


def test_the_admin_sets_a_draft_s_segments_through_the_service(segments: list[Segment]) -> None:
    editor = user_create("eddie", roles=(Role.EDITOR,), is_staff=True)
    draft = draft_announcement(actor=actor_for(editor))
    client = Client()
    client.force_login(editor)
    form = {
        "title": draft.title, "kind": draft.kind, "category": draft.category_id, "summary": "",
        "body": draft.body, "source_url": "", "segments": [segments[0].pk],
        "revisions-TOTAL_FORMS": "0", "revisions-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = client.post(f"/admin/announcements/announcement/{draft.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert slugs_of(draft) == ["zj-apparel"]
    assert AuditEntry.objects.filter(kind="announcement", action="updated", actor_name="eddie").exists()


def test_an_editor_targets_through_the_api_and_a_bad_target_writes_nothing(
    client: Client, segments: list[Segment]
) -> None:
    editor = user_create("eddie", roles=(Role.EDITOR,))
    headers = {"Authorization": f"Bearer {account_services.api_token_create(actor=SYSTEM, user=editor)[1]}"}
    body = {"title": "浙江服装商家发货指引", "body": "正文", "category": "news", "segments": ["zj-apparel"]}
    from .factories import category_create

    category_create(slug="news", name="新闻")
    created = client.post("/api/v1/announcements", body, content_type="application/json", headers=headers)
    assert created.status_code == 201, created.content
    assert created.json()["segments"] == [{"slug": "zj-apparel", "name": "浙江服装商家"}]
    draft = Announcement.objects.get()
    assert slugs_of(draft) == ["zj-apparel"]

    unknown = client.post(
        "/api/v1/announcements",
        {**body, "segments": ["nobody"]},
        content_type="application/json",
        headers=headers,
    )
    assert unknown.status_code == 422
    assert "nobody" in unknown.content.decode()
    assert Announcement.objects.count() == 1  # the announcement was not created without its target either

    retarget = client.patch(
        f"/api/v1/announcements/{draft.pk}", {"segments": ["trustpass", "zj-apparel"]},
        content_type="application/json", headers=headers,
    )  # fmt: skip
    assert retarget.status_code == 200, retarget.content
    assert slugs_of(draft) == ["trustpass", "zj-apparel"]
    everyone = client.patch(
        f"/api/v1/announcements/{draft.pk}",
        {"segments": []},
        content_type="application/json",
        headers=headers,
    )
    assert (everyone.status_code, everyone.json()["segments"], slugs_of(draft)) == (200, [], [])


def test_targeting_through_the_api_keeps_the_approval_and_stops_at_publication(
    client: Client, segments: list[Segment]
) -> None:
    editor = user_create("eddie", roles=(Role.EDITOR,))
    headers = {"Authorization": f"Bearer {account_services.api_token_create(actor=SYSTEM, user=editor)[1]}"}
    draft = approved_draft()
    url = f"/api/v1/announcements/{draft.pk}"
    targeted = client.patch(
        url, {"segments": ["zj-apparel"]}, content_type="application/json", headers=headers
    )
    assert targeted.status_code == 200, targeted.content
    draft.refresh_from_db()
    assert draft.approved_at is not None  # not an edit of the text
    services.announcement_publish(actor=SYSTEM, announcement=draft)
    frozen = client.patch(url, {"segments": []}, content_type="application/json", headers=headers)
    assert frozen.status_code == 409
    assert slugs_of(draft) == ["zj-apparel"]
