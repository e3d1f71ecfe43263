"""Pages that compose several apps. Views parse input, call selectors and render; nothing else."""

import html
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_safe
from markupsafe import Markup

from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.announcements.models import Announcement
from rulecenter.audit import selectors as audit_selectors
from rulecenter.common.translations import for_reader
from rulecenter.ingest import selectors as ingest_selectors
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules.diff import char_diff

ANNOUNCEMENT_UNKNOWN = "公告不存在或已撤回。"


# What a correction may change, in the order the page lists them.
CORRECTED_FIELDS = (
    ("title", gettext_noop("标题")),
    ("summary", gettext_noop("摘要")),
    ("body", gettext_noop("正文")),
)


@dataclass(frozen=True, slots=True)
class CorrectedField:
    label: str
    diff: Markup  # the earlier text with deletions in <del> and insertions in <ins>, each also named in words


@dataclass(frozen=True, slots=True)
class CorrectionShown:
    number: int
    corrected_at: datetime
    fields: list[CorrectedField]


def _diff_html(before: str, after: str) -> Markup:
    """Deletions and insertions marked by <del>/<ins> and by hidden words for screen readers, not colour alone."""
    deleted, inserted = html.escape(_("删除：")), html.escape(_("新增："))
    parts = []
    for op, text in char_diff(before, after):
        escaped = html.escape(text)
        if op == "delete":
            parts.append(
                f'<del class="diff-del"><span class="visually-hidden">{deleted}</span>{escaped}</del>'
            )
        elif op == "insert":
            parts.append(
                f'<ins class="diff-ins"><span class="visually-hidden">{inserted}</span>{escaped}</ins>'
            )
        else:
            parts.append(escaped)
    return Markup("".join(parts))  # noqa: S704 - every piece of text is escaped above


def _corrections(announcement: Announcement) -> list[CorrectionShown]:
    shown = []
    for correction in announcement_selectors.announcement_corrections(announcement=announcement):
        fields = [
            CorrectedField(
                label=_(label),
                diff=_diff_html(getattr(correction.before, name), getattr(correction.after, name)),
            )
            for name, label in CORRECTED_FIELDS
            if getattr(correction.before, name) != getattr(correction.after, name)
        ]
        shown.append(CorrectionShown(correction.number, correction.corrected_at, fields))
    return shown


@require_safe
def news_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An announcement with its neighbours, the dates ingest read in it and its corrections (更正记录).

    A withdrawn announcement answers 410 with when and why; a draft is not found.
    """
    announcement = announcement_selectors.announcement_get_public(pk=pk)
    if announcement is None:
        raise Http404(_(ANNOUNCEMENT_UNKNOWN))
    if announcement.is_withdrawn:
        response = render(request, "site/news_withdrawn.html", {"announcement": announcement}, status=410)
    else:
        newer, older = announcement_selectors.announcement_neighbours(announcement=announcement)
        context = {
            "translation": for_reader(lambda: announcement_selectors.announcement_translations(ids=[pk])).get(
                pk
            ),
            "announcement": announcement,
            "newer": newer,
            "older": older,
            "facts": ingest_selectors.facts_for_announcement(announcement.pk),
            "corrections": _corrections(announcement),
            "segments": announcement_selectors.announcement_segments(ids=[pk]).get(pk, []),
            # A statutory notice shows the audit checkpoint made at its notice, for readers to keep.
            "audit_checkpoint": (
                audit_selectors.checkpoint_at_notice(
                    rule_selectors.versions_noticed_by(announcement_id=announcement.pk)
                )
                if announcement.statutory
                else None
            ),
        }
        response = render(request, "site/news_detail.html", context)
    patch_cache_control(response, public=True, max_age=settings.RULECENTER_HTTP_MAX_AGE)
    return response
