from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from rulecenter.announcements import services
from rulecenter.announcements.models import Announcement, Category
from rulecenter.common.actors import SYSTEM, Actor


class _CategoryFactory(factory.django.DjangoModelFactory[Category]):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"category-{n}")  # type: ignore[attr-defined]
    name = factory.Sequence(lambda n: f"栏目{n}")  # type: ignore[attr-defined]


def category_create(**fields: Any) -> Category:
    category: Category = _CategoryFactory.create(**fields)
    return category


def published_announcement(**overrides: Any) -> Announcement:
    """A published announcement created through the service, so counters and excerpts are right."""
    defaults: dict[str, Any] = {
        "title": "《测试规则》更新公示",
        "body": "本次更新于2025年2月10日公示，2025年2月18日生效。",
        "category": overrides.pop("category", None) or category_create(),
        "status": Announcement.Status.PUBLISHED,
        "published_at": timezone.now() - timedelta(days=1),
    }
    defaults.update(overrides)
    return services.announcement_create(actor=SYSTEM, **defaults)


def published_series(
    count: int, *, category: Category | None = None, title: str = "公告"
) -> list[Announcement]:
    """`count` announcements one hour apart; the last created is the newest."""
    category = category or category_create()
    start = timezone.now() - timedelta(hours=count + 1)
    return [
        published_announcement(
            title=f"{title}{n + 1}", category=category, published_at=start + timedelta(hours=n)
        )
        for n in range(count)
    ]


def draft_announcement(*, actor: Actor = SYSTEM, **overrides: Any) -> Announcement:
    """A draft written by `actor` (its author; the platform's when SYSTEM)."""
    defaults: dict[str, Any] = {
        "title": "《测试规则》更新说明",
        "body": "本次更新于2025年2月10日公示，2025年2月18日生效。",
        "category": overrides.pop("category", None) or category_create(),
    }
    defaults.update(overrides)
    return services.announcement_create(actor=actor, **defaults)


def approved_draft(*, actor: Actor = SYSTEM, **overrides: Any) -> Announcement:
    """A draft by `actor`, approved by the platform (not its author): ready for a publisher."""
    draft = draft_announcement(actor=actor, **overrides)
    return services.announcement_approve(actor=SYSTEM, announcement=draft)
