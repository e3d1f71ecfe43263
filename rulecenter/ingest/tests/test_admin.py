"""Import from the admin: paste or upload, preview the facts, then save."""

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from rulecenter.announcements.demo import SEED_FILE
from rulecenter.announcements.models import Announcement
from rulecenter.ingest.models import ExtractedFacts, ImportedItem, ImportRevision

pytestmark = pytest.mark.django_db

URL = "/admin/ingest/importeditem/import/"
SEED_TEXT = SEED_FILE.read_text(encoding="utf-8")


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-root-123"))
    return client


def staff_with(*perms: str) -> Client:
    user = User.objects.create_user("clerk", password="pw-clerk-123", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


def test_the_changelist_links_the_import(admin_client: Client) -> None:
    html = admin_client.get("/admin/ingest/importeditem/").content.decode()
    assert URL in html
    assert "导入列表页或公告" in html


def test_pasting_the_seed_previews_every_item_and_writes_nothing(admin_client: Client) -> None:
    response = admin_client.post(
        URL, {"text": SEED_TEXT, "format": "auto", "encoding": "utf-8", "source": ""}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "预览（未写入）" not in html  # the preview's summary is what the import *would* do
    assert "导入 12 条，更新 0 条，跳过 0 条" in html
    assert "还有 1 条未读到" in html
    assert html.count('class="action-new"') == 12
    assert "2025-02-10" in html
    assert "2025-02-18" in html
    assert "2025-01-16 至 2025-01-23" in html
    assert "taskId=1188" in html
    assert 'name="_save"' in html
    assert not Announcement.objects.exists()


def test_confirming_the_preview_imports(admin_client: Client) -> None:
    response = admin_client.post(
        URL, {"text": SEED_TEXT, "format": "listing", "encoding": "utf-8", "source": "", "_save": "确认导入"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/ingest/importeditem/"
    assert (
        Announcement.objects.count() == ImportedItem.objects.count() == ExtractedFacts.objects.count() == 12
    )
    html = admin_client.get(response["Location"]).content.decode()
    assert "导入 12 条" in html  # the message
    assert "rulechannel.1688.com" in html


def test_uploading_a_file_works_like_pasting(admin_client: Client) -> None:
    upload = SimpleUploadedFile("page-1.txt", SEED_FILE.read_bytes(), content_type="text/plain")
    response = admin_client.post(URL, {"upload": upload, "format": "auto", "encoding": "utf-8", "source": ""})
    assert "导入 12 条" in response.content.decode()


def test_a_gbk_upload_gets_the_encoding_message(admin_client: Client) -> None:
    upload = SimpleUploadedFile("page-1.txt", SEED_TEXT.encode("gb18030"))
    response = admin_client.post(URL, {"upload": upload, "format": "auto", "encoding": "utf-8", "source": ""})
    html = response.content.decode()
    assert response.status_code == 200
    assert "看起来是 GBK/GB18030 编码" in html
    upload = SimpleUploadedFile("page-1.txt", SEED_TEXT.encode("gb18030"))
    response = admin_client.post(URL, {"upload": upload, "format": "auto", "encoding": "gbk", "source": ""})
    assert "导入 12 条" in response.content.decode()


def test_an_empty_form_and_a_binary_file_are_refused(admin_client: Client) -> None:
    html = admin_client.post(URL, {"text": "  ", "format": "auto", "encoding": "utf-8"}).content.decode()
    assert "请粘贴文本或选择一个文件" in html
    upload = SimpleUploadedFile("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    html = admin_client.post(URL, {"upload": upload, "format": "auto", "encoding": "utf-8"}).content.decode()
    assert "不是文本文件" in html
    html = admin_client.post(URL, {"text": "正文", "format": "listing", "encoding": "utf-8"}).content.decode()
    assert "不是新闻列表页" in html
    assert not Announcement.objects.exists()


def test_one_pasted_announcement_previews_and_imports(admin_client: Client) -> None:
    text = "《淘宝网评价规范》变更公示\n本次变更于2025年3月3日公示，2025年3月11日生效。"
    html = admin_client.post(URL, {"text": text, "format": "auto", "encoding": "utf-8"}).content.decode()
    assert "导入 1 条" in html
    assert "2025-03-11" in html
    admin_client.post(URL, {"text": text, "format": "announcement", "encoding": "utf-8", "_save": "1"})
    assert str(ExtractedFacts.objects.get().effective_date) == "2025-03-11"


def test_the_item_page_shows_its_revisions(admin_client: Client) -> None:
    admin_client.post(URL, {"text": SEED_TEXT, "format": "listing", "encoding": "utf-8", "_save": "1"})
    changed = SEED_TEXT.replace("2025年2月18日生效。具体内容如下", "2025年2月20日生效。具体内容如下")
    admin_client.post(URL, {"text": changed, "format": "listing", "encoding": "utf-8", "_save": "1"})
    revision = ImportRevision.objects.get()
    html = admin_client.get(f"/admin/ingest/importeditem/{revision.item_id}/change/").content.decode()
    assert "2025年2月18日生效" in html  # the old text, kept
    assert "/admin/announcements/announcement/" in html
    facts = admin_client.get("/admin/ingest/extractedfacts/").content.decode()
    assert "《1688指定渠道禁限售规则》" in facts


def test_imported_items_cannot_be_added_or_deleted_by_hand(admin_client: Client) -> None:
    assert admin_client.get("/admin/ingest/importeditem/add/").status_code == 403
    assert admin_client.get("/admin/ingest/extractedfacts/add/").status_code == 403


def test_the_import_needs_the_right_to_publish() -> None:
    """Imported items go out published: a clerk who may add announcements but not publish them may not import."""
    clerk = staff_with(
        "ingest.add_importeditem", "ingest.view_importeditem", "announcements.add_announcement"
    )
    assert clerk.get(URL).status_code == 403
    assert URL not in clerk.get("/admin/ingest/importeditem/").content.decode()


def test_a_publisher_with_the_import_right_may_import() -> None:
    publisher = staff_with(
        "ingest.add_importeditem", "announcements.add_announcement", "announcements.publish_announcement"
    )
    assert publisher.get(URL).status_code == 200
