"""Writes to cases: a member files, escalates or closes their own; reviewers take up and answer (docs/cases.md).

Every write checks who acts, runs in one transaction, appends a step to the case's timeline and announces
the change through the change hook — the audit chain records it (number, status, outcome; never the
member's text) and notifications tell the member. Nothing answered is rewritten: a human review is a new
answer by another person, the first kept in the timeline.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import role_require
from rulecenter.common.actors import Actor
from rulecenter.common.changes import ChangeAction, ContentKind, content_changed_announce
from rulecenter.common.text import control_characters_refuse
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules.clauses import parse_clauses
from rulecenter.rules.models import Rule, RuleVersion

from . import attachments as files
from .models import Case, CaseAttachment, CaseStep

NOT_A_MEMBER = "只有会员可以提交申诉：请用会员账户登录。"
NOT_YOURS = "只能为自己的账户提交和处理申诉。"
RULE_UNKNOWN = "没有标识为“{slug}”的公开规则。"
SUBJECT_UNKNOWN = "申诉对象“{value}”无效：可选 rule（规则或条款本身）、change（一次规则变更）或 application（规则对我的适用）。"
AT_FUTURE = "对规则适用的申诉，发生时间不能晚于现在。"
BEFORE_RULE = "《{title}》在 {at} 还没有生效的版本：第 1 版自 {first} 起生效。"
NEVER_IN_FORCE = "《{title}》在 {at} 还没有生效的版本。"
CLAUSE_UNKNOWN = "《{title}》第 {number} 版没有条款“{clause}”。"
TEXT_EMPTY = "请写明申诉的内容：哪条规则、发生了什么、您的请求。"
TEXT_TOO_LONG = "申诉内容最多 {limit} 个字符（现有 {length} 个）。"
PENALTY_TOO_LONG = "处罚或处理决定编号最多 100 个字符。"
TOO_MANY_FILES = "最多附 {limit} 个文件（现有 {count} 个）。"
FILE_TOO_LARGE = "附件“{name}”超过 {limit} MB。"
FILE_EMPTY = "附件“{name}”是空文件。"
FILE_TYPE = "附件“{name}”不是图片（PNG、JPEG、GIF、WebP）或 PDF 文件。"
FILE_DISGUISED = "附件“{name}”的内容是 {kind}，与文件扩展名不符：请按实际类型命名后再上传。"
NOT_OPEN = "申诉 {number} 的状态是“{status}”，不能再{step}。"
ANSWER_EMPTY = "请写明答复和理由。"
OUTCOME_UNKNOWN = "结论“{value}”无效：可选 upheld（成立）、partly_upheld（部分成立）或 rejected（不成立）。"
REVIEW_BY_ANOTHER = "人工复核须由首次答复以外的工作人员作出。"
ESCALATION_NOT_AUTOMATED = "人工复核适用于由自动化系统或无人参与作出的决定；本案所涉决定不是这样作出的。"
ESCALATION_ONCE = "申诉 {number} 已经过一次人工复核。"
ESCALATION_LATE = "申请人工复核须在答复后 {days} 日内提出（答复于 {at}）。"
ESCALATION_NOT_ANSWERED = "申诉 {number} 尚未答复：答复后才能申请人工复核。"
CLOSE_NOT_ANSWERED = "申诉 {number} 尚未答复，不能结案。"
NOTE_TOO_LONG = "说明最多 {limit} 个字符。"

NOTE_MAX_CHARS = 2000


def _now() -> datetime:
    return timezone.now()


def _local(at: datetime) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")


def _member_require(actor: Actor, member: User) -> None:
    if actor.user_id is None or actor.user_id != member.pk:
        raise PermissionDenied(_(NOT_YOURS))
    if not hasattr(member, "member"):
        raise PermissionDenied(_(NOT_A_MEMBER))


def _text_clean(text: str, *, field: str, limit: int, empty: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError({field: _(empty)})
    if len(text) > limit:
        raise ValidationError({field: _(TEXT_TOO_LONG).format(limit=limit, length=len(text))})
    control_characters_refuse({field: text})
    return text


def _attachments_check(
    uploads: Sequence[UploadedFile[bytes]],
) -> list[tuple[UploadedFile[bytes], files.Inspected]]:
    limit = settings.RULECENTER_CASE_ATTACHMENTS_MAX
    if len(uploads) > limit:
        raise ValidationError({"attachments": _(TOO_MANY_FILES).format(limit=limit, count=len(uploads))})
    max_bytes = settings.RULECENTER_CASE_ATTACHMENT_MAX_BYTES
    checked = []
    for upload in uploads:
        found = files.inspect(upload, limit=max_bytes)
        if found.size > max_bytes:
            message = _(FILE_TOO_LARGE).format(name=found.name, limit=round(max_bytes / 1_048_576, 1))
        elif found.size == 0:
            message = _(FILE_EMPTY).format(name=found.name)
        elif found.content_type is None:
            message = _(FILE_TYPE).format(name=found.name)
        elif not found.extension_agrees:
            message = _(FILE_DISGUISED).format(name=found.name, kind=found.content_type)
        else:
            checked.append((upload, found))
            continue
        raise ValidationError({"attachments": message})
    return checked


def _step(case: Case, kind: str, actor: Actor, *, staff: bool, note: str = "", outcome: str = "") -> CaseStep:
    return CaseStep.objects.create(
        case=case, kind=kind, at=_now(), actor_id=actor.user_id, staff=staff, note=note, outcome=outcome
    )


def _announce(case: Case, action: ChangeAction, actor: Actor, step: CaseStep) -> None:
    content_changed_announce(
        kind=ContentKind.CASE,
        ids=[case.pk],
        action=action,
        actor=actor,
        rule_ids=[case.rule_id],
        data={
            "number": case.number,
            "status": case.status,
            "outcome": case.outcome,
            "rule": case.rule_id,
            "version": case.version_id,
            "step": step.pk,  # the timeline row this change wrote: what the member is told of
            "due_at": case.due_at.isoformat(),  # the current stage's deadline: when staff are told it passed
        },
    )


def version_pinned(*, rule: Rule, at: datetime) -> tuple[RuleVersion | None, str | None]:
    """The version in force at `at`, or None and why not (in the active language)."""
    version = rule_selectors.version_in_force(rule=rule, at=at)
    if version is not None:
        return version, None
    first = (
        rule_selectors.public_versions()
        .filter(rule=rule, effective_at__gt=at)
        .order_by("effective_at")
        .first()
    )
    if first is not None and first.effective_at is not None:
        return None, _(BEFORE_RULE).format(title=rule.title, at=_local(at), first=_local(first.effective_at))
    return None, _(NEVER_IN_FORCE).format(title=rule.title, at=_local(at))


def case_file(
    *,
    actor: Actor,
    member: User,
    subject: str,
    rule_slug: str,
    at: datetime,
    text: str,
    clause: str = "",
    penalty_reference: str = "",
    automated: bool = False,
    uploads: Sequence[UploadedFile[bytes]] = (),
) -> Case:
    """A member's case about a rule as it stood at `at`: the version in force then pinned to it, a number
    given, its attachments kept. Every refusal names the field and changes nothing."""
    _member_require(actor, member)
    errors: dict[str, str] = {}
    if subject not in Case.Subject.values:
        errors["subject"] = _(SUBJECT_UNKNOWN).format(value=str(subject)[:20])
    rule = rule_selectors.public_rule_by_slug(rule_slug or "")
    if rule is None:
        errors["rule"] = _(RULE_UNKNOWN).format(slug=(rule_slug or "")[:100])
    if subject == Case.Subject.APPLICATION and at > _now():
        errors["at"] = _(AT_FUTURE)
    version = None
    if rule is not None and "at" not in errors:
        version, why = version_pinned(rule=rule, at=at)
        if why:
            errors["at"] = why
    clause = (clause or "").strip()
    if rule is not None and version is not None and clause:
        anchors = {found.anchor for found in parse_clauses(version.text)}
        if clause not in anchors:
            errors["clause"] = _(CLAUSE_UNKNOWN).format(
                title=rule.title, number=version.number, clause=clause[:64]
            )
    penalty_reference = (penalty_reference or "").strip()
    if len(penalty_reference) > 100:
        errors["penalty_reference"] = _(PENALTY_TOO_LONG)
    try:
        text = _text_clean(
            text, field="text", limit=settings.RULECENTER_CASE_TEXT_MAX_CHARS, empty=TEXT_EMPTY
        )
        control_characters_refuse({"penalty_reference": penalty_reference}, one_line=["penalty_reference"])
    except ValidationError as error:
        errors.update({field: " ".join(messages) for field, messages in error.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    checked = _attachments_check(uploads)
    assert rule is not None
    assert version is not None
    now = _now()
    saved: list[str] = []
    try:
        with transaction.atomic():
            case = Case.objects.create(
                number=uuid.uuid4().hex[:20],  # replaced below, once the row has its id
                member=member,
                subject=subject,
                rule=rule,
                version=version,
                at=at,
                clause=clause,
                penalty_reference=penalty_reference,
                automated=automated,
                text=text,
                received_at=now,
                due_at=now + timedelta(days=settings.RULECENTER_CASE_ANSWER_DAYS),
            )
            case.number = f"SS{timezone.localtime(now):%Y%m%d}{case.pk:06d}"
            case.save(update_fields=["number"])
            for upload, found in checked:
                name = default_storage.save(
                    f"cases/{now:%Y/%m}/{uuid.uuid4().hex}{_suffix(found.name)}", upload
                )
                saved.append(name)
                CaseAttachment.objects.create(
                    case=case, file=name, name=found.name, content_type=found.content_type or "",
                    size=found.size, sha256=found.sha256,
                )  # fmt: skip
            step = _step(case, CaseStep.Kind.FILED, actor, staff=False)
            _announce(case, ChangeAction.FILED, actor, step)
    except BaseException:
        for name in saved:  # the files of a case that was not stored go with it
            default_storage.delete(name)
        raise
    return case


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _locked(case: Case) -> Case:
    return Case.objects.select_for_update().select_related("rule").get(pk=case.pk)


def _refuse_unless(case: Case, statuses: tuple[str, ...], step: str) -> None:
    if case.status not in statuses:
        message = _(NOT_OPEN).format(number=case.number, status=case.get_status_display(), step=step)
        raise ValidationError({"status": message}, code="state")


@transaction.atomic
def case_take(*, actor: Actor, case: Case) -> Case:
    """A reviewer takes a received or escalated case up; a human review is never the first answerer's."""
    role_require(actor, Role.REVIEWER)
    stored = _locked(case)
    _refuse_unless(stored, (Case.Status.RECEIVED, Case.Status.ESCALATED), _("开始审查"))
    if stored.first_answered_by_id is not None and stored.first_answered_by_id == actor.user_id:
        raise PermissionDenied(_(REVIEW_BY_ANOTHER))
    stored.status = Case.Status.UNDER_REVIEW
    stored.handler_id = actor.user_id
    stored.save(update_fields=["status", "handler"])
    step = _step(stored, CaseStep.Kind.TAKEN, actor, staff=True)
    _announce(stored, ChangeAction.TAKEN, actor, step)
    return stored


@transaction.atomic
def case_answer(*, actor: Actor, case: Case, outcome: str, answer: str) -> Case:
    """A reviewer answers: upheld, partly upheld or rejected, with reasons; a review answers anew."""
    role_require(actor, Role.REVIEWER)
    stored = _locked(case)
    _refuse_unless(stored, (Case.Status.RECEIVED, Case.Status.UNDER_REVIEW, Case.Status.ESCALATED), _("答复"))
    if stored.first_answered_by_id is not None and stored.first_answered_by_id == actor.user_id:
        raise PermissionDenied(_(REVIEW_BY_ANOTHER))
    if outcome not in Case.Outcome.values:
        raise ValidationError({"outcome": _(OUTCOME_UNKNOWN).format(value=str(outcome)[:20])})
    answer = _text_clean(
        answer, field="answer", limit=settings.RULECENTER_CASE_TEXT_MAX_CHARS, empty=ANSWER_EMPTY
    )
    now = _now()
    stored.status = Case.Status.ANSWERED
    stored.outcome, stored.answer = outcome, answer
    stored.answered_by_id, stored.answered_at = actor.user_id, now
    stored.handler_id = stored.handler_id or actor.user_id
    stored.answered_in_time = now <= stored.due_at
    stored.save(
        update_fields=[
            "status",
            "outcome",
            "answer",
            "answered_by",
            "answered_at",
            "handler",
            "answered_in_time",
        ]
    )
    step = _step(stored, CaseStep.Kind.ANSWERED, actor, staff=True, note=answer, outcome=outcome)
    _announce(stored, ChangeAction.ANSWERED, actor, step)
    return stored


def escalation_refused(case: Case, *, at: datetime) -> str | None:
    """Why the member may not ask for a human review of this case at `at` (in the active language), or None:
    the one rule the service enforces and the case page follows to offer the button."""
    if case.first_answered_by_id is not None:
        return _(ESCALATION_ONCE).format(number=case.number)
    if case.status != Case.Status.ANSWERED or case.answered_at is None:
        return _(ESCALATION_NOT_ANSWERED).format(number=case.number)
    if not case.automated:
        return _(ESCALATION_NOT_AUTOMATED)
    days = settings.RULECENTER_CASE_ESCALATION_DAYS
    if at > case.answered_at + timedelta(days=days):
        return _(ESCALATION_LATE).format(days=days, at=_local(case.answered_at))
    return None


@transaction.atomic
def case_escalate(*, actor: Actor, case: Case, reason: str = "") -> Case:
    """The member asks for a human review of the answer (a decision made by an automated system or without
    a person), once, within the setting's days of the answer; another staff member answers it."""
    _member_require(actor, case.member)
    stored = _locked(case)
    refused = escalation_refused(stored, at=_now())
    if refused is not None:
        raise ValidationError({"status": refused}, code="state")
    reason = (reason or "").strip()
    if len(reason) > NOTE_MAX_CHARS:
        raise ValidationError({"reason": _(NOTE_TOO_LONG).format(limit=NOTE_MAX_CHARS)})
    control_characters_refuse({"reason": reason})
    now = _now()
    stored.status = Case.Status.ESCALATED
    stored.first_answered_by_id = stored.answered_by_id
    stored.outcome, stored.answer, stored.answered_by_id, stored.answered_at = "", "", None, None
    stored.answered_in_time = None
    stored.handler_id = None
    stored.escalated_at = now
    stored.due_at = now + timedelta(days=settings.RULECENTER_CASE_REVIEW_DAYS)
    stored.save(
        update_fields=[
            "status", "first_answered_by", "outcome", "answer", "answered_by", "answered_at",
            "answered_in_time", "handler", "escalated_at", "due_at",
        ]
    )  # fmt: skip
    step = _step(stored, CaseStep.Kind.ESCALATED, actor, staff=False, note=reason)
    _announce(stored, ChangeAction.ESCALATED, actor, step)
    return stored


@transaction.atomic
def case_close(*, actor: Actor, case: Case) -> Case:
    """Close an answered case: the member accepting the answer, or a reviewer."""
    staff = actor.has(Role.REVIEWER.value)
    if not staff:
        _member_require(actor, case.member)
    stored = _locked(case)
    if stored.status == Case.Status.CLOSED:
        _refuse_unless(stored, (Case.Status.ANSWERED,), _("结案"))
    if stored.status != Case.Status.ANSWERED:
        raise ValidationError({"status": _(CLOSE_NOT_ANSWERED).format(number=stored.number)}, code="state")
    stored.status = Case.Status.CLOSED
    stored.closed_at = _now()
    stored.save(update_fields=["status", "closed_at"])
    step = _step(stored, CaseStep.Kind.CLOSED, actor, staff=staff)
    _announce(stored, ChangeAction.CLOSED, actor, step)
    return stored
