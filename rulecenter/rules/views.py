"""Public rule pages: library, point in time, history, diff, downloads, bundles with exit requests."""

import json
from datetime import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from rulecenter.accounts.roles import actor_for
from rulecenter.common.pagination import pager_for
from rulecenter.common.sessions import private_page
from rulecenter.common.text import (
    INSTANT_OUT_OF_RANGE,
    instant_representable,
    local_minute,
    markdown_to_text,
)
from rulecenter.common.translations import TranslationText, for_reader

from . import selectors, services
from .clauses import parse_clauses
from .models import Rule, RuleVersion
from .rendered import clauses_html, frozen_cached, versions_diff

RULE_UNKNOWN = "规则“{slug}”不存在。"
VERSION_UNKNOWN = "《{rule}》没有第 {number} 版（或尚未公示）。"
AT_INVALID = "时间“{value}”无效：请使用 ISO 8601 格式，例如 2025-02-17T12:00+08:00。"
NOT_YET_IN_FORCE = "《{rule}》在 {at} 尚无生效版本。"
DIFF_PARAMS = "请用 from 和 to 指定两个版本号，例如 ?from=1&to=2。"
BUNDLE_UNKNOWN = "变更包不存在或尚未公示。"


def _rule_or_404(slug: str) -> Rule:
    # A rule none of whose versions has been noticed yet is not public: its page is a 404 like an unknown one.
    rule = selectors.public_rule_by_slug(slug)
    if rule is None:
        raise Http404(_(RULE_UNKNOWN).format(slug=slug))
    return rule


class InstantOutOfRange(ValueError):
    """A well-formed instant that no query can compare: it falls outside the years 1 to 9999 in UTC."""


def parse_instant(value: str) -> datetime:
    """An ISO 8601 instant from a query string; a date alone means its start in the site's time zone."""
    try:
        parsed = parse_datetime(value.strip().replace(" ", "+"))
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(value)
    try:
        instant = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
    except OverflowError:
        raise InstantOutOfRange(value) from None
    if not instant_representable(instant):
        raise InstantOutOfRange(value)  # 9999-12-31T23:59-12:00 is past the last instant a query can compare
    return instant


def _version_or_404(rule: Rule, raw: str | None) -> RuleVersion:
    number = int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) < 10 else 0
    version = selectors.version_by_number(rule=rule, number=number) if number else None
    if version is None:
        raise Http404(_(VERSION_UNKNOWN).format(rule=rule.title, number=(raw or "")[:12]))
    return version


@require_safe
def rule_library(request: HttpRequest) -> HttpResponse:
    return render(request, "rules/library.html", {"nodes": selectors.rule_library(), "nav": "rules"})


@require_safe
def rule_detail(request: HttpRequest, slug: str) -> HttpResponse:
    rule = _rule_or_404(slug)
    now = timezone.now()
    raw_at = request.GET.get("at")
    historical = raw_at is not None
    if raw_at is not None:
        try:
            at = parse_instant(raw_at)
        except InstantOutOfRange:
            raise Http404(_(INSTANT_OUT_OF_RANGE).format(value=raw_at[:40])) from None
        except ValueError:
            raise Http404(_(AT_INVALID).format(value=raw_at[:40])) from None
    else:
        at = now
    version = selectors.version_in_force(rule=rule, at=at, now=now)
    upcoming = selectors.version_next(rule=rule, at=now)
    if version is None and (upcoming is None or historical):
        raise Http404(_(NOT_YET_IN_FORCE).format(rule=rule.title, at=local_minute(at)))
    shown = [v.pk for v in (version, upcoming) if v is not None]
    segments = selectors.version_segments(ids=shown)
    context = {
        "rule": rule,
        "version": version,
        "version_segments": segments.get(version.pk, []) if version else [],
        "clauses": clauses_html(version) if version else [],
        "at": at,
        "historical": historical,
        "future": historical and at > now,
        "current": selectors.version_in_force(rule=rule, at=now, now=now) if historical else version,
        "upcoming": upcoming,
        "upcoming_segments": segments.get(upcoming.pk, []) if upcoming else [],
        "translation": _translation(version),
        "now": now,
        "nav": "rules",
    }
    return render(request, "rules/rule_detail.html", context)


def _translation(version: RuleVersion | None) -> TranslationText | None:
    """The version's translation for this reader (English), if an editor gave one."""
    if version is None:
        return None
    return for_reader(lambda: selectors.version_translations(ids=[version.pk])).get(version.pk)


@require_safe
def rule_history(request: HttpRequest, slug: str) -> HttpResponse:
    rule = _rule_or_404(slug)
    now = timezone.now()
    total = selectors.version_count(rule=rule, at=now)
    pager = pager_for(
        raw_page=request.GET.get("page"),
        total=total,
        size=settings.RULECENTER_HISTORY_PAGE_SIZE,
        window=settings.RULECENTER_PAGER_WINDOW,
    )
    rows = selectors.version_history(rule=rule, offset=pager.offset, limit=pager.size, at=now, total=total)
    context = {"rule": rule, "rows": rows, "pager": pager, "page_query": "page=", "nav": "rules"}
    return render(request, "rules/history.html", context)


@require_safe
def rule_diff(request: HttpRequest, slug: str) -> HttpResponse:
    rule = _rule_or_404(slug)
    if not request.GET.get("from") or not request.GET.get("to"):
        raise Http404(_(DIFF_PARAMS))
    old = _version_or_404(rule, request.GET.get("from"))
    new = _version_or_404(rule, request.GET.get("to"))
    result, rows = versions_diff(old, new)
    view = "inline" if request.GET.get("view") == "inline" else "side"
    context = {
        "rule": rule,
        "old": old,
        "new": new,
        "result": result,
        "rows": rows,
        "view": view,
        "translation": _translation(new),
        "nav": "rules",
    }
    return render(request, "rules/diff.html", context)


@require_safe
def version_detail(request: HttpRequest, slug: str, number: str) -> HttpResponse:
    rule = _rule_or_404(slug)
    version = _version_or_404(rule, number)
    status = selectors.version_status(version=version, at=timezone.now())
    context = {
        "rule": rule,
        "version": version,
        "status": status,
        "segments": selectors.version_segments(ids=[version.pk]).get(version.pk, []),
        "clauses": clauses_html(version),
        "translation": _translation(version),
        "nav": "rules",
    }
    return render(request, "rules/version.html", context)


def version_as_dict(version: RuleVersion, *, status: str) -> dict[str, object]:
    return {
        "rule": version.rule.slug,
        "title": version.rule.title,
        "number": version.number,
        "status": status,
        "major": version.major,
        "summary": version.summary,
        "notice_at": version.notice_at.isoformat() if version.notice_at else None,
        "effective_at": version.effective_at.isoformat() if version.effective_at else None,
        "buffer_ends_at": version.buffer_ends_at.isoformat() if version.buffer_ends_at else None,
        "text": version.text,
        "clauses": frozen_cached(
            "download-clauses",
            version,
            lambda: [
                {"anchor": c.anchor, "label": c.label, "title": c.title, "text": c.text}
                for c in parse_clauses(version.text)
            ],
        ),
    }


@require_safe
def version_download(request: HttpRequest, slug: str, number: str, fmt: str) -> HttpResponse:
    rule = _rule_or_404(slug)
    version = _version_or_404(rule, number)
    filename = f"{rule.slug}-v{version.number}.{fmt}"
    if fmt == "json":
        status = selectors.version_status(version=version, at=timezone.now())
        body = json.dumps(version_as_dict(version, status=status), ensure_ascii=False, indent=2)
        content_type = "application/json; charset=utf-8"
    elif fmt == "md":
        header = f"# 《{rule.title}》第 {version.number} 版\n\n"
        body = header + version.text.rstrip() + "\n"
        content_type = "text/markdown; charset=utf-8"
    else:
        text = frozen_cached("download-text", version, lambda: markdown_to_text_blocks(version.text))
        body = f"《{rule.title}》第 {version.number} 版\n\n" + text
        content_type = "text/plain; charset=utf-8"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def markdown_to_text_blocks(text: str) -> str:
    """Plain text keeping one paragraph per clause."""
    return (
        "\n\n".join(
            f"{c.label}{(' ' + c.title) if c.title else ''} {markdown_to_text(c.text)}".strip()
            for c in parse_clauses(text)
        )
        + "\n"
    )


@private_page
@require_safe
def bundle_detail(request: HttpRequest, pk: int) -> HttpResponse:
    bundle = selectors.bundle_get(pk=pk)
    if bundle is None:
        raise Http404(_(BUNDLE_UNKNOWN))
    versions = list(bundle.versions.all())
    now = timezone.now()
    first = versions[0]
    in_notice = (
        first.notice_at is not None
        and first.effective_at is not None
        and first.notice_at <= now < first.effective_at
    )
    already = request.user.is_authenticated and bundle.exit_requests.filter(user_id=request.user.pk).exists()
    context = {
        "bundle": bundle,
        "versions": versions,
        "in_notice": in_notice,
        "already": already,
        "nav": "rules",
    }
    return render(request, "rules/bundle.html", context)


@private_page
@require_POST
@login_required
def bundle_exit(request: HttpRequest, pk: int) -> HttpResponse:
    bundle = selectors.bundle_get(pk=pk)
    if bundle is None:
        raise Http404(_(BUNDLE_UNKNOWN))
    if request.POST.get("confirm") != "yes":
        error = _("请勾选确认框：申请退出后，您将继续适用修改前的规则。")
    else:
        try:
            services.exit_request_create(
                actor=actor_for(request.user),
                bundle=bundle,
                user=request.user,
                reason=request.POST.get("reason", ""),
            )
        except ValidationError as refused:
            error = " ".join(refused.messages)
        else:
            return HttpResponseRedirect(f"{bundle.get_absolute_url()}?exit=recorded")
    versions = list(bundle.versions.all())
    context = {
        "bundle": bundle,
        "versions": versions,
        "in_notice": True,
        "already": False,
        "error": error,
        "nav": "rules",
    }
    return render(request, "rules/bundle.html", context, status=400)


ACKNOWLEDGE_UNTICKED = "请勾选“我已阅读并知悉”后再确认：确认必须是您本人的明确表示。"


@private_page
@require_http_methods(["GET", "HEAD", "POST"])
def version_acknowledge(request: HttpRequest, slug: str, number: str) -> HttpResponse:
    """A member's 我已阅读并知悉 of a change that asks for it: an unticked box and a button, never implied
    by a visit (GET changes nothing); the acknowledgment is recorded once, with its time."""
    rule = _rule_or_404(slug)
    version = _version_or_404(rule, number)
    if not version.acknowledgment_required:
        raise Http404(_(services.ACK_NOT_ASKED).format(rule=rule.title, number=version.number))
    user = request.user
    error, status = "", 200
    if request.method == "POST":
        if not user.is_authenticated:
            return redirect_to_login(request.path)
        if request.POST.get("acknowledge") != "yes":
            error, status = _(ACKNOWLEDGE_UNTICKED), 422
        else:
            try:
                services.acknowledgment_record(actor=actor_for(user), user=user, version=version)
            except (ValidationError, PermissionDenied) as refused:
                error, status = " ".join(getattr(refused, "messages", [str(refused)])), 403
            else:
                return HttpResponseRedirect(request.path, status=303)
    acknowledgment = (
        selectors.acknowledgment_of(user_id=user.pk, version=version) if user.is_authenticated else None
    )
    context = {
        "rule": rule,
        "version": version,
        "acknowledgment": acknowledgment,
        "is_member": user.is_authenticated and hasattr(user, "member"),
        "error": error,
        "nav": "rules",
    }
    return render(request, "rules/acknowledge.html", context, status=status)
