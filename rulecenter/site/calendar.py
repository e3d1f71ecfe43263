"""The statutory calendar: /calendar/ for people and /calendar.ics (RFC 5545) for calendar apps."""

from datetime import timedelta

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from icalendar import Calendar, Event

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
        "labels": KIND_SUMMARY,
        "query": request.GET.urlencode(),
        "nav": "calendar",
    }
    return render(request, "site/calendar.html", context)


@require_safe
def calendar_ics(request: HttpRequest) -> HttpResponse:
    rule, category = _filters(request)
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
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="rulecenter.ics"'
    return response
