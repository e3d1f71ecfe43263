"""The demo data: the seed listing page's twelve items, in its order, as published announcements."""

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from django.db import transaction

from rulecenter.common.actors import SYSTEM

from . import services
from .models import Announcement, Category

SEED_FILE = Path(__file__).parent / "fixtures" / "listing-page-1.txt"
SHANGHAI = ZoneInfo("Asia/Shanghai")

CATEGORIES = [
    ("rule-changes", "规则变更", 1),
    ("consultations", "意见征集", 2),
    ("agreements", "协议变更", 3),
    ("guides", "规则解读", 4),
    ("topics", "专题", 5),
]

KIND_CATEGORY = {
    Announcement.Kind.RULE_CHANGE: "rule-changes",
    Announcement.Kind.CONSULTATION_RESULT: "consultations",
    Announcement.Kind.AGREEMENT_CHANGE: "agreements",
    Announcement.Kind.GUIDE: "guides",
    Announcement.Kind.COMPLIANCE: "guides",
    Announcement.Kind.TOPIC: "topics",
    Announcement.Kind.NEWS: "rule-changes",
}

# The seed shows no dates; these are plausible, strictly newest first, and agree with the texts
# (the change notices went out on 2025-02-10, after the January consultations closed).
PUBLISHED_AT = [
    datetime(2025, 2, 10, 18, 0, tzinfo=SHANGHAI),
    datetime(2025, 2, 10, 17, 0, tzinfo=SHANGHAI),
    datetime(2025, 2, 10, 16, 0, tzinfo=SHANGHAI),
    datetime(2025, 2, 10, 15, 0, tzinfo=SHANGHAI),
    datetime(2025, 1, 20, 10, 0, tzinfo=SHANGHAI),
    datetime(2025, 1, 10, 10, 0, tzinfo=SHANGHAI),
    datetime(2024, 12, 20, 10, 0, tzinfo=SHANGHAI),
    datetime(2024, 12, 10, 10, 0, tzinfo=SHANGHAI),
    datetime(2024, 11, 28, 10, 0, tzinfo=SHANGHAI),
    datetime(2024, 11, 15, 10, 0, tzinfo=SHANGHAI),
    datetime(2024, 11, 1, 10, 0, tzinfo=SHANGHAI),
    datetime(2024, 10, 20, 10, 0, tzinfo=SHANGHAI),
]
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class SeedItem:
    title: str
    excerpt: str


def seed_items(text: str | None = None) -> list[SeedItem]:
    """The items of a listing page in the seed's format: `• title`, a blank line, the excerpt."""
    lines = (SEED_FILE.read_text(encoding="utf-8") if text is None else text).splitlines()
    items: list[SeedItem] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("•"):
            following = [candidate.strip() for candidate in lines[index + 1 : index + 3] if candidate.strip()]
            items.append(
                SeedItem(title=stripped.lstrip("• ").strip(), excerpt=following[0] if following else "")
            )
    return items


def kind_for(title: str) -> Announcement.Kind:
    if "意见征集" in title:
        return Announcement.Kind.CONSULTATION_RESULT
    if "协议" in title:
        return Announcement.Kind.AGREEMENT_CHANGE
    if "避坑指南" in title or "处理规则" in title:
        return Announcement.Kind.GUIDE
    if "合规指引" in title:
        return Announcement.Kind.COMPLIANCE
    if "专题" in title:
        return Announcement.Kind.TOPIC
    if "公示" in title or "公告" in title:
        return Announcement.Kind.RULE_CHANGE
    return Announcement.Kind.NEWS


# An editor's English for one item, so English readers see how a translation is shown (issue 15).
TRANSLATED = {
    "《1688商家发货行为管理规范》的更新公告": (
        "Update to the “1688 Merchant Shipping Conduct Rules”",
        "Late-shipping compensation and the definition of fraudulent shipping change; noticed 10 February 2025, "
        "in force from 18 February 2025.",
    )
}


@transaction.atomic
def load_demo() -> int:
    """Create the seed's items unless they exist (matched by title); returns how many were created."""
    categories = {}
    for slug, name, position in CATEGORIES:
        categories[slug], _ = Category.objects.get_or_create(
            slug=slug, defaults={"name": name, "position": position}
        )
    created = 0
    for item, published_at in zip(seed_items(), PUBLISHED_AT, strict=True):
        if Announcement.objects.filter(title=item.title).exists():
            continue
        kind = kind_for(item.title)
        source = _URL.search(item.excerpt)
        announcement = services.announcement_create(
            actor=SYSTEM,
            title=item.title,
            body=item.excerpt,
            kind=kind,
            category=categories[KIND_CATEGORY[kind]],
            source_url=source.group(0) if source else "",
            status=Announcement.Status.PUBLISHED,
            published_at=published_at,
        )
        if item.title in TRANSLATED:
            title, summary = TRANSLATED[item.title]
            services.announcement_translate(
                actor=SYSTEM, announcement=announcement, language="en", title=title, summary=summary
            )
        created += 1
    return created
