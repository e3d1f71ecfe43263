from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from rulecenter.accounts.models import Role
from rulecenter.accounts.tests.factories import user_create
from rulecenter.announcements.models import Announcement, ListingCounter

from .factories import category_create, published_announcement
from .matrix import (
    CELLS,
    COMMENT,
    CORRECTED_BODY,
    EDITED_TITLE,
    NEW_TITLE,
    REASON,
    Cell,
    assert_done,
    cell_setup,
    snapshot,
)

pytestmark = pytest.mark.django_db

ADMIN = "/admin/announcements/announcement/"
ADD = f"{ADMIN}add/"


def change_url(item: Announcement) -> str:
    return f"{ADMIN}{item.pk}/change/"


def review_url(item: Announcement) -> str:
    return f"{ADMIN}{item.pk}/review/"


def publish_url(item: Announcement) -> str:
    return f"{ADMIN}{item.pk}/publish/"


def withdraw_url(item: Announcement) -> str:
    return f"{ADMIN}{item.pk}/withdraw/"


def delete_url(item: Announcement) -> str:
    return f"{ADMIN}{item.pk}/delete/"


def form_data(*, category: int, published_at: datetime | None = None, **fields: str) -> dict[str, Any]:
    """The change form as a browser posts it (with the read-only revisions inline's management form)."""
    data: dict[str, Any] = {
        "title": "《测试规则》更新公示",
        "kind": Announcement.Kind.NEWS,
        "category": category,
        "summary": "",
        "body": "本次更新于2025年2月10日公示，2025年2月18日生效。",
        "source_url": "",
        "revisions-TOTAL_FORMS": "0",
        "revisions-INITIAL_FORMS": "0",
        "revisions-MIN_NUM_FORMS": "0",
        "revisions-MAX_NUM_FORMS": "1000",
        **fields,
    }
    if published_at is not None:
        local = timezone.localtime(published_at)
        data["published_at_0"] = local.date().isoformat()
        data["published_at_1"] = local.time().isoformat()
    return data


def messages_of(response: Any) -> str:
    return " ".join(str(message) for message in get_messages(response.wsgi_request))


def admin_call(client: Client, cell: Cell) -> Any:
    """The admin request that performs the cell's action, as the pages' forms and buttons post it."""
    item = cell.subject
    match cell.action:
        case "create_draft":
            return client.post(ADD, form_data(category=cell.category.pk, title=NEW_TITLE))
        case "edit_draft":
            assert item is not None
            return client.post(
                change_url(item), form_data(category=item.category_id, title=EDITED_TITLE, body=item.body)
            )
        case "approve":
            assert item is not None
            return client.post(review_url(item), {"_approve": "1", "comment": ""})
        case "send_back":
            assert item is not None
            return client.post(review_url(item), {"_send_back": "1", "comment": COMMENT})
        case "publish":
            assert item is not None
            return client.post(publish_url(item))
        case "correct":
            assert item is not None
            data = form_data(
                category=item.category_id,
                title=item.title,
                body=CORRECTED_BODY,
                published_at=item.published_at,
            )
            return client.post(change_url(item), data)
        case "withdraw":
            assert item is not None
            return client.post(withdraw_url(item), {"reason": REASON})
        case "delete":
            assert item is not None
            return client.post(delete_url(item), {"post": "yes"})
    raise AssertionError(cell.action)


@pytest.fixture
def editor_client(client: Client) -> Client:
    admin = User.objects.create_superuser("editor", "editor@example.com", "pw-editor-123")
    client.force_login(admin)
    return client


def test_admin_is_chinese_by_default(editor_client: Client) -> None:
    html = editor_client.get("/admin/announcements/announcement/").content.decode()
    assert "公告" in html
    assert "选择" in html  # Django's own admin strings are in Chinese too


def test_admin_speaks_english_when_asked(editor_client: Client) -> None:
    html = editor_client.get("/admin/", headers={"accept-language": "en"}).content.decode()
    assert "Site administration" in html


def test_the_path_through_the_admin_from_draft_to_the_listing(client: Client) -> None:
    """An editor's draft, approved by a reviewer on the review page, published by a publisher: on /news/."""
    category = category_create(slug="rules", name="规则变更")
    published_announcement(title="旧公告", category=category)
    editor, reviewer, publisher = (
        user_create(role.value, roles=(role,), is_staff=True)
        for role in (Role.EDITOR, Role.REVIEWER, Role.PUBLISHER)
    )
    client.force_login(editor)
    response = client.post(ADD, form_data(category=category.pk, title="《新规则》更新公示"))
    assert response.status_code == 302, response.content.decode()[:2000]
    draft = Announcement.objects.get(title="《新规则》更新公示")
    assert (draft.status, draft.author_id) == (Announcement.Status.DRAFT, editor.pk)
    assert "《新规则》更新公示" not in client.get("/news/").content.decode()

    client.force_login(reviewer)
    change_page = client.get(change_url(draft)).content.decode()
    assert review_url(draft) in change_page
    assert client.post(review_url(draft), {"_approve": "1"}).status_code == 302

    client.force_login(publisher)
    assert publish_url(draft) in client.get(change_url(draft)).content.decode()
    assert client.post(publish_url(draft)).status_code == 302
    html = client.get("/news/").content.decode()
    assert html.index("《新规则》更新公示") < html.index("旧公告")
    assert "共2条" in html
    assert ListingCounter.objects.get(scope=ListingCounter.ALL).published_count == 2


def test_admin_refuses_an_empty_body_and_stores_nothing(editor_client: Client) -> None:
    category = category_create()
    response = editor_client.post(
        "/admin/announcements/announcement/add/",
        {"title": "空正文", "kind": "news", "category": category.pk, "body": "", "status": "draft"},
    )
    assert response.status_code == 200
    assert "这个字段是必填项" in response.content.decode()
    assert not Announcement.objects.exists()


def test_published_announcements_cannot_be_deleted_in_the_admin(editor_client: Client) -> None:
    item = published_announcement()
    assert editor_client.get(delete_url(item)).status_code == 403
    response = editor_client.post(delete_url(item), {"post": "yes"})
    assert "发布过的公告不能删除" in messages_of(response)
    assert Announcement.objects.filter(pk=item.pk).exists()


def test_withdrawing_through_the_admin_asks_for_a_reason_and_keeps_the_row(editor_client: Client) -> None:
    item = published_announcement(title="将被撤回")
    page = editor_client.get(withdraw_url(item))
    assert page.status_code == 200
    assert "撤回原因" in page.content.decode()
    refused = editor_client.post(withdraw_url(item), {"reason": ""})
    assert refused.status_code == 200
    assert Announcement.objects.get(pk=item.pk).is_published
    assert editor_client.post(withdraw_url(item), {"reason": "内容有误"}).status_code == 302
    stored = Announcement.objects.get(pk=item.pk)
    assert (stored.status, stored.withdrawn_reason) == (Announcement.Status.WITHDRAWN, "内容有误")
    html = editor_client.get("/news/").content.decode()
    assert "将被撤回" not in html
    assert "共0条" in html
    assert editor_client.get(f"/news/{item.pk}/").status_code == 410


def test_a_statutory_notice_is_read_only_in_the_admin(editor_client: Client) -> None:
    notice = published_announcement(title="《规则》的更新公示", body="公示正文。", statutory=True)
    page = editor_client.get(change_url(notice)).content.decode()
    assert "发布后不能修改、撤回或删除" in page
    assert 'name="body"' not in page  # no editable field
    assert withdraw_url(notice) not in page
    response = editor_client.post(change_url(notice), form_data(category=notice.category_id, body="改写"))
    assert "法定公示" in messages_of(response)
    assert editor_client.post(withdraw_url(notice), {"reason": "不要了"}).status_code == 200
    assert "法定公示" in messages_of(editor_client.post(delete_url(notice), {"post": "yes"}))
    stored = Announcement.objects.get(pk=notice.pk)
    assert (stored.body, stored.status) == ("公示正文。", Announcement.Status.PUBLISHED)


def test_revisions_are_shown_read_only_on_the_change_page(editor_client: Client) -> None:
    item = published_announcement(body="原正文。")
    response = editor_client.post(
        change_url(item),
        form_data(category=item.category_id, body="更正后的正文。", published_at=item.published_at),
    )
    assert response.status_code == 302, messages_of(response) or response.content.decode()[:3000]
    page = editor_client.get(change_url(item)).content.decode()
    assert "更正记录" in page
    assert "原正文。" in page
    assert 'name="revisions-0-body"' not in page


@pytest.mark.parametrize(("actor_name", "action"), CELLS)
def test_every_role_and_action_through_the_admin(client: Client, actor_name: str, action: str) -> None:
    """The same table as the API's: allowed steps are done; forbidden ones change nothing and say which role."""
    cell = cell_setup(actor_name, action, is_staff=True)
    client.force_login(cell.user)
    before = snapshot()
    response = admin_call(client, cell)
    if cell.allowed:
        assert response.status_code == 302, messages_of(response) or response.content.decode()[:3000]
        assert_done(cell)
    else:
        assert response.status_code in (200, 302), response.status_code
        assert cell.refusal in messages_of(response)
        assert snapshot() == before


def test_the_author_cannot_approve_their_own_draft_in_the_admin(editor_client: Client) -> None:
    """A superuser holds every role, and still needs a second pair of eyes."""
    category = category_create()
    editor_client.post(ADD, form_data(category=category.pk, title="自审"))
    draft = Announcement.objects.get(title="自审")
    response = editor_client.post(review_url(draft), {"_approve": "1"})
    assert "四眼原则" in messages_of(response)
    assert Announcement.objects.get(pk=draft.pk).approved_at is None


def test_the_changelist_actions_refuse_with_a_message_never_an_error(editor_client: Client) -> None:
    draft = published_announcement(title="未审核的草稿", status=Announcement.Status.DRAFT, published_at=None)
    item = published_announcement(title="已发布")
    response = editor_client.post(
        ADMIN, {"action": "publish_selected", "_selected_action": [draft.pk, item.pk]}, follow=True
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "《未审核的草稿》尚未审核通过" in page
    assert "《已发布》已经发布" in page
    assert Announcement.objects.get(pk=draft.pk).status == Announcement.Status.DRAFT
    approved = editor_client.post(
        ADMIN, {"action": "approve_selected", "_selected_action": [draft.pk]}, follow=True
    )
    assert "已审核通过 1 条公告" in approved.content.decode()  # the system wrote it: anyone may approve
    published = editor_client.post(
        ADMIN, {"action": "publish_selected", "_selected_action": [draft.pk]}, follow=True
    )
    assert "已发布 1 条公告" in published.content.decode()
    assert Announcement.objects.get(pk=draft.pk).is_published


def test_a_withdrawn_announcement_is_read_only_in_the_admin(editor_client: Client) -> None:
    item = published_announcement(title="已撤回的公告")
    editor_client.post(withdraw_url(item), {"reason": "内容有误"})
    page = editor_client.get(change_url(item)).content.decode()
    assert "已撤回的公告不能再修改或发布" in page
    assert 'name="title"' not in page
    assert "内容有误" in page


def test_the_review_and_withdraw_pages_open_for_their_roles_only(client: Client) -> None:
    draft = published_announcement(title="草稿", status=Announcement.Status.DRAFT, published_at=None)
    item = published_announcement(title="已发布")
    reviewer = user_create("reviewer", roles=(Role.REVIEWER,), is_staff=True)
    editor = user_create("editor", roles=(Role.EDITOR,), is_staff=True)
    client.force_login(reviewer)
    page = client.get(review_url(draft))
    assert page.status_code == 200
    assert "四眼原则" in page.content.decode()
    assert client.get(withdraw_url(item)).status_code == 403
    client.force_login(editor)
    assert client.get(review_url(draft)).status_code == 403
    change_page = client.get(change_url(draft)).content.decode()
    assert review_url(draft) not in change_page
    assert publish_url(draft) not in change_page
