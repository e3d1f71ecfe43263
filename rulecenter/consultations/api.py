"""The consultations API (/api/v1/consultations): windows, votes and the live tally."""

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import P, QueryEx, Router
from ninja.responses import Status

from rulecenter.accounts.auth import BearerTokenAuth
from rulecenter.accounts.roles import request_actor
from rulecenter.common.api import page_or_404
from rulecenter.common.idempotency import IdempotencyKeyHeader, idempotent_write
from rulecenter.common.limits import VOTE_THROTTLES
from rulecenter.common.problems import (
    AUTHENTICATION,
    VALIDATION,
    Problem,
    ProblemType,
    field_error,
    problems,
)
from rulecenter.common.text import local_minute, markdown_to_html
from rulecenter.common.urls import reverse_fast
from rulecenter.rules import selectors as rule_selectors

from . import selectors, services
from .models import Consultation
from .schemas import (
    ClauseChangeOut,
    ClusterOut,
    ConsultationIn,
    ConsultationListItem,
    ConsultationOut,
    ConsultationPage,
    ConsultationStatus,
    DraftOut,
    LedgerOut,
    OptionOut,
    RuleRef,
    TallyOut,
    VoteIn,
    VoteOut,
)
from .services import OptionSpec
from .tally import Tally

if TYPE_CHECKING:
    from rulecenter.rules.models import ChangeBundle, RuleVersion

CONSULTATION_UNKNOWN = "意见征集不存在。"
EDITOR_REQUIRED = "只有编辑角色可以发起意见征集。"
VERSION_UNKNOWN = "规则“{rule}”没有第 {number} 版。"
BUNDLE_UNKNOWN = "变更包 {bundle} 不存在。"
VERSIONS_OR_BUNDLE = "请给出 versions（规则版本）或 bundle（变更包）之一。"
TALLY_HIDDEN = "本次意见征集的计票结果将在 {closes_at} 截止后公布。"

# Refusals of a vote for who cast it or when: distinct types a client can branch on.
VOTER_INELIGIBLE = ProblemType("voter-ineligible", 403, "没有投票资格")
CONSULTATION_NOT_OPEN = ProblemType("consultation-not-open", 409, "意见征集尚未开始")
CONSULTATION_CLOSED = ProblemType("consultation-closed", 409, "意见征集已截止")
TALLY_NOT_PUBLIC = ProblemType("tally-hidden", 403, "计票结果尚未公布")
REFUSALS: dict[services.RefusalKind, ProblemType] = {
    "anonymous": AUTHENTICATION,
    "ineligible": VOTER_INELIGIBLE,
    "not_open": CONSULTATION_NOT_OPEN,
    "closed": CONSULTATION_CLOSED,
}

router = Router(tags=["consultations"])


def _site(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(path)


def _tally_url(request: HttpRequest, consultation: Consultation) -> str:
    return _site(request, reverse_fast("api:consultation_tally", consultation.pk))


def _rule_ref(request: HttpRequest, version: "RuleVersion") -> RuleRef:
    return RuleRef(
        slug=version.rule.slug,
        title=version.rule.title,
        number=version.number,
        url=_site(request, version.rule.get_absolute_url()),
    )


def _list_item(request: HttpRequest, consultation: Consultation, now: datetime) -> ConsultationListItem:
    return ConsultationListItem(
        id=consultation.pk,
        title=consultation.title,
        status=consultation.status_at(now).value,  # type: ignore[arg-type]
        opens_at=timezone.localtime(consultation.opens_at),
        closes_at=timezone.localtime(consultation.closes_at),
        rules=[_rule_ref(request, version) for version in consultation.versions.all()],
        url=_site(request, consultation.get_absolute_url()),
        tally_url=_tally_url(request, consultation),
    )


def _tally_out(tally: Tally, *, consultation: Consultation, now: datetime) -> TallyOut:
    return TallyOut(
        counts=tally.counts,
        total=tally.total,
        shares=tally.shares,
        labels=tally.labels,
        final=consultation.status_at(now) == Consultation.Status.CLOSED,
        as_of=timezone.localtime(now),
    )


def _ledger_out(ledger: selectors.Ledger) -> LedgerOut:
    return LedgerOut(
        submissions=ledger.submissions,
        eligible=ledger.eligible,
        opinions=ledger.opinions,
        valid=ledger.valid,
        invalid=ledger.invalid,
        pending=ledger.pending,
        clusters=[
            ClusterOut(text=c.text, size=c.size, valid=c.valid, response=c.response) for c in ledger.clusters
        ],
    )


def _consultation_out(request: HttpRequest, consultation: Consultation) -> ConsultationOut:
    detail = selectors.consultation_detail(consultation=consultation)
    now = detail.at
    drafts = [
        DraftOut(
            rule=_rule_ref(request, draft.version),
            text=draft.version.text,
            base_version=draft.base.number if draft.base else None,
            changes=[
                ClauseChangeOut(
                    anchor=clause.anchor,
                    label=clause.label,
                    status=clause.status,
                    old_text=clause.old_text,
                    new_text=clause.new_text,
                )
                for clause in draft.changes
            ],
        )
        for draft in detail.drafts
    ]
    return ConsultationOut(
        **_list_item(request, consultation, now).model_dump(),
        explanation=consultation.explanation,
        explanation_html=markdown_to_html(consultation.explanation),
        bundle=consultation.bundle_id,
        options=[
            OptionOut(key=o.key, label=o.label, requires_reason=o.requires_reason) for o in detail.options
        ],
        drafts=drafts,
        tally=_tally_out(detail.tally, consultation=consultation, now=now)
        if detail.tally is not None
        else None,
        ledger=_ledger_out(detail.ledger) if detail.ledger is not None else None,
        result_url=_site(request, detail.result.get_absolute_url()) if detail.result is not None else None,
    )


def _consultation_or_404(consultation_id: int) -> Consultation:
    consultation = selectors.consultation_get(pk=consultation_id)
    if consultation is None:
        raise Http404(_(CONSULTATION_UNKNOWN))
    return consultation


@router.get(
    "",
    response={200: ConsultationPage, **problems(404, 422)},
    url_name="consultation_list",
    operation_id="consultation_list",
    summary="意见征集，最近开始的在前",
    description="只列出已开始的意见征集：草案在征集开始时才公开，此前征集本身也不公开（status=scheduled 因此总是空列表）。"
    "每页条数由设置 RULECENTER_CONSULTATION_PAGE_SIZE 决定；页码超出范围时返回 404。",
)
def consultation_list(
    request: HttpRequest,
    page: QueryEx[int, P(ge=1, le=10_000_000, description="页码，从 1 开始")] = 1,
    status: QueryEx[ConsultationStatus | None, P(description="只列出此状态的意见征集")] = None,
) -> ConsultationPage:
    now = timezone.now()
    chosen = Consultation.Status(status) if status else None
    size = settings.RULECENTER_CONSULTATION_PAGE_SIZE
    total = selectors.consultation_count(status=chosen, at=now)
    page_or_404(page, total=total, size=size)
    rows = selectors.consultation_page(offset=(page - 1) * size, limit=size, status=chosen, at=now)
    return ConsultationPage(items=[_list_item(request, row, now) for row in rows], count=total)


@router.get(
    "/{consultation_id}",
    response={200: ConsultationOut, **problems(404, 422)},
    url_name="consultation_detail",
    operation_id="consultation_detail",
    summary="一项意见征集：草案及其与现行版本的差异、选项、实时计票；截止后含意见汇总",
    description="征集开始之前返回 404：草案在征集开始时才公开。",
)
def consultation_detail(request: HttpRequest, consultation_id: int) -> ConsultationOut:
    return _consultation_out(request, _consultation_or_404(consultation_id))


@router.get(
    "/{consultation_id}/tally",
    response={200: TallyOut, **problems(403, 404, 422)},
    url_name="consultation_tally",
    operation_id="consultation_tally",
    summary="实时计票：各选项票数、总数和占比",
    description="每位会员只计最后一次投票；每次请求都从投票表直接统计，任何时刻都与库中的投票一致。"
    "设置 RULECENTER_CONSULTATION_TALLY_HIDDEN_UNTIL_CLOSE 打开时，截止前返回 403；征集开始之前返回 404。",
)
def consultation_tally(request: HttpRequest, consultation_id: int) -> TallyOut:
    consultation = selectors.consultation_for_vote(pk=consultation_id)
    now = timezone.now()
    if consultation is None or consultation.opens_at > now:  # not public before it opens
        raise Http404(_(CONSULTATION_UNKNOWN))
    if not selectors.tally_visible(consultation=consultation, at=now):
        raise Problem(
            TALLY_NOT_PUBLIC, _(TALLY_HIDDEN).format(closes_at=local_minute(consultation.closes_at))
        )
    tally = selectors.consultation_tally(consultation=consultation)
    return _tally_out(tally, consultation=consultation, now=now)


@router.post(
    "/{consultation_id}/votes",
    response={201: VoteOut, **problems(400, 401, 403, 404, 409, 422)},
    auth=BearerTokenAuth(),
    url_name="consultation_vote",
    operation_id="consultation_vote",
    throttle=VOTE_THROTTLES,
    summary="投票或改票（会员令牌）",
    description="每位会员每项征集只有一票：再次投票替换上一次（历次提交都保留在记录中）。"
    "选项要求理由而未填写、选项不存在或理由过长时返回 422；未认证、入驻不满设置天数或没有会员资料时返回 403"
    "（urn:rulecenter:problem:voter-ineligible）；征集未开始或已截止时返回 409"
    "（consultation-not-open / consultation-closed）。被拒绝的投票不会写入任何内容。",
)
def consultation_vote(request: HttpRequest, consultation_id: int, payload: VoteIn) -> Status[VoteOut]:
    consultation = selectors.consultation_for_vote(pk=consultation_id)
    if consultation is None:
        raise Http404(_(CONSULTATION_UNKNOWN))
    try:
        vote = services.vote_cast(
            consultation=consultation, user=request.user, choice=payload.choice, reason=payload.reason
        )
    except services.VoteRefused as refused:
        raise Problem(REFUSALS[refused.kind], refused.messages[0]) from None
    return Status(
        201,
        VoteOut(
            consultation=consultation.pk,
            choice=vote.choice,
            label=selectors.options_by_key(consultation)[vote.choice].label,
            reason=vote.reason,
            submitted_at=timezone.localtime(vote.submitted_at),
            tally_url=_tally_url(request, consultation),
        ),
    )


def _versions_or_problem(payload: ConsultationIn) -> tuple[list["RuleVersion"], "ChangeBundle | None"]:
    if bool(payload.versions) == (payload.bundle is not None):
        message = _(VERSIONS_OR_BUNDLE)
        raise Problem(
            VALIDATION, message, errors=[field_error(["body", "versions"], message, "versions_or_bundle")]
        )
    bundle = None
    if payload.bundle is not None:
        bundle = rule_selectors.bundle_by_pk(pk=payload.bundle)
        if bundle is None:
            message = _(BUNDLE_UNKNOWN).format(bundle=payload.bundle)
            raise Problem(
                VALIDATION, message, errors=[field_error(["body", "bundle"], message, "bundle_unknown")]
            )
    versions = []
    for index, ref in enumerate(payload.versions):
        version = rule_selectors.version_by_slug_and_number(slug=ref.rule, number=ref.number)
        if version is None:
            message = _(VERSION_UNKNOWN).format(rule=ref.rule[:100], number=ref.number)
            raise Problem(
                VALIDATION,
                message,
                errors=[field_error(["body", "versions", index], message, "version_unknown")],
            )
        versions.append(version)
    return versions, bundle


@router.post(
    "",
    response={201: ConsultationOut, **problems(400, 401, 403, 409, 422)},
    auth=BearerTokenAuth(),
    url_name="consultation_create",
    operation_id="consultation_create",
    summary="发起意见征集（编辑角色）",
    description="针对规则版本草案（versions）或一个变更包（bundle）。征集期短于设置 RULECENTER_CONSULTATION_MIN_DAYS、"
    "开始时间已过、版本已公示或排定在截止前公示时返回 422，不会写入任何内容。截止时由后台任务起草结果反馈。"
    "可带 Idempotency-Key 头安全地重试。",
)
def consultation_create(
    request: HttpRequest,
    payload: ConsultationIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Status[ConsultationOut] | HttpResponse:
    user: User = request.auth  # type: ignore[attr-defined]
    if not user.has_perm("consultations.add_consultation"):
        raise PermissionDenied(_(EDITOR_REQUIRED))

    def write() -> ConsultationOut:
        versions, bundle = _versions_or_problem(payload)
        options = (
            [OptionSpec(o.key, o.label, o.requires_reason) for o in payload.options]
            if payload.options is not None
            else services.DEFAULT_OPTIONS
        )
        consultation = services.consultation_create(
            actor=request_actor(request),
            title=payload.title,
            explanation=payload.explanation,
            opens_at=payload.opens_at,
            closes_at=payload.closes_at,
            versions=versions,
            bundle=bundle,
            options=options,
            created_by=user,
        )
        # Not public until it opens: the editor who created it is shown it all the same.
        created = selectors.consultation_get_any(pk=consultation.pk)
        assert created is not None
        return _consultation_out(request, created)

    return idempotent_write(
        request,
        user=user,
        key=idempotency_key,
        operation="consultation_create",
        payload=payload,
        status=201,
        write=write,
    )
