import pytest
from django.contrib.auth.models import User
from django.test import Client

from rulecenter.announcements.models import Announcement, ListingCounter

from .factories import category_create, published_announcement

pytestmark = pytest.mark.django_db


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


def test_publishing_through_the_admin_lists_the_item_and_counts_it(editor_client: Client) -> None:
    """An editor's new published announcement appears at the top of /news/ and in the pager total."""
    category = category_create(slug="rules", name="规则变更")
    published_announcement(title="旧公告", category=category)
    response = editor_client.post(
        "/admin/announcements/announcement/add/",
        {
            "title": "《新规则》更新公示",
            "kind": Announcement.Kind.RULE_CHANGE,
            "category": category.pk,
            "summary": "",
            "body": "本次更新于2025年2月10日公示，2025年2月18日生效。",
            "source_url": "",
            "status": Announcement.Status.PUBLISHED,
            "published_at_0": "2099-01-01",
            "published_at_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    html = editor_client.get("/news/").content.decode()
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
    response = editor_client.post(f"/admin/announcements/announcement/{item.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Announcement.objects.filter(pk=item.pk).exists()


def test_unpublish_action_removes_the_item_from_the_listing(editor_client: Client) -> None:
    item = published_announcement(title="将被撤回")
    editor_client.post(
        "/admin/announcements/announcement/",
        {"action": "unpublish_selected", "_selected_action": [item.pk]},
    )
    html = editor_client.get("/news/").content.decode()
    assert "将被撤回" not in html
    assert "共0条" in html
