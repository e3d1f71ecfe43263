"""Importing listing pages: the seed's 12 items, idempotence, revisions, the footer's count, one transaction."""

from datetime import date
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.demo import SEED_FILE, kind_for, load_demo
from rulecenter.announcements.models import Announcement, Category, ListingCounter
from rulecenter.common.actors import SYSTEM
from rulecenter.ingest import listing, planning, services
from rulecenter.ingest.extract import EXTRACTOR_VERSION
from rulecenter.ingest.models import ExtractedFacts, ImportedItem, ImportRevision
from rulecenter.ingest.planning import Action
from rulecenter.ingest.services import IngestError
from rulecenter.search.models import OutboxEntry

pytestmark = pytest.mark.django_db

SEED_TEXT = SEED_FILE.read_text(encoding="utf-8")
PAGE_2 = """新闻动态
  • 《1688商品描述规范》更新公示

    本次更新于2024年10月8日公示，2024年10月16日生效。https://rulechannel.1688.com/?type=detail&ruleId=20001111&cId=3045
共13条 当前2/2页首页前一页12后一页尾页
"""


def seed_page(text: str = SEED_TEXT, name: str = "listing-page-1.txt") -> listing.ListingPage:
    return listing.parse(text, name=name)


def counts() -> tuple[int, int, int, int]:
    return (
        Announcement.objects.count(),
        ImportedItem.objects.count(),
        ExtractedFacts.objects.count(),
        ImportRevision.objects.count(),
    )


def published_count(scope: str = ListingCounter.ALL) -> int:
    counter = ListingCounter.objects.filter(scope=scope).first()
    return counter.published_count if counter else 0


def test_the_seed_imports_as_its_12_items_with_the_demos_kinds(client: Client) -> None:
    """Published, in the page's order, each kind what the demo data gives the same title."""
    report = services.listing_import(actor=SYSTEM, pages=[seed_page()])
    assert (report.imported, report.updated, report.skipped) == (12, 0, 0)
    assert report.source == "rulechannel.1688.com"
    announcements = list(Announcement.objects.order_by("-published_at"))
    assert [a.title for a in announcements] == [item.title for item in seed_page().items]
    assert [a.kind for a in announcements] == [kind_for(a.title) for a in announcements]
    assert all(a.status == Announcement.Status.PUBLISHED for a in announcements)
    assert announcements[1].source_url == "https://rulechannel.1688.com/?taskId=1188#/ruleHOR/detail"
    assert announcements[5].source_url == ""  # the pitfall guide links nowhere
    assert {a.category.slug for a in announcements} == {
        "rule-changes", "consultations", "agreements", "guides", "topics",
    }  # fmt: skip
    html = client.get("/news/").content.decode()
    assert "共12条" in html
    assert published_count() == 12


def test_the_seeds_facts_are_stored_with_each_item() -> None:
    services.listing_import(actor=SYSTEM, pages=[seed_page()])
    facts = {f.announcement.title: f for f in ExtractedFacts.objects.select_related("announcement")}
    first = facts["《1688指定渠道禁限售规则》和其相关规则的更新公示"]
    assert (first.kind, first.notice_date, first.effective_date) == (
        "rule_change_notice", date(2025, 2, 10), date(2025, 2, 18),
    )  # fmt: skip
    assert first.rule_names == ["1688指定渠道禁限售规则", "禁售商品规则-其他国家或地区禁售商品"]
    result = facts["关于《1688指定渠道禁限售规则》调整的意见征集结果反馈"]
    assert (result.comment_start, result.comment_end) == (date(2025, 1, 16), date(2025, 1, 23))
    assert result.links[0]["task_id"] == 1188
    shipping = facts["《1688商家发货行为管理规范》变更的意见征集结果反馈"]
    assert (shipping.comment_start, shipping.comment_end) == (date(2025, 1, 15), date(2025, 1, 22))
    assert all(f.extractor_version == EXTRACTOR_VERSION for f in facts.values())


def test_the_report_counts_the_footers_unseen_item() -> None:
    report = services.listing_import(actor=SYSTEM, pages=[seed_page()])
    assert (report.footer_total, report.seen, report.unseen) == (13, 12, 1)
    assert "列表页脚显示共 13 条，本次读到 12 条，还有 1 条未读到（已读第 1 页，共 2 页）" in report.summary()


def test_both_pages_leave_nothing_unseen() -> None:
    report = services.listing_import(actor=SYSTEM, pages=[seed_page(), seed_page(PAGE_2, "page-2.txt")])
    assert (report.imported, report.unseen) == (13, 0)
    assert "共 13 条，全部读到" in report.summary()
    # Page 2 is older than page 1: the listing keeps the source's order.
    oldest = Announcement.objects.order_by("published_at").values_list("title", flat=True)[0]
    assert oldest == "《1688商品描述规范》更新公示"


def test_importing_the_same_page_again_adds_nothing() -> None:
    services.listing_import(actor=SYSTEM, pages=[seed_page()])
    before = counts()
    counter = ListingCounter.objects.get(scope=ListingCounter.ALL)
    report = services.listing_import(actor=SYSTEM, pages=[seed_page()])
    assert (report.imported, report.updated, report.skipped) == (0, 0, 12)
    assert counts() == before
    assert ListingCounter.objects.get(scope=ListingCounter.ALL).version == counter.version
    assert "导入 0 条，更新 0 条，跳过 12 条" in report.summary()


def test_a_changed_excerpt_updates_the_item_and_keeps_the_old_text() -> None:
    services.listing_import(actor=SYSTEM, pages=[seed_page()])
    old = seed_page().items[2].excerpt
    changed = SEED_TEXT.replace("2025年2月18日生效。具体内容如下", "2025年2月20日生效。具体内容如下")
    report = services.listing_import(actor=SYSTEM, pages=[seed_page(changed)])
    assert (report.imported, report.updated, report.skipped) == (0, 1, 11)
    announcement = Announcement.objects.get(title="《1688商家发货行为管理规范》的更新公告")
    assert "2025年2月20日生效" in announcement.body
    revision = ImportRevision.objects.get()
    assert revision.excerpt == old
    assert revision.body == old
    assert revision.item.announcement == announcement
    assert announcement.extracted_facts.effective_date == date(2025, 2, 20)
    assert published_count() == 12


def test_a_title_seen_twice_is_imported_once() -> None:
    report = services.listing_import(actor=SYSTEM, pages=[seed_page(), seed_page(name="copy.txt")])
    assert (report.imported, report.count(Action.DUPLICATE), report.seen) == (12, 12, 12)
    assert Announcement.objects.count() == 12


def test_the_demos_announcements_are_linked_not_duplicated() -> None:
    """After `rulecenter loaddemo`, importing the seed links its 12 announcements and reads their facts."""
    load_demo()
    report = services.listing_import(actor=SYSTEM, pages=[seed_page()])
    assert (report.imported, report.skipped) == (0, 12)
    assert counts() == (12, 12, 12, 0)
    assert published_count() == 12


def test_a_different_source_keeps_its_own_items() -> None:
    services.listing_import(actor=SYSTEM, pages=[seed_page()])
    report = services.listing_import(actor=SYSTEM, pages=[seed_page()], source="mirror")
    assert report.imported == 12
    assert set(ImportedItem.objects.values_list("source", flat=True)) == {"rulechannel.1688.com", "mirror"}


def test_a_bulk_import_gives_what_one_by_one_gives() -> None:
    """Above the threshold rows go in bulk and the counters are recounted, in the same transaction."""
    services.listing_import(
        actor=SYSTEM, pages=[seed_page(), seed_page(PAGE_2, "page-2.txt")], bulk_threshold=0
    )
    announcements = list(Announcement.objects.order_by("-published_at"))
    assert len(announcements) == 13
    assert [a.kind for a in announcements] == [kind_for(a.title) for a in announcements]
    assert all(a.excerpt and a.body_html for a in announcements)
    assert published_count() == 13
    for category in Category.objects.all():
        scope = ListingCounter.scope_for(category.pk)
        assert published_count(scope) == category.announcements.count()
    assert ExtractedFacts.objects.count() == ImportedItem.objects.count() == 13


@pytest.mark.parametrize("bulk_threshold", [0, 200])
def test_every_imported_item_reaches_the_search_outbox(bulk_threshold: int) -> None:
    """Bulk or one by one, each new announcement gets its outbox row in the import's transaction."""
    services.listing_import(actor=SYSTEM, pages=[seed_page()], bulk_threshold=bulk_threshold)
    queued = set(
        OutboxEntry.objects.filter(entity=OutboxEntry.Entity.ANNOUNCEMENT).values_list("object_id", flat=True)
    )
    assert queued == set(Announcement.objects.values_list("pk", flat=True))


def test_a_failing_item_leaves_nothing_half_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fifth item fails: the four before it are rolled back with it, counters included."""
    real_create = announcement_services.announcement_create
    calls = {"n": 0}

    def failing_create(**kwargs: Any) -> Announcement:
        calls["n"] += 1
        if calls["n"] == 5:
            raise ValidationError({"title": "标题不合适。"})
        return real_create(**kwargs)

    monkeypatch.setattr(announcement_services, "announcement_create", failing_create)
    with pytest.raises(
        IngestError,
        match=r"文件“listing-page-1\.txt”第 \d+ 行《【年前商家反诈重点专题】.*无法导入：标题不合适。",
    ):
        services.listing_import(actor=SYSTEM, pages=[seed_page()])
    assert counts() == (0, 0, 0, 0)
    assert published_count() == 0
    assert not Category.objects.exists()


def test_a_dry_run_writes_nothing() -> None:
    report = services.listing_import(actor=SYSTEM, pages=[seed_page()], dry_run=True)
    assert report.imported == 12
    assert report.summary().startswith("预览（未写入）：导入 12 条")
    assert counts() == (0, 0, 0, 0)


def test_facts_from_an_older_extractor_are_read_again() -> None:
    services.listing_import(actor=SYSTEM, pages=[seed_page()])
    ExtractedFacts.objects.update(extractor_version=0, notice_date=None)
    report = services.listing_import(actor=SYSTEM, pages=[seed_page()])
    assert report.skipped == 12
    assert not ExtractedFacts.objects.exclude(extractor_version=EXTRACTOR_VERSION).exists()
    assert ExtractedFacts.objects.filter(notice_date=date(2025, 2, 10)).count() == 2


def test_one_announcement_text_imports_as_one_item() -> None:
    page = listing.single(
        "《淘宝网评价规范》变更公示\n本次变更于2025年3月3日公示，2025年3月11日生效。", name="粘贴的文本"
    )
    report = services.listing_import(actor=SYSTEM, pages=[page])
    assert (report.imported, report.source, report.footer_total) == (1, planning.SOURCE_UNKNOWN, None)
    assert "无法核对是否读全" in report.summary()
    announcement = Announcement.objects.get()
    assert announcement.kind == Announcement.Kind.RULE_CHANGE
    assert announcement.extracted_facts.effective_date == date(2025, 3, 11)


@pytest.mark.parametrize(
    ("kind", "title", "expected"),
    [
        ("consultation", "《某规则》意见征集", Announcement.Kind.NEWS),
        ("guide", "商品标签合规指引", Announcement.Kind.COMPLIANCE),
        ("other", "【反诈专题】", Announcement.Kind.TOPIC),
        ("other", "春节物流停运通知", Announcement.Kind.NEWS),
    ],
)
def test_kinds_the_listing_has_no_exact_match_for(kind: str, title: str, expected: Announcement.Kind) -> None:
    from rulecenter.ingest.extract import Kind

    assert planning.announcement_kind(Kind(kind), title) == expected
