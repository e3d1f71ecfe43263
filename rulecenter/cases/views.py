"""Case pages: a member's own cases (/me/cases/), filing one, its timeline; a rule's anonymous statistics.

A member's pages are theirs alone: anyone else's case, like an unknown number, is a 404. Attachments are
served only to the member who sent them and to reviewers, as downloads that no browser renders in place.
"""

from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for
from rulecenter.common import limits
from rulecenter.common.sessions import private_page
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules.clauses import clause_anchor_html_id, parse_clauses

from . import selectors, services
from .models import Case

CASE_UNKNOWN = "没有这个申诉。"
RULE_UNKNOWN = "没有这条公开规则。"
FILED = "已受理您的申诉，编号 {number}。平台将在 {due} 前答复。"
ESCALATED = "已收到您的人工复核申请，平台将由另一位工作人员在 {due} 前答复。"
CLOSED = "申诉已结案。"
TOO_LARGE = "上传的内容太大：最多 {count} 个附件，每个不超过 {limit} MB。"
NOTICE_KEY = "case_notice"


class CaseForm(forms.Form):
    subject = forms.ChoiceField(
        label=gettext_lazy("申诉对象"), choices=Case.Subject.choices, initial=Case.Subject.APPLICATION
    )
    rule = forms.CharField(
        label=gettext_lazy("规则标识"),
        max_length=100,
        help_text=gettext_lazy("从规则页的“申诉”链接进入时已填好，例如 shipping-conduct。"),
        error_messages={"required": gettext_lazy("请指明是哪条规则。")},
    )
    at = forms.DateTimeField(
        label=gettext_lazy("发生时间"),
        help_text=gettext_lazy(
            "处罚或处理发生的时间，或您所指的规则文本有效的时间：据此确定适用的规则版本。"
        ),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        error_messages={
            "required": gettext_lazy("请填写发生时间。"),
            "invalid": gettext_lazy("发生时间无效：请用 YYYY-MM-DD HH:MM 格式，例如 2026-03-01 10:00。"),
        },
    )
    clause = forms.CharField(
        label=gettext_lazy("条款（可选）"),
        max_length=64,
        required=False,
        help_text=gettext_lazy("条款的锚点，例如 article-12；规则页每一条旁的链接里有它。"),
    )
    penalty_reference = forms.CharField(
        label=gettext_lazy("处罚或处理决定编号（可选）"), max_length=200, required=False
    )
    automated = forms.BooleanField(
        label=gettext_lazy("这个决定是由自动化系统作出的，或没有工作人员参与"), required=False
    )
    text = forms.CharField(
        label=gettext_lazy("申诉内容"),
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=100_000,  # the service says the real limit, in words
        error_messages={"required": gettext_lazy("请写明申诉的内容：哪条规则、发生了什么、您的请求。")},
    )


def _signed_in(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, f"cases/{template}.html", {"nav": "me", **context}, status=status)
    patch_cache_control(response, no_store=True)
    return response


@private_page
@require_safe
def case_list(request: HttpRequest) -> HttpResponse:
    user = _signed_in(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    return _page(
        request,
        "list",
        {
            "cases": selectors.cases_of(member=user),
            "shown": selectors.MEMBER_CASES_SHOWN,
            "now": timezone.now(),
            "is_member": hasattr(user, "member"),
        },
    )


def _upload_too_large(request: HttpRequest) -> bool:
    """A body larger than every attachment at its limit (and the form) is refused before it is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    allowed = settings.RULECENTER_CASE_ATTACHMENTS_MAX * settings.RULECENTER_CASE_ATTACHMENT_MAX_BYTES
    return length > allowed + settings.DATA_UPLOAD_MAX_MEMORY_SIZE


@private_page
@require_http_methods(["GET", "HEAD", "POST"])
def case_new(request: HttpRequest) -> HttpResponse:
    user = _signed_in(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    if not hasattr(user, "member"):
        return _page(request, "new", {"form": None, "not_member": True}, status=403)
    context: dict[str, Any] = {"attachments_max": settings.RULECENTER_CASE_ATTACHMENTS_MAX,
                               "attachment_mb": settings.RULECENTER_CASE_ATTACHMENT_MAX_BYTES // 1_048_576}  # fmt: skip
    if request.method != "POST":
        initial = {key: request.GET.get(key, "")[:100] for key in ("rule", "clause")}
        initial["at"] = request.GET.get("at", "")[:40] or timezone.localtime().strftime("%Y-%m-%dT%H:%M")
        context["form"] = CaseForm(initial=initial)
        context["rule"] = rule_selectors.public_rule_by_slug(initial["rule"]) if initial["rule"] else None
        return _page(request, "new", context)
    wait = limits.limit_check(
        request, scope="case", setting="RULECENTER_CASE_RATE", ident=limits.member_ident(request)
    )
    if wait is not None:
        return limits.limited_page(request, wait)
    if _upload_too_large(request):
        limit = settings.RULECENTER_CASE_ATTACHMENT_MAX_BYTES // 1_048_576
        message = _(TOO_LARGE).format(count=settings.RULECENTER_CASE_ATTACHMENTS_MAX, limit=limit)
        return _page(request, "new", {**context, "form": CaseForm(), "error": message}, status=413)
    form = CaseForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            case = services.case_file(
                actor=actor_for(user),
                member=user,
                subject=data["subject"],
                rule_slug=data["rule"].strip(),
                at=data["at"],
                clause=data["clause"],
                penalty_reference=data["penalty_reference"],
                automated=data["automated"],
                text=data["text"],
                uploads=request.FILES.getlist("attachments"),
            )
        except ValidationError as refused:
            for field, messages in refused.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            due = timezone.localtime(case.due_at).strftime("%Y-%m-%d %H:%M")
            request.session[NOTICE_KEY] = _(FILED).format(number=case.number, due=due)
            return HttpResponseRedirect(reverse("cases:detail", args=[case.number]))
    context["form"] = form
    context["rule"] = rule_selectors.public_rule_by_slug(request.POST.get("rule", "")[:100].strip())
    return _page(request, "new", context, status=422)


def _own_case(request: HttpRequest, number: str) -> tuple[User, Case]:
    user = _signed_in(request)
    if user is None:
        raise PermissionDenied
    case = selectors.case_of(member=user, number=number)
    if case is None:
        raise Http404(_(CASE_UNKNOWN))
    return user, case


def _clause(case: Case) -> Any:
    if not case.clause:
        return None
    return next((found for found in parse_clauses(case.version.text) if found.anchor == case.clause), None)


@private_page
@require_safe
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    if _signed_in(request) is None:
        return redirect_to_login(request.get_full_path())
    _user, case = _own_case(request, number)
    return _detail(request, case)


def _detail(request: HttpRequest, case: Case, *, error: str = "", status: int = 200) -> HttpResponse:
    steps, attachments = selectors.case_detail(case=case)
    now = timezone.now()
    may_escalate = services.escalation_refused(case, at=now) is None
    context = {
        "case": case,
        "steps": steps,
        "attachments": attachments,
        "clause": _clause(case),
        "clause_id": clause_anchor_html_id(case.clause) if case.clause else "",
        "now": now,
        "overdue": case.is_open and case.due_at < now,
        "may_escalate": may_escalate,
        "error": error,
        "notice": request.session.pop(NOTICE_KEY, None) if request.method == "GET" else None,
    }
    return _page(request, "detail", context, status=status)


@private_page
@require_POST
def case_escalate(request: HttpRequest, number: str) -> HttpResponse:
    user, case = _own_case(request, number)
    try:
        case = services.case_escalate(actor=actor_for(user), case=case, reason=request.POST.get("reason", ""))
    except ValidationError as refused:
        return _detail(request, case, error=" ".join(refused.messages), status=409)
    due = timezone.localtime(case.due_at).strftime("%Y-%m-%d %H:%M")
    request.session[NOTICE_KEY] = _(ESCALATED).format(due=due)
    return HttpResponseRedirect(reverse("cases:detail", args=[case.number]))


@private_page
@require_POST
def case_close(request: HttpRequest, number: str) -> HttpResponse:
    user, case = _own_case(request, number)
    try:
        case = services.case_close(actor=actor_for(user), case=case)
    except ValidationError as refused:
        return _detail(request, case, error=" ".join(refused.messages), status=409)
    request.session[NOTICE_KEY] = _(CLOSED)
    return HttpResponseRedirect(reverse("cases:detail", args=[case.number]))


@require_safe
def attachment_download(request: HttpRequest, number: str, pk: int) -> HttpResponseBase:
    """To the member who sent it, or a reviewer; anyone else gets the 404 an unknown file gets."""
    user = _signed_in(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    staff = user.is_superuser or actor_for(user).has(Role.REVIEWER.value)
    case = selectors.case_by_number(number=number) if staff else selectors.case_of(member=user, number=number)
    attachment = selectors.attachment_of(case=case, pk=pk) if case is not None else None
    if attachment is None:
        raise Http404(_(CASE_UNKNOWN))
    response = FileResponse(
        default_storage.open(str(attachment.file.name), "rb"),
        as_attachment=True,
        filename=attachment.name,
        content_type=attachment.content_type,
    )
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_safe
def rule_statistics(request: HttpRequest, slug: str) -> HttpResponse:
    """A rule's cases in numbers: received, answered, in time, upheld — never who nor what."""
    rule = rule_selectors.public_rule_by_slug(slug)
    if rule is None:
        raise Http404(_(RULE_UNKNOWN))
    now: datetime = timezone.now()
    context = {
        "rule": rule,
        "stats": selectors.rule_statistics(rule=rule, at=now),
        "answer_days": settings.RULECENTER_CASE_ANSWER_DAYS,
        "review_days": settings.RULECENTER_CASE_REVIEW_DAYS,
        "nav": "rules",
    }
    response = render(request, "cases/statistics.html", context)
    patch_cache_control(response, public=True, max_age=60)
    return response
