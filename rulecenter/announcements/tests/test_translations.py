"""An editor's English title and summary for an announcement (issue 15): shown to English readers, marked as a
translation with the Chinese original beside it; written once, the newest shown; refused with the field and
reason when wrong, nothing stored; the database refuses rewriting one."""

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.announcements import services
from rulecenter.announcements.models import Announcement, AnnouncementTranslation
from rulecenter.audit.models import AuditEntry
from rulecenter.common.actors import SYSTEM

from .factories import draft_announcement, published_announcement

pytestmark = pytest.mark.django_db
ENGLISH = {"accept-language": "en"}
TITLE = "Shipping rules updated: orders ship within 24 hours"


def translate(client: Client, announcement: Announcement, token: str, **payload: Any) -> Any:
    body = {"language": "en", "title": TITLE, "summary": "What changes and when.", **payload}
    return client.post(
        f"/api/v1/announcements/{announcement.pk}/translations",
        body,
        content_type="application/json",
        headers=bearer(token),
    )


@pytest.fixture
def publisher_token() -> str:
    return token_for(user_create("publisher", roles=(Role.PUBLISHER,)))


@pytest.fixture
def news() -> Announcement:
    return published_announcement(title="《发货规则》更新公告", summary="发货时限缩短为24小时。")


def test_a_publisher_translates_and_english_readers_see_it_marked(
    client: Client, news: Announcement, publisher_token: str
) -> None:
    listing_before = client.get("/news/", headers=ENGLISH)
    response = translate(client, news, publisher_token)
    assert response.status_code == 201, response.content
    assert response.json()["title"] == TITLE

    detail = client.get(f"/news/{news.pk}/", headers=ENGLISH).content.decode()
    assert f'<h1 lang="en">{TITLE}</h1>' in detail
    assert "the Chinese original is binding" in detail
    assert '<span lang="zh-Hans">《发货规则》更新公告</span>' in detail
    assert "What changes and when." in detail

    # The English listing is cached by the counters' version: the translation shows at once.
    listing = client.get("/news/", headers={**ENGLISH, "if-none-match": listing_before["ETag"]})
    assert listing.status_code == 200
    page = listing.content.decode()
    assert f'lang="en">{TITLE}</a>' in page
    assert (
        '<p class="news-original">Translated title; original: <span lang="zh-Hans">《发货规则》更新公告</span></p>'
        in page
    )

    chinese = client.get(f"/news/{news.pk}/").content.decode()
    assert TITLE not in chinese
    assert TITLE not in client.get("/news/").content.decode()

    api = client.get(f"/api/v1/announcements/{news.pk}").json()
    assert [(t["language"], t["title"]) for t in api["translations"]] == [("en", TITLE)]
    entry = AuditEntry.objects.order_by("-seq").first()
    assert entry is not None
    assert (entry.kind, entry.action) == ("announcement", "translated")
    assert TITLE in (entry.data or "")


def test_a_better_translation_is_a_new_row_and_the_newest_is_shown(
    client: Client, news: Announcement, publisher_token: str
) -> None:
    assert translate(client, news, publisher_token, title="First try").status_code == 201
    assert translate(client, news, publisher_token, title="Shipping rules updated").status_code == 201
    detail = client.get(f"/news/{news.pk}/", headers=ENGLISH).content.decode()
    assert "Shipping rules updated" in detail
    assert "First try" not in detail
    kept = AnnouncementTranslation.objects.filter(announcement=news).order_by("id")
    assert [t.title for t in kept] == ["First try", "Shipping rules updated"]
    assert kept[0].translated_by_name == "publisher"


def test_who_may_translate_follows_who_may_publish(client: Client, news: Announcement) -> None:
    editor = user_create("editor", roles=(Role.EDITOR,))
    problem = translate(client, news, token_for(editor))
    assert problem.status_code == 403  # a published announcement: its translation is public at once
    draft = draft_announcement(actor=actor_for(editor))
    assert translate(client, draft, token_for(editor)).status_code == 201
    member = user_create("member")
    assert translate(client, draft, token_for(member)).status_code == 403
    assert AnnouncementTranslation.objects.filter(announcement=news).count() == 0


def test_a_withdrawn_announcement_is_not_translated(
    client: Client, news: Announcement, publisher_token: str
) -> None:
    services.announcement_withdraw(actor=SYSTEM, announcement=news, reason="内容有误。")
    response = translate(client, news, publisher_token)
    assert response.status_code == 409
    assert not AnnouncementTranslation.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field", "chinese", "english"),
    [
        ({"title": "  "}, "title", "译文标题不能为空。", "The translated title cannot be empty."),
        (
            {"title": "x" * 201},
            "title",
            "最多 200 个字符（现有 201 个）。",
            "At most 200 characters (201 given).",
        ),
        ({"summary": "y" * 2001}, "summary", "最多 2000 个字符", "At most 2000 characters"),
        ({"title": "a\u2028b"}, "title", "控制字符 U+2028", "U+2028"),
        ({"language": "fr"}, "language", "不提供“fr”的译文", "Translations into “fr” are not offered"),
    ],
)
def test_bad_input_names_the_field_in_the_reader_s_language_and_stores_nothing(
    client: Client,
    news: Announcement,
    publisher_token: str,
    payload: dict[str, str],
    field: str,
    chinese: str,
    english: str,
) -> None:
    for language, message in (("zh-hans", chinese), ("en", english)):
        response = client.post(
            f"/api/v1/announcements/{news.pk}/translations",
            {"title": TITLE, **payload},
            content_type="application/json",
            headers={**bearer(publisher_token), "accept-language": language},
        )
        assert response.status_code == 422, response.content
        errors = response.json()["errors"]
        assert [error["loc"] for error in errors] == [["body", field]]
        assert message in errors[0]["msg"]
    assert not AnnouncementTranslation.objects.exists()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE announcements_announcementtranslation SET title = 'rewritten'",
        "DELETE FROM announcements_announcementtranslation",
    ],
)
def test_the_database_refuses_rewriting_a_translation(news: Announcement, statement: str) -> None:
    services.announcement_translate(actor=SYSTEM, announcement=news, language="en", title=TITLE)
    with (
        pytest.raises(IntegrityError, match="written once"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AnnouncementTranslation.objects.get().title == TITLE


def test_the_admin_page_adds_a_translation_and_lists_the_earlier_ones(
    client: Client, news: Announcement
) -> None:
    publisher = user_create("chief", roles=(Role.PUBLISHER,), is_staff=True)
    client.force_login(publisher)
    services.announcement_translate(actor=SYSTEM, announcement=news, language="en", title="Earlier")
    url = f"/admin/announcements/announcement/{news.pk}/translate/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Earlier" in page.content.decode()
    response = client.post(url, {"language": "en", "title": TITLE, "summary": ""})
    assert response.status_code == 302
    assert AnnouncementTranslation.objects.filter(announcement=news).latest("id").title == TITLE
    change = client.get(f"/admin/announcements/announcement/{news.pk}/change/").content.decode()
    assert TITLE in change
    refused = client.post(url, {"language": "en", "title": "", "summary": ""})
    assert refused.status_code == 200  # the form again, with the field's error
    assert AnnouncementTranslation.objects.filter(announcement=news).count() == 2


def test_the_translated_titles_of_a_listing_page_cost_one_query_and_none_in_chinese(
    news: Announcement, client: Client, django_assert_num_queries: Any
) -> None:
    services.announcement_translate(actor=SYSTEM, announcement=news, language="en", title=TITLE)
    with django_assert_num_queries(2):  # as ever: the counters, the rows
        assert TITLE not in client.get("/news/").content.decode()
    with django_assert_num_queries(3):  # and the translations of the rows shown
        assert TITLE in client.get("/news/?lang=en").content.decode()
