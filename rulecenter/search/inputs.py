"""The search filters as the page and the API receive them, checked into a `Filters` or refused clearly."""

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.validators import slug_re
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.announcements.models import Announcement
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules.models import Rule

from .backends.tantivy import SOURCE_ANNOUNCEMENT, SOURCE_RULE
from .query import Filters

KINDS = (SOURCE_ANNOUNCEMENT, SOURCE_RULE)
TYPES = tuple(dict.fromkeys([*Announcement.Kind.values, *Rule.Kind.values]))

KIND_UNKNOWN = "类型“{value}”无效：可选 announcement（公告）或 rule（规则）。"
TYPE_UNKNOWN = "细分类型“{value}”无效：可选 {choices}。"
CATEGORY_UNKNOWN = "栏目或规则分类“{value}”不存在。"
DATE_INVALID = "日期“{value}”无效：请使用 YYYY-MM-DD 格式，例如 2025-02-18。"
DATE_ORDER = "开始日期不能晚于结束日期。"
PAGE_TOO_DEEP = "搜索结果只能翻到第 {last} 页（前 {limit} 条）：请换用更具体的关键词，或加上筛选条件。"


class FilterInvalid(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def parse_day(field: str, raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise FilterInvalid(field, _(DATE_INVALID).format(value=raw[:20])) from None


def last_page(size: int) -> int:
    """The deepest page a search reaches: RULECENTER_SEARCH_MAX_RESULTS results, `size` a page."""
    return max(1, settings.RULECENTER_SEARCH_MAX_RESULTS // size)


def page_check(raw_page: str | None, *, size: int) -> None:
    """Refuse a page past `last_page`: ranking that deep would cost one request the whole corpus."""
    page = (raw_page or "").strip()
    if not (page.isascii() and page.isdigit()):
        return  # not a number: the pager answers it with its own 404
    last = last_page(size)
    if len(page) > 9 or int(page) > last:
        limit = settings.RULECENTER_SEARCH_MAX_RESULTS
        raise FilterInvalid("page", _(PAGE_TOO_DEEP).format(last=last, limit=limit))


def category_exists(slug: str) -> bool:
    if len(slug) > 64 or not slug_re.fullmatch(slug):
        return False
    found = announcement_selectors.category_by_slug(slug) or rule_selectors.rule_category_by_slug(slug)
    return found is not None


def build_filters(
    *,
    kind: str | None = None,
    type: str | None = None,
    category: str | None = None,
    in_force: bool = False,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Filters:
    """Check the filters; raises FilterInvalid naming the field and saying what is accepted."""
    if kind and kind not in KINDS:
        raise FilterInvalid("kind", _(KIND_UNKNOWN).format(value=kind[:40]))
    if type and type not in TYPES:
        separator = pgettext("list separator", "、")
        raise FilterInvalid("type", _(TYPE_UNKNOWN).format(value=type[:40], choices=separator.join(TYPES)))
    if category and not category_exists(category):
        raise FilterInvalid("category", _(CATEGORY_UNKNOWN).format(value=category[:64]))
    if date_from and date_to and date_from > date_to:
        raise FilterInvalid("to", _(DATE_ORDER))
    return Filters(
        source=kind or None,
        type=type or None,
        category=category or None,
        in_force=in_force,
        date_from=_day_start(date_from) if date_from else None,
        # The last day counts whole: up to the start of the next one (9999-12-31 has none: no bound).
        date_to=_day_start(date_to + timedelta(days=1)) if date_to and date_to < date.max else None,
    )
