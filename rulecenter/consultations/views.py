"""Public consultation pages: the list, one consultation with its drafts, the vote form and the ledger."""

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from rulecenter.common import limits
from rulecenter.common.pagination import pager_for
from rulecenter.common.sessions import private_page
from rulecenter.common.text import markdown_to_html
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules.diff import inline_html

from . import selectors, services
from .models import Consultation

CONSULTATION_UNKNOWN = "意见征集不存在。"
VOTE_RECORDED = "已记录您的投票：“{label}”。截止前可以随时修改，以最后一次为准。"
REFUSAL_STATUS = {"anonymous": 403, "ineligible": 403, "not_open": 409, "closed": 409}


@private_page
@require_safe
def consultation_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    pager = pager_for(
        raw_page=request.GET.get("page"),
        total=selectors.consultation_count(at=now),
        size=settings.RULECENTER_CONSULTATION_PAGE_SIZE,
        window=settings.RULECENTER_PAGER_WINDOW,
    )
    rows = selectors.consultation_page(offset=pager.offset, limit=pager.size, at=now)
    context = {
        "rows": [(row, row.status_at(now)) for row in rows],
        "pager": pager,
        "page_query": "page=",
        "nav": "consultations",
    }
    return render(request, "consultations/list.html", context)


def _detail_context(request: HttpRequest, consultation: Consultation) -> dict[str, Any]:
    detail = selectors.consultation_detail(consultation=consultation)
    refusal = None
    vote = None
    try:
        member = services.eligible_member(user=request.user, at=detail.at)
    except services.VoteRefused as refused:
        refusal = refused
    else:
        vote = selectors.member_vote(consultation=consultation, member=member)
    targeted = rule_selectors.version_segments(ids=[draft.version.pk for draft in detail.drafts])
    drafts = [
        {
            "draft": draft,
            "segments": targeted.get(draft.version.pk, []),
            "html": markdown_to_html(draft.version.text),
            "rows": [{"diff": clause, "inline": inline_html(clause)} for clause in draft.changes],
        }
        for draft in detail.drafts
    ]
    return {
        "consultation": consultation,
        "status": detail.status,
        "now": detail.at,
        "explanation_html": markdown_to_html(consultation.explanation),
        "drafts": drafts,
        "options": detail.options,
        "refusal": refusal,
        "vote": vote,
        "reason_limit": settings.RULECENTER_CONSULTATION_REASON_MAX_CHARS,
        "tally": detail.tally,
        "ledger": detail.ledger,
        "result": detail.result,
        "min_days": settings.RULECENTER_CONSULTATION_MIN_MEMBERSHIP_DAYS,
        "notice": request.session.pop("consultation_notice", None) if request.method == "GET" else None,
        "nav": "consultations",
    }


@private_page
@require_http_methods(["GET", "HEAD", "POST"])
def consultation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    consultation = selectors.consultation_get(pk=pk)
    if consultation is None:
        raise Http404(_(CONSULTATION_UNKNOWN))
    if request.method != "POST":
        return render(request, "consultations/detail.html", _detail_context(request, consultation))
    # Per member, shared with the API, and before the vote's write: a re-vote storm writes no VoteHistory.
    wait = limits.limit_check(
        request, scope="vote", setting="RULECENTER_VOTE_RATE", ident=limits.member_ident(request)
    )
    if wait is not None:
        return limits.limited_page(request, wait)
    choice = request.POST.get("choice", "")
    reason = request.POST.get("reason", "")
    try:
        vote = services.vote_cast(consultation=consultation, user=request.user, choice=choice, reason=reason)
    except services.VoteRefused as refused:
        status, errors = REFUSAL_STATUS[refused.kind], {"__all__": refused.messages}
    except ValidationError as refused:
        status, errors = 400, refused.message_dict
    else:
        label = next(o.label for o in consultation.options.all() if o.key == vote.choice)
        request.session["consultation_notice"] = _(VOTE_RECORDED).format(label=label)
        return HttpResponseRedirect(f"{consultation.get_absolute_url()}#vote")
    context = _detail_context(request, consultation)
    context.update({"errors": errors, "posted": {"choice": choice, "reason": reason}})
    return render(request, "consultations/detail.html", context, status=status)


class SignInView(auth_views.LoginView):
    """Members sign in here to vote on the site (the admin's login is for staff only)."""

    template_name = "consultations/sign_in.html"
    extra_context = {"nav": "consultations"}


class SignOutView(auth_views.LogoutView):
    next_page = "consultations:list"
