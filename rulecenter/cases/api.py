"""Cases in the API (/api/v1/cases): a member — or the partner tool holding their token — files a case and
follows their own; no one else's is visible (404). docs/cases.md."""

from datetime import datetime
from typing import Literal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.responses import Status

from rulecenter.accounts.auth import BearerTokenAuth
from rulecenter.accounts.roles import request_actor
from rulecenter.common.api import IsoDatetime
from rulecenter.common.limits import CASE_THROTTLES
from rulecenter.common.problems import CONFLICT, Problem, problems

from . import selectors, services
from .models import Case, CaseStep

router = Router(tags=["cases"])

CASE_UNKNOWN = "没有编号为“{number}”的申诉。"


class CaseIn(Schema):
    rule: str = Field(min_length=1, max_length=100, description="规则标识", examples=["shipping-conduct"])
    at: IsoDatetime = Field(description="发生时间（带时区）：据此确定当时有效的规则版本")
    clause: str | None = Field(default=None, max_length=64, description="条款锚点，如 article-12；可为 null")
    text: str = Field(
        min_length=1, max_length=100_000, description="申诉内容（上限见 RULECENTER_CASE_TEXT_MAX_CHARS）"
    )
    subject: Literal["rule", "change", "application"] = Field(
        default="application",
        description="rule 规则或条款本身；change 一次规则变更；application 规则对我的适用",
    )
    penalty_reference: str = Field(default="", max_length=100, description="处罚或处理决定编号")
    automated: bool = Field(default=False, description="所涉决定由自动化系统或无人参与作出（可申请人工复核）")


class StepOut(Schema):
    kind: str = Field(description="filed / taken / answered / escalated / closed")
    at: datetime
    by: Literal["member", "platform"]
    note: str
    outcome: str


class CaseOut(Schema):
    number: str
    status: str = Field(description="received / under_review / answered / escalated / closed")
    subject: str
    rule: str
    version: int = Field(description="发生时间当时有效的版本号：申诉据此审查")
    version_url: str
    at: datetime
    clause: str | None
    penalty_reference: str
    automated: bool
    text: str
    received_at: datetime
    due_at: datetime = Field(description="当前阶段的答复期限")
    overdue: bool
    outcome: str | None = Field(description="upheld / partly_upheld / rejected；未答复为 null")
    answer: str | None
    answered_at: datetime | None
    url: str
    steps: list[StepOut]


class CaseList(Schema):
    count: int
    items: list[CaseOut]


class EscalateIn(Schema):
    reason: str = Field(default="", max_length=2000)


def _out(request: HttpRequest, case: Case, steps: list[CaseStep] | None = None) -> CaseOut:
    if steps is None:
        steps, _files = selectors.case_detail(case=case)
    return CaseOut(
        number=case.number,
        status=case.status,
        subject=case.subject,
        rule=case.rule.slug,
        version=case.version.number,
        version_url=request.build_absolute_uri(case.version.get_absolute_url()),
        at=case.at,
        clause=case.clause or None,
        penalty_reference=case.penalty_reference,
        automated=case.automated,
        text=case.text,
        received_at=case.received_at,
        due_at=case.due_at,
        overdue=case.is_open and case.due_at < timezone.now(),
        outcome=case.outcome or None,
        answer=case.answer or None,
        answered_at=case.answered_at,
        url=request.build_absolute_uri(reverse("cases:detail", args=[case.number])),
        steps=[
            StepOut(
                kind=step.kind,
                at=step.at,
                by="platform" if step.staff else "member",
                note=step.note,
                outcome=step.outcome,
            )
            for step in steps
        ],
    )


def _own(request: HttpRequest, number: str) -> Case:
    user: User = request.auth  # type: ignore[attr-defined]
    case = selectors.case_of(member=user, number=number)
    if case is None:
        raise Http404(_(CASE_UNKNOWN).format(number=number[:20]))
    return case


def _state_conflict(error: ValidationError) -> Problem:
    return Problem(CONFLICT, " ".join(error.messages))


@router.post(
    "",
    response={201: CaseOut, **problems(400, 401, 403, 422, 429)},
    auth=BearerTokenAuth(),
    throttle=CASE_THROTTLES,
    url_name="case_create",
    operation_id="case_create",
    summary="提交申诉（会员令牌）",
    description="按发生时间确定当时有效的规则版本并固定在申诉上；返回编号、版本号和状态 received。"
    "规则在该时间还没有生效的版本、条款不存在、内容为空或过长时返回 422，不保存任何内容。附件请在页面 /me/cases/new/ 上传。",
)
def case_create(request: HttpRequest, payload: CaseIn) -> Status[CaseOut]:
    user: User = request.auth  # type: ignore[attr-defined]
    case = services.case_file(
        actor=request_actor(request),
        member=user,
        subject=payload.subject,
        rule_slug=payload.rule,
        at=payload.at,
        clause=payload.clause or "",
        text=payload.text,
        penalty_reference=payload.penalty_reference,
        automated=payload.automated,
    )
    return Status(201, _out(request, case))


@router.get(
    "",
    response={200: CaseList, **problems(401)},
    auth=BearerTokenAuth(),
    url_name="case_list",
    operation_id="case_list",
    summary="我的申诉",
    description="令牌持有者本人的申诉，最新的在前（最多 100 件），各带进展。",
)
def case_list(request: HttpRequest) -> CaseList:
    user: User = request.auth  # type: ignore[attr-defined]
    cases = selectors.cases_of(member=user)
    steps = selectors.steps_of(cases=cases)
    return CaseList(count=len(cases), items=[_out(request, case, steps.get(case.pk, [])) for case in cases])


@router.get(
    "/{number}",
    response={200: CaseOut, **problems(401, 404)},
    auth=BearerTokenAuth(),
    url_name="case_get",
    operation_id="case_get",
    summary="一件申诉及其进展",
    description="别人的申诉和不存在的编号一样返回 404。",
)
def case_get(request: HttpRequest, number: str) -> CaseOut:
    return _out(request, _own(request, number))


@router.post(
    "/{number}/escalate",
    response={200: CaseOut, **problems(400, 401, 403, 404, 409, 422)},
    auth=BearerTokenAuth(),
    url_name="case_escalate",
    operation_id="case_escalate",
    summary="申请人工复核",
    description="所涉决定由自动化系统或无人参与作出时，答复后可申请一次人工复核，由首次答复以外的工作人员重新审查；"
    "其他情形返回 409 并说明原因。",
)
def case_escalate(request: HttpRequest, number: str, payload: EscalateIn) -> CaseOut:
    case = _own(request, number)
    try:
        case = services.case_escalate(actor=request_actor(request), case=case, reason=payload.reason)
    except ValidationError as error:
        if "status" in getattr(error, "error_dict", {}):
            raise _state_conflict(error) from None
        raise
    return _out(request, case)


@router.post(
    "/{number}/close",
    response={200: CaseOut, **problems(401, 403, 404, 409)},
    auth=BearerTokenAuth(),
    url_name="case_close",
    operation_id="case_close",
    summary="接受答复并结案",
    description="只有已答复的申诉可以结案，否则返回 409。",
)
def case_close(request: HttpRequest, number: str) -> CaseOut:
    case = _own(request, number)
    try:
        case = services.case_close(actor=request_actor(request), case=case)
    except ValidationError as error:
        raise _state_conflict(error) from None
    return _out(request, case)
