import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from rulecenter.announcements import services
from rulecenter.announcements.models import Announcement, ListingCounter
from rulecenter.common.actors import SYSTEM

from .factories import category_create, published_announcement

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return dict(ListingCounter.objects.values_list("scope", "published_count"))


def test_counters_follow_publish_withdraw_and_category_moves() -> None:
    rules, guides = category_create(slug="rules"), category_create(slug="guides")
    item = published_announcement(category=rules)
    draft = published_announcement(category=rules, status=Announcement.Status.DRAFT, published_at=None)
    assert counts() == {"all": 1, f"category:{rules.pk}": 1}

    services.announcement_publish(actor=SYSTEM, announcement=draft)
    assert counts()["all"] == 2

    item.category = guides
    services.announcement_save(actor=SYSTEM, announcement=item)
    assert counts() == {"all": 2, f"category:{rules.pk}": 1, f"category:{guides.pk}": 1}

    services.announcement_withdraw(actor=SYSTEM, announcement=item, reason="内容有误")
    assert counts() == {"all": 1, f"category:{rules.pk}": 1, f"category:{guides.pk}": 0}
    assert counts() == services.listing_counters_rebuild()


def test_every_change_to_a_published_item_bumps_the_version() -> None:
    item = published_announcement()
    before = ListingCounter.objects.get(scope="all").version
    item.title = "改过的标题"
    services.announcement_save(actor=SYSTEM, announcement=item)
    assert ListingCounter.objects.get(scope="all").version > before


def test_publishing_without_a_date_stamps_now() -> None:
    draft = published_announcement(status=Announcement.Status.DRAFT, published_at=None)
    services.announcement_publish(actor=SYSTEM, announcement=draft)
    draft.refresh_from_db()
    assert draft.published_at is not None


def test_an_empty_body_is_refused_and_nothing_is_stored() -> None:
    with pytest.raises(ValidationError, match="正文不能为空"):
        published_announcement(body="   ")
    assert not Announcement.objects.exists()
    assert not ListingCounter.objects.exists()


def test_a_bad_kind_is_refused() -> None:
    with pytest.raises(ValidationError):
        published_announcement(kind="rumour")
    assert not Announcement.objects.exists()


def test_a_published_announcement_cannot_be_deleted() -> None:
    item = published_announcement()
    with pytest.raises(ValidationError, match="发布过的公告不能删除"):
        services.announcement_delete(actor=SYSTEM, announcement=item)
    assert Announcement.objects.filter(pk=item.pk).exists()


def test_drafts_can_be_deleted() -> None:
    draft = published_announcement(status=Announcement.Status.DRAFT, published_at=None)
    services.announcement_delete(actor=SYSTEM, announcement=draft)
    assert not Announcement.objects.exists()


def test_the_database_refuses_a_published_row_without_a_date() -> None:
    """The constraint holds even for writes that bypass the services."""
    item = published_announcement()
    with pytest.raises(IntegrityError), transaction.atomic():
        Announcement.objects.filter(pk=item.pk).update(published_at=None)


def test_summary_wins_over_the_body_for_the_excerpt() -> None:
    item = published_announcement(summary="人工撰写的摘要", body="正文" * 300)
    assert item.excerpt == "人工撰写的摘要"
    long_item = published_announcement(body="正文" * 300)
    assert long_item.excerpt.endswith("…")
