"""Four eyes, corrections kept, withdrawal shown as withdrawn, statutory notices frozen (issue 11).

The services' rules, the database's triggers (raw SQL on SQLite and PostgreSQL) and what a reader sees: the
news page's 更正记录, the 410 of a withdrawn item, the listing and the feeds.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import RoleRequired, actor_for
from rulecenter.accounts.tests.factories import user_create
from rulecenter.announcements import services
from rulecenter.announcements.models import Announcement, AnnouncementRevision, ListingCounter
from rulecenter.common.actors import SYSTEM

from .factories import approved_draft, category_create, draft_announcement, published_announcement

pytestmark = pytest.mark.django_db


def raw(sql: str, *params: Any) -> None:
    """A statement as a database client would run it, bypassing the services."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- the services ------------------------------------------------------------------------------------


def test_publishing_needs_an_approval_by_someone_other_than_the_author() -> None:
    editor = user_create("editor", roles=(Role.EDITOR, Role.REVIEWER))
    reviewer = user_create("reviewer", roles=(Role.REVIEWER,))
    publisher = actor_for(user_create("publisher", roles=(Role.PUBLISHER,)))
    draft = draft_announcement(actor=actor_for(editor))
    assert draft.author_id == editor.pk
    with pytest.raises(services.AnnouncementStateConflict, match="尚未审核通过"):
        services.announcement_publish(actor=publisher, announcement=draft)
    with pytest.raises(services.OwnDraftApproval):
        services.announcement_approve(actor=actor_for(editor), announcement=draft)
    services.announcement_approve(actor=actor_for(reviewer), announcement=draft)
    assert draft.approved_by_id == reviewer.pk  # the caller's instance follows what was stored
    services.announcement_publish(actor=publisher, announcement=draft)
    assert Announcement.objects.get(pk=draft.pk).status == Announcement.Status.PUBLISHED


def test_sending_back_withdraws_the_approval_and_keeps_the_comment() -> None:
    reviewer = actor_for(user_create("reviewer", roles=(Role.REVIEWER,)))
    draft = approved_draft()
    with pytest.raises(ValidationError) as refused:
        services.announcement_send_back(actor=reviewer, announcement=draft, comment="  ")
    assert refused.value.message_dict == {"comment": [services.COMMENT_REQUIRED]}
    services.announcement_send_back(actor=reviewer, announcement=draft, comment="请核对日期。")
    stored = Announcement.objects.get(pk=draft.pk)
    assert (stored.approved_at, stored.review_comment) == (None, "请核对日期。")
    services.announcement_approve(actor=reviewer, announcement=stored)
    assert Announcement.objects.get(pk=draft.pk).review_comment == ""


def test_an_edit_clears_the_approval_and_makes_the_editor_the_author() -> None:
    editor = user_create("editor", roles=(Role.EDITOR,))
    draft = approved_draft()
    draft.body = "改过的正文。"
    services.announcement_save(actor=actor_for(editor), announcement=draft)
    stored = Announcement.objects.get(pk=draft.pk)
    assert (stored.author_id, stored.approved_at, stored.approved_by_id) == (editor.pk, None, None)


def test_saving_without_a_change_keeps_the_approval() -> None:
    draft = approved_draft()
    services.announcement_save(actor=actor_for(user_create("e", roles=(Role.EDITOR,))), announcement=draft)
    assert Announcement.objects.get(pk=draft.pk).approved_at is not None


def test_the_review_fields_are_the_services_alone() -> None:
    """Whatever a form or caller puts in the workflow fields, the stored values stand."""
    editor = actor_for(user_create("editor", roles=(Role.EDITOR,)))
    draft = draft_announcement()
    draft.approved_at = datetime(2025, 1, 1, tzinfo=UTC)
    draft.title = "改过的标题"
    services.announcement_save(actor=editor, announcement=draft)
    assert Announcement.objects.get(pk=draft.pk).approved_at is None
    draft.status = Announcement.Status.PUBLISHED
    with pytest.raises(services.AnnouncementStateConflict, match="只能通过发布和撤回"):
        services.announcement_save(actor=editor, announcement=draft)
    assert Announcement.objects.get(pk=draft.pk).status == Announcement.Status.DRAFT


def test_only_the_system_and_imports_create_published_items() -> None:
    publisher = actor_for(user_create("publisher", roles=(Role.PUBLISHER,)))
    with pytest.raises(services.ReviewRequired):
        services.announcement_create(
            actor=publisher,
            title="直接发布",
            body="正文",
            category=draft_announcement().category,
            status=Announcement.Status.PUBLISHED,
        )
    imported = services.announcement_create(
        actor=publisher,
        title="转载",
        body="正文",
        category=draft_announcement().category,
        status=Announcement.Status.PUBLISHED,
        imported=True,
    )
    assert imported.is_published
    with pytest.raises(PermissionDenied, match="法定公示只能由平台"):
        services.announcement_create(
            actor=publisher,
            title="伪造的公示",
            body="正文",
            category=imported.category,
            status=Announcement.Status.PUBLISHED,
            statutory=True,
        )


def test_a_correction_keeps_the_earlier_text_as_a_revision() -> None:
    publisher = user_create("publisher", roles=(Role.PUBLISHER,))
    item = published_announcement(title="原标题", body="原正文。", summary="原摘要")
    with time_machine.travel(datetime(2026, 3, 1, 2, 0, tzinfo=UTC), tick=False):
        item.body = "第一次更正的正文。"
        services.announcement_save(actor=actor_for(publisher), announcement=item)
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), tick=False):
        item.title = "更正后的标题"
        services.announcement_save(actor=SYSTEM, announcement=item)
    revisions = list(AnnouncementRevision.objects.filter(announcement=item).order_by("number"))
    assert [(r.number, r.title, r.summary, r.body) for r in revisions] == [
        (1, "原标题", "原摘要", "原正文。"),
        (2, "原标题", "原摘要", "第一次更正的正文。"),
    ]
    assert (revisions[0].replaced_by_user_id, revisions[0].replaced_by_name) == (publisher.pk, "publisher")
    assert revisions[1].replaced_by_name == "system"
    stored = Announcement.objects.get(pk=item.pk)
    assert stored.corrected_at == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    assert stored.body_html == "<p>第一次更正的正文。</p>\n"


def test_a_change_that_is_not_of_the_text_is_no_correction() -> None:
    item = published_announcement()
    item.source_url = "https://example.com/rule"
    services.announcement_save(actor=SYSTEM, announcement=item)
    assert not AnnouncementRevision.objects.exists()
    assert Announcement.objects.get(pk=item.pk).corrected_at is None


def test_an_editor_or_reviewer_cannot_correct_a_published_announcement() -> None:
    item = published_announcement(body="原正文。")
    for role in (Role.EDITOR, Role.REVIEWER):
        item.body = "改写"
        with pytest.raises(RoleRequired, match="“发布”角色"):
            services.announcement_save(
                actor=actor_for(user_create(role.value, roles=(role,))), announcement=item
            )
    assert Announcement.objects.get(pk=item.pk).body == "原正文。"
    assert not AnnouncementRevision.objects.exists()


def test_withdrawing_keeps_the_row_and_takes_it_off_the_listing() -> None:
    item = published_announcement()
    assert ListingCounter.objects.get(scope="all").published_count == 1
    with pytest.raises(ValidationError):
        services.announcement_withdraw(actor=SYSTEM, announcement=item, reason="")
    services.announcement_withdraw(actor=SYSTEM, announcement=item, reason="  内容有误  ")
    stored = Announcement.objects.get(pk=item.pk)
    assert (stored.status, stored.withdrawn_reason) == (Announcement.Status.WITHDRAWN, "内容有误")
    assert stored.withdrawn_at is not None
    assert ListingCounter.objects.get(scope="all").published_count == 0
    assert services.listing_counters_rebuild()["all"] == 0
    with pytest.raises(services.AnnouncementStateConflict, match="撤回"):
        services.announcement_publish(actor=SYSTEM, announcement=stored)
    with pytest.raises(services.AnnouncementStateConflict, match="发布过的公告不能删除"):
        services.announcement_delete(actor=SYSTEM, announcement=stored)


def _save_rewritten(notice: Announcement) -> None:
    notice.body = "改写的公示"
    services.announcement_save(actor=SYSTEM, announcement=notice)


STATUTORY_STEPS: dict[str, Callable[[Announcement], object]] = {
    "save": _save_rewritten,
    "withdraw": lambda n: services.announcement_withdraw(actor=SYSTEM, announcement=n, reason="不想要了"),
    "delete": lambda n: services.announcement_delete(actor=SYSTEM, announcement=n),
}


@pytest.mark.parametrize("step", STATUTORY_STEPS)
def test_a_statutory_notice_cannot_be_changed_withdrawn_or_deleted(step: str) -> None:
    notice = published_announcement(title="《规则》的更新公示", body="公示正文。", statutory=True)
    before = list(Announcement.objects.values_list())
    with pytest.raises(services.AnnouncementStateConflict, match="法定公示"):
        STATUTORY_STEPS[step](notice)
    assert list(Announcement.objects.values_list()) == before


def test_only_drafts_that_were_never_published_are_deleted() -> None:
    draft = draft_announcement()
    services.announcement_delete(actor=SYSTEM, announcement=draft)
    assert not Announcement.objects.filter(pk=draft.pk).exists()


# --- the database's guards -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("body", "改写的公示"),
        ("title", "改写"),
        ("summary", "改写"),
        ("status", "withdrawn"),
        ("statutory", False),
    ],
)
def test_a_raw_update_of_a_statutory_notice_fails(column: str, value: object) -> None:
    """The trigger holds on SQLite and PostgreSQL: a database client cannot rewrite a notice either."""
    notice = published_announcement(body="公示正文。", statutory=True)
    with pytest.raises(IntegrityError, match="statutory notice"):
        raw(f"UPDATE announcements_announcement SET {column} = %s WHERE id = %s", value, notice.pk)  # noqa: S608
    stored = Announcement.objects.get(pk=notice.pk)
    assert (stored.body, stored.statutory, stored.status) == ("公示正文。", True, "published")


def test_a_raw_update_of_a_statutory_notice_s_date_fails() -> None:
    notice = published_announcement(statutory=True)
    with pytest.raises(IntegrityError):
        raw(
            "UPDATE announcements_announcement SET published_at = %s WHERE id = %s",
            datetime(2020, 1, 1, tzinfo=UTC),
            notice.pk,
        )


def test_a_statutory_notice_s_category_may_still_be_moved_by_the_database() -> None:
    """Only the text, status, date and flag are frozen: what the notice says and when."""
    notice = published_announcement(statutory=True)
    elsewhere = category_create(slug="elsewhere")
    raw("UPDATE announcements_announcement SET category_id = %s WHERE id = %s", elsewhere.pk, notice.pk)
    assert Announcement.objects.get(pk=notice.pk).category_id == elsewhere.pk


@pytest.mark.parametrize("status", ["published", "withdrawn"])
def test_a_raw_delete_of_anything_published_fails(status: str) -> None:
    item = published_announcement()
    if status == "withdrawn":
        services.announcement_withdraw(actor=SYSTEM, announcement=item, reason="有误")
    with pytest.raises(IntegrityError, match="only a draft"):
        raw("DELETE FROM announcements_announcement WHERE id = %s", item.pk)
    assert Announcement.objects.filter(pk=item.pk).exists()


def test_a_raw_update_back_to_draft_fails_so_draft_means_never_published() -> None:
    item = published_announcement()
    with pytest.raises(IntegrityError, match="never returns to draft"):
        raw("UPDATE announcements_announcement SET status = 'draft' WHERE id = %s", item.pk)


def test_a_draft_can_be_deleted_by_the_database() -> None:
    draft = draft_announcement()
    raw("DELETE FROM announcements_announcement WHERE id = %s", draft.pk)
    assert not Announcement.objects.filter(pk=draft.pk).exists()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE announcements_announcementrevision SET body = 'rewritten' WHERE announcement_id = %s",
        "DELETE FROM announcements_announcementrevision WHERE announcement_id = %s",
    ],
)
def test_a_revision_is_never_changed_or_deleted(sql: str) -> None:
    item = published_announcement(body="原正文。")
    item.body = "更正后的正文。"
    services.announcement_save(actor=SYSTEM, announcement=item)
    with pytest.raises(IntegrityError, match="kept as it is"):
        raw(sql, item.pk)
    assert AnnouncementRevision.objects.get().body == "原正文。"


# --- what a reader sees --------------------------------------------------------------------------------


def corrected_item() -> Announcement:
    item = published_announcement(title="《发货规则》更新公告", body="卖家应在48小时内发货。")
    with time_machine.travel(datetime(2026, 3, 1, 2, 0, tzinfo=UTC), tick=False):
        item.body = "卖家应在24小时内发货。"
        services.announcement_save(actor=SYSTEM, announcement=item)
    return item


def test_the_page_lists_each_correction_with_its_time_and_diff(client: Client) -> None:
    item = corrected_item()
    html = client.get(f"/news/{item.pk}/").content.decode()
    assert "卖家应在24小时内发货。" in html
    section = html[html.index('<section class="corrections"') :]
    assert "更正记录" in section
    assert "第 1 次更正" in section
    assert '<time datetime="2026-03-01T02:00:00+00:00">2026-03-01 10:00</time>' in section
    # Marked by element and by words for screen readers, not by colour alone.
    assert '<del class="diff-del"><span class="visually-hidden">删除：</span>48</del>' in section
    assert '<ins class="diff-ins"><span class="visually-hidden">新增：</span>24</ins>' in section
    # The marks' styles are in the site's stylesheet (the CSP allows no inline style), which the page links.
    assert "/static/rulecenter/site.css" in html
    css = (Path(__file__).parents[2] / "common/static/rulecenter/site.css").read_text()
    assert ".corrections del { text-decoration: line-through; }" in css
    assert ".corrections ins { text-decoration: underline; }" in css


def test_the_corrections_section_speaks_english(client: Client) -> None:
    item = corrected_item()
    html = client.get(f"/news/{item.pk}/", headers={"accept-language": "en"}).content.decode()
    assert "Corrections" in html
    assert "Correction 1" in html
    assert "Deleted: " in html


def test_an_uncorrected_page_has_no_corrections_section(client: Client) -> None:
    item = published_announcement()
    html = client.get(f"/news/{item.pk}/").content.decode()
    assert "更正记录" not in html


def test_a_withdrawn_page_answers_410_with_when_and_why(client: Client) -> None:
    item = published_announcement(title="将被撤回的公告", body="原来的正文。")
    with time_machine.travel(datetime(2026, 3, 1, 2, 0, tzinfo=UTC), tick=False):
        services.announcement_withdraw(actor=SYSTEM, announcement=item, reason="内容有误，将更正后重新发布。")
    response = client.get(f"/news/{item.pk}/")
    assert response.status_code == 410
    html = response.content.decode()
    assert "将被撤回的公告" in html
    assert "此公告已撤回。" in html
    assert "内容有误，将更正后重新发布。" in html
    assert "2026-03-01 10:00" in html
    assert "原来的正文" not in html
    english = client.get(f"/news/{item.pk}/", headers={"accept-language": "en"}).content.decode()
    assert "This announcement has been withdrawn." in english
    assert "Reason for withdrawal" in english


def test_a_withdrawn_item_leaves_the_listing_and_every_feed(client: Client) -> None:
    item = published_announcement(title="将被撤回的公告")
    kept = published_announcement(title="留下的公告")
    etags = {fmt: client.get(f"/feeds/news.{fmt}")["ETag"] for fmt in ("rss", "atom", "json")}
    listing_etag = client.get("/news/")["ETag"]
    services.announcement_withdraw(actor=SYSTEM, announcement=item, reason="有误")
    listing = client.get("/news/", headers={"if-none-match": listing_etag})
    assert listing.status_code == 200
    assert "将被撤回的公告" not in listing.content.decode()
    assert kept.title in listing.content.decode()
    for fmt, etag in etags.items():
        feed = client.get(f"/feeds/news.{fmt}", headers={"if-none-match": etag})
        assert feed.status_code == 200
        assert "将被撤回的公告" not in feed.content.decode()
        assert "留下的公告" in feed.content.decode()


def test_a_correction_changes_the_etags_and_the_feeds_updated(client: Client) -> None:
    item = published_announcement(published_at=datetime(2026, 2, 1, 2, 0, tzinfo=UTC))
    atom_etag = client.get("/feeds/news.atom")["ETag"]
    listing_etag = client.get("/news/")["ETag"]
    with time_machine.travel(datetime(2026, 3, 1, 2, 0, tzinfo=UTC), tick=False):
        item.body = "更正后的正文。"
        services.announcement_save(actor=SYSTEM, announcement=item)
    atom = client.get("/feeds/news.atom", headers={"if-none-match": atom_etag})
    assert atom.status_code == 200
    updated = re.search(r"<updated>([^<]+)</updated>", atom.content.decode().split("<entry>")[1])
    assert updated is not None
    assert updated.group(1) == "2026-03-01T10:00:00+08:00"
    json_feed = client.get("/feeds/news.json").json()
    assert json_feed["items"][0]["date_modified"] == "2026-03-01T10:00:00+08:00"
    assert json_feed["items"][0]["date_published"] == "2026-02-01T10:00:00+08:00"
    assert client.get("/news/", headers={"if-none-match": listing_etag}).status_code == 200


def test_drafts_stay_404_on_the_site() -> None:
    draft = draft_announcement()
    assert Client().get(f"/news/{draft.pk}/").status_code == 404
