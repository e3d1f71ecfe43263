"""The statutory calendar: /calendar/ for people and /calendar.ics (RFC 5545) for calendar apps."""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from icalendar import Calendar, Event

from rulecenter.audit import selectors as audit_selectors
from rulecenter.ingest import selectors as ingest_selectors
from rulecenter.rules import selectors
from rulecenter.rules.models import LifecycleEvent, Rule, RuleCategory

CATEGORY_UNKNOWN = "规则分类“{slug}”不存在。"
RULE_UNKNOWN = "规则“{slug}”不存在。"
KIND_SUMMARY = {
    LifecycleEvent.Kind.NOTICE: "公示",
    LifecycleEvent.Kind.EFFECTIVE: "生效",
    LifecycleEvent.Kind.BUFFER_END: "缓冲期结束",
}


def _filters(request: HttpRequest) -> tuple[Rule | None, RuleCategory | None]:
    rule = category = None
    if slug := request.GET.get("rule"):
        rule = selectors.public_rule_by_slug(slug[:100])
        if rule is None:
            raise Http404(_(RULE_UNKNOWN).format(slug=slug[:100]))
    if slug := request.GET.get("category"):
        category = selectors.rule_category_by_slug(slug[:64])
        if category is None:
            raise Http404(_(CATEGORY_UNKNOWN).format(slug=slug[:64]))
    return rule, category


@require_safe
def calendar_page(request: HttpRequest) -> HttpResponse:
    rule, category = _filters(request)
    now = timezone.now()
    entries: list[selectors.CalendarEntry | ingest_selectors.FactsCalendarEntry] = [
        *selectors.calendar_entries(rule=rule, category=category)
    ]
    if rule is None and category is None:
        # Dates read from imported announcements (other channels' notices) stand beside our own rules'.
        entries = sorted([*entries, *ingest_selectors.calendar_entries()], key=lambda e: e.at)
    upcoming = [e for e in entries if e.at >= now]
    past = [e for e in entries if e.at < now][::-1][:50]
    context = {
        "upcoming": upcoming,
        "past": past,
        "rule": rule,
        "category": category,
        "labels": {kind: pgettext("calendar", label) for kind, label in KIND_SUMMARY.items()},
        "query": request.GET.urlencode(),
        "nav": "calendar",
    }
    return render(request, "site/calendar.html", context)


def _ics_state(rule: Rule | None, category: RuleCategory | None) -> str:
    """What the calendar file's bytes depend on, in two cheap reads.

    Every content change announced through the change hook is an audit entry, so the audit head moves with
    each rule, version, bundle or announcement change; a version becomes public when its notice moment
    passes, which the count of noticed versions follows even before the lifecycle runner records it.
    """
    noticed = selectors.public_versions(at=timezone.now()).count()
    head = audit_selectors.audit_head().seq
    filters = f"{rule.pk if rule else ''}.{category.pk if category else ''}"
    return f"{head}.{noticed}.{filters}.{get_language()}"


def _if_none_match(request: HttpRequest, etag: str) -> bool:
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    return header.strip() == "*" or etag in (tag.strip() for tag in header.split(","))


@require_safe
def calendar_ics(request: HttpRequest) -> HttpResponse:
    """The calendar file, cached by its state like the news listing: an ETag, 304, the body in the cache."""
    rule, category = _filters(request)
    state = _ics_state(rule, category)
    etag = f'W/"{hashlib.blake2b(state.encode(), digest_size=8).hexdigest()}"'
    response: HttpResponse
    if _if_none_match(request, etag):
        response = HttpResponseNotModified()
    else:
        cache_key = f"calendar:ics:{state}"
        body = cache.get(cache_key) if settings.RULECENTER_PAGE_CACHE_SECONDS else None
        if body is None:
            body = _ics_body(rule, category)
            if settings.RULECENTER_PAGE_CACHE_SECONDS:
                cache.set(cache_key, body, timeout=settings.RULECENTER_PAGE_CACHE_SECONDS)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="rulecenter.ics"'
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={settings.RULECENTER_HTTP_MAX_AGE}"
    return response


def _ics_body(rule: Rule | None, category: RuleCategory | None) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//rulecenter//规则日历//ZH")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    name = "规则日历" + (f" · 《{rule.title}》" if rule else "") + (f" · {category.name}" if category else "")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", settings.TIME_ZONE)
    stamp = timezone.now()
    for entry in selectors.calendar_entries(rule=rule, category=category):
        version = entry.version
        event = Event()
        event.add("uid", f"{version.rule.slug}-v{version.number}-{entry.kind}@rulecenter")
        event.add("summary", f"《{version.rule.title}》第 {version.number} 版{KIND_SUMMARY[entry.kind]}")
        event.add("dtstart", entry.at)
        event.add("dtend", entry.at + timedelta(minutes=30))
        event.add("dtstamp", stamp)
        event.add("url", f"{settings.RULECENTER_SITE_URL}{version.get_absolute_url()}")
        description = version.summary or ""
        if version.major:
            description = f"[重大变更] {description}"
        event.add("description", description)
        event.add("categories", [KIND_SUMMARY[entry.kind]])
        calendar.add_component(event)
    if rule is None and category is None:
        for fact in ingest_selectors.calendar_entries():
            event = Event()
            event.add("uid", fact.uid)
            event.add("summary", f"{fact.label}：{fact.title}")
            event.add("dtstart", fact.at.date())
            event.add("dtstamp", stamp)
            event.add("url", f"{settings.RULECENTER_SITE_URL}{fact.url}")
            event.add("categories", [fact.label])
            calendar.add_component(event)
    return bytes(calendar.to_ical())
