"""Events from the change hook: what subscribers hear of, written in the change's own transaction.

announcement.published / .corrected / .withdrawn — an announcement (topics: all, its category); one created
already published counts as published if dated within a day (an import of the archive tells no one);
rule.noticed / rule.effective — a rule version's notice (公示) and taking effect (生效), run by the
lifecycle runner at their times (topics: all, the rule, its category and those above it); announcement and
rule events carry their kind and category (a rule's with those above it: `categories`), which saved
searches' filters read, and `segments`, the slugs of the segments the change targets (empty: everyone),
which the fan-out reads (services.event_fan_out);
consultation.opened / .closing — raised by the worker at the window's opening and 24 hours before it closes,
scheduled when a consultation is created or its window changes; consultation.closed — when it closes and its
result is drafted; consultation.result_published — when its result report is published (instead of an
announcement.published for it) (topics: all, the consultation, the rules it consults on).
A case (cases app) raises no subscriber event: the member who filed it is e-mailed at each step, and the
reviewers when its deadline passes unanswered.
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.announcements.models import Announcement
from rulecenter.common.changes import ChangeAction, ContentChange, ContentKind
from rulecenter.consultations import selectors as consultation_selectors
from rulecenter.rules import selectors as rule_selectors

from . import services

ANNOUNCEMENT_EVENTS = {
    ChangeAction.PUBLISHED: "announcement.published",
    ChangeAction.CORRECTED: "announcement.corrected",
    ChangeAction.WITHDRAWN: "announcement.withdrawn",
}
VERSION_EVENTS = {ChangeAction.NOTICED: "rule.noticed", ChangeAction.EFFECTIVE: "rule.effective"}
# An announcement created already published is news if dated within this.
RECENT = timedelta(days=1)


def _site(path: str) -> str:
    return f"{settings.RULECENTER_SITE_URL.rstrip('/')}{path}"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _announcement_event(change: ContentChange) -> str | None:
    if change.action in ANNOUNCEMENT_EVENTS:
        return ANNOUNCEMENT_EVENTS[change.action]
    # Created already published: news of the day (an import of today's items, a rule's notice) is news;
    # an import of the archive is not.
    if change.action == ChangeAction.CREATED and change.data.get("status") == Announcement.Status.PUBLISHED:
        published_at = change.data.get("published_at")
        if isinstance(published_at, str) and datetime.fromisoformat(published_at) >= timezone.now() - RECENT:
            return "announcement.published"
    return None


def _consultation_changed(change: ContentChange) -> None:
    """Created or its window changed: its moments scheduled. Closed (its result drafted): told now."""
    for pk in change.ids:
        consultation = consultation_selectors.consultation_get_any(pk=pk)
        if consultation is None:
            continue
        if change.action in (ChangeAction.CREATED, ChangeAction.UPDATED):
            services.consultation_moments_schedule(
                consultation_id=pk, opens_at=consultation.opens_at, closes_at=consultation.closes_at
            )
        elif (
            change.action == ChangeAction.RESULT_DRAFTED and consultation.closes_at >= timezone.now() - RECENT
        ):
            topics, data = services.consultation_event_data(consultation)
            services.event_record(
                type="consultation.closed", topics=topics, data=data, at=consultation.closes_at,
                key=f"consultation.closed:{pk}",
            )  # fmt: skip


def content_changed(*, change: ContentChange, **kwargs: Any) -> None:
    event_type = _announcement_event(change) if change.kind == ContentKind.ANNOUNCEMENT else None
    if event_type is not None:
        targeted = announcement_selectors.announcement_segments(ids=change.ids)
        for announcement in announcement_selectors.announcements_with_category(ids=change.ids):
            if announcement.statutory and announcement.kind == Announcement.Kind.RULE_CHANGE:
                # The lifecycle's notice of a rule change: told once, as rule.noticed (with its news
                # category among the topics), not a second time as an announcement.
                continue
            if (
                announcement.kind == Announcement.Kind.CONSULTATION_RESULT
                and event_type == "announcement.published"
            ):
                consultation = consultation_selectors.consultation_with_result(
                    announcement_id=announcement.pk
                )
                if consultation is not None:
                    # The platform's answer to a consultation: told as such, to its followers too.
                    topics, data = services.consultation_event_data(consultation)
                    services.event_record(
                        type="consultation.result_published",
                        topics=[*topics, f"category:{announcement.category.slug}"],
                        data={
                            **data,
                            "url": _site(announcement.get_absolute_url()),
                            "result_title": announcement.title,
                            "kind": announcement.kind,
                            "category": announcement.category.slug,
                        },
                        key=f"consultation.result_published:{consultation.pk}",
                    )
                    continue
            services.event_record(
                type=event_type,
                topics=[f"category:{announcement.category.slug}"],
                data={
                    "id": announcement.pk,
                    "title": announcement.title,
                    "summary": announcement.summary or announcement.excerpt,
                    "kind": announcement.kind,
                    "category": announcement.category.slug,
                    "published_at": _iso(announcement.published_at),
                    "url": _site(announcement.get_absolute_url()),
                    "segments": [segment.slug for segment in targeted.get(announcement.pk, [])],
                },
            )
    elif change.kind == ContentKind.CONSULTATION:
        _consultation_changed(change)
    elif change.kind == ContentKind.CASE:
        # The member who filed it is told of every step (by e-mail, after the commit, by the worker).
        step_id = change.data.get("step")
        if isinstance(step_id, int):
            services.case_step_tell_schedule(step_id=step_id)
        # A case received or sent to human review has a new deadline: staff are told if it passes unanswered.
        due_at = change.data.get("due_at")
        if change.action in (ChangeAction.FILED, ChangeAction.ESCALATED) and isinstance(due_at, str):
            for pk in change.ids:
                services.case_deadline_schedule(case_id=pk, due_at=datetime.fromisoformat(due_at))
    elif change.kind == ContentKind.RULE_VERSION and change.action == ChangeAction.SCHEDULED:
        for version in rule_selectors.versions_with_rule_and_category(ids=change.ids):
            if version.acknowledgment_required and version.effective_at is not None:
                services.acknowledgment_reminder_schedule(
                    version_id=version.pk, effective_at=version.effective_at
                )
    elif change.kind == ContentKind.RULE_VERSION and change.action in VERSION_EVENTS:
        targeted = rule_selectors.version_segments(ids=change.ids)
        for version in rule_selectors.versions_with_rule_and_category(ids=change.ids):
            rule = version.rule
            topics = [f"rule:{rule.slug}"]
            if change.action == ChangeAction.NOTICED:
                topics.append(f"category:{settings.RULECENTER_RULE_NEWS_CATEGORY}")  # its notice in the news
            lineage = rule_selectors.category_lineage(rule.category_id)
            topics += [f"category:{slug}" for slug in lineage]  # its category and each one above it
            data = {
                "rule": rule.slug,
                "title": rule.title,
                "kind": rule.kind,
                "categories": lineage,
                "version": version.number,
                "summary": version.summary,
                "major": version.major,
                "acknowledgment_required": version.acknowledgment_required,
                "notice_at": _iso(version.notice_at),
                "effective_at": _iso(version.effective_at),
                "url": _site(rule.get_absolute_url()),
                "version_url": _site(version.get_absolute_url()),
                "segments": [segment.slug for segment in targeted.get(version.pk, [])],
            }
            if version.acknowledgment_required:
                data["acknowledge_url"] = _site(
                    reverse("rules:acknowledge", args=[rule.slug, version.number])
                )
            if version.number > 1:
                diff = reverse("rules:diff", args=[rule.slug])
                data["diff_url"] = _site(f"{diff}?from={version.number - 1}&to={version.number}")
            services.event_record(type=VERSION_EVENTS[change.action], topics=topics, data=data)
