"""Writes to the rule library. One transaction per call; the statutory clock is checked here."""

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.accounts import services as account_services
from rulecenter.accounts.models import Role, Segment
from rulecenter.accounts.roles import role_require
from rulecenter.common.actors import Actor
from rulecenter.common.changes import (
    ChangeAction,
    ContentKind,
    content_changed_announce,
    content_changing_check,
)
from rulecenter.common.law import notice_days_required
from rulecenter.common.text import control_characters_refuse, local_minute
from rulecenter.common.translations import translation_checked, translation_fields

from . import selectors
from .lifecycle import version_changed
from .models import (
    Acknowledgment,
    AcknowledgmentReminder,
    ChangeBundle,
    ExitRequest,
    LifecycleEvent,
    Rule,
    RuleCategory,
    RuleVersion,
    RuleVersionTranslation,
)
from .tasks import run_due_lifecycle

logger = logging.getLogger(__name__)

NOTICE_TOO_SHORT = (
    "公示期不足：依据《中华人民共和国电子商务法》第三十四条，规则变更应当至少在实施前 {days} 日公示{major_note}。"
    "按公示时间 {notice_at}，最早可于 {earliest} 生效。"
)
NOTICE_MAJOR_NOTE = "（重大变更依《网络交易平台规则监督管理办法》至少提前 {days} 日）"
NOTICE_IN_PAST = "公示时间不能早于当前时间（{now}）：已经过去的时刻无法补做公示。"
VERSION_FROZEN = "该版本已于 {notice_at} 公示，不能修改或删除；如需更正，请新建版本。"
VERSION_TEXT_EMPTY = "规则全文不能为空。"
VERSION_TEXT_TOO_LONG = "规则全文有 {length} 个字符，超过上限 {limit} 个字符。"
BUFFER_BEFORE_EFFECTIVE = "缓冲期结束时间必须晚于生效时间。"
EFFECTIVE_TAKEN = "《{rule}》已有一个版本在 {effective_at} 生效，同一时刻只能有一个版本生效。"
BUNDLE_EMPTY = "变更包至少要包含一个规则版本。"
BUNDLE_SAME_RULE = "同一变更包中每条规则只能有一个版本：《{rule}》出现了多次。"
EXIT_NOT_IN_NOTICE = "只能在公示期内申请退出：该变更公示期为 {notice_at} 至 {effective_at}。"
EXIT_NOT_MEMBER = "只有已登录的会员可以申请退出。"
EXIT_DUPLICATE = "您已就该变更提交过退出申请。"
# Four eyes (issue 11): the texts the API, the admin and the tests share.
APPROVAL_REQUIRED = "《{rule}》第 {number} 版尚未审核通过：排期公示前须由作者以外的审核角色审核通过。"
APPROVAL_REQUIRED_SINGLE = "《{rule}》第 {number} 版尚未审核通过：排期公示前须经审核角色审核通过。"
APPROVAL_BY_AUTHOR = (
    "《{rule}》第 {number} 版由其作者本人审核通过，不符合四眼原则：须由作者以外的审核角色重新审核通过。"
)
SUBMIT_NEEDS_APPROVAL = (
    "新建的版本尚未审核，不能同时排期：请先提交草稿，由作者以外的审核角色审核通过后，再由发布角色排期。"
)
OWN_DRAFT_APPROVAL = "四眼原则：不能审核通过自己撰写的版本，须由作者以外的审核角色审核。"
ALREADY_APPROVED = "《{rule}》第 {number} 版已于 {approved_at} 审核通过。"
VERSION_SCHEDULED = (
    "《{rule}》第 {number} 版已排期于 {notice_at} 公示：请先由发布角色撤回排期，修改后重新审核。"
)
NOT_SCHEDULED = "《{rule}》第 {number} 版尚未排期，无需撤回。"
COMMENT_REQUIRED = "退回修改时须写明退回意见。"
COMMENT_TOO_LONG = "退回意见最多 {max} 个字符（现有 {length} 个）。"
REVIEW_COMMENT_MAX_CHARS = 2000


class ReviewStateConflict(ValidationError):
    """The version's review or schedule state forbids the step (not approved, already scheduled …).

    A ValidationError, so the admin shows it on the form; the API answers it with 409 Conflict.
    """


class OwnDraftApproval(PermissionDenied):
    """Four eyes: an author may not approve their own text (the API answers 403)."""


def check_notice_period(*, notice_at: datetime, effective_at: datetime, major: bool) -> None:
    """Refuse a schedule whose notice period is shorter than the law's (settings) minimum."""
    days = notice_days_required(major=major)
    earliest = notice_at + timedelta(days=days)
    if effective_at < earliest:
        major_note = _(NOTICE_MAJOR_NOTE).format(days=notice_days_required(major=True)) if major else ""
        message = _(NOTICE_TOO_SHORT).format(
            days=days,
            major_note=major_note,
            notice_at=local_minute(notice_at),
            earliest=local_minute(earliest),
        )
        raise ValidationError({"effective_at": message})


@transaction.atomic
def rule_category_create(
    *, actor: Actor, slug: str, name: str, parent: RuleCategory | None = None, position: int = 0
) -> RuleCategory:
    category = RuleCategory(slug=slug, name=name, parent=parent, position=position)
    return rule_category_save(actor=actor, category=category)


@transaction.atomic
def rule_category_save(*, actor: Actor, category: RuleCategory) -> RuleCategory:
    """Create or save an edited category (the admin's form); a rename or move refiles its rules."""
    role_require(actor, Role.EDITOR)
    created = category.pk is None
    category.full_clean()
    category.save()
    action = ChangeAction.CREATED if created else ChangeAction.UPDATED
    content_changed_announce(
        kind=ContentKind.RULE_CATEGORY,
        ids=[category.pk],
        action=action,
        actor=actor,
        data={"slug": category.slug, "name": category.name, "parent": category.parent_id},
    )
    return category


@transaction.atomic
def rule_create(
    *, actor: Actor, slug: str, title: str, category: RuleCategory, kind: str = Rule.Kind.RULE
) -> Rule:
    rule = Rule(slug=slug, title=title, category=category, kind=kind)
    return rule_save(actor=actor, rule=rule)


@transaction.atomic
def rule_save(*, actor: Actor, rule: Rule) -> Rule:
    """Create or save an edited rule (the admin's form): its title is stored without book-title marks."""
    role_require(actor, Role.EDITOR)
    created = rule.pk is None
    rule.title = rule.title.strip().strip("《》")
    control_characters_refuse({"title": rule.title}, one_line=["title"])
    rule.full_clean()
    rule.save()
    action = ChangeAction.CREATED if created else ChangeAction.UPDATED
    content_changed_announce(
        kind=ContentKind.RULE,
        ids=[rule.pk],
        action=action,
        actor=actor,
        data={"slug": rule.slug, "title": rule.title, "kind": rule.kind, "category": rule.category_id},
    )
    return rule


def _text_length_check(text: str) -> None:
    """A rule text is parsed, diffed and indexed on every view: RULECENTER_RULE_TEXT_MAX_CHARS bounds it."""
    limit: int = settings.RULECENTER_RULE_TEXT_MAX_CHARS
    if len(text) > limit:
        raise ValidationError({"text": _(VERSION_TEXT_TOO_LONG).format(length=len(text), limit=limit)})


@transaction.atomic
def rule_version_create(
    *,
    actor: Actor,
    rule: Rule,
    text: str,
    summary: str = "",
    major: bool = False,
    acknowledgment_required: bool = False,
) -> RuleVersion:
    """A new draft version numbered after the rule's last one."""
    role_require(actor, Role.EDITOR)
    acknowledgment_required_check(major=major, acknowledgment_required=acknowledgment_required)
    if not text.strip():
        raise ValidationError({"text": _(VERSION_TEXT_EMPTY)})
    _text_length_check(text)
    control_characters_refuse({"text": text, "summary": summary})
    Rule.objects.select_for_update().filter(pk=rule.pk).first()  # serialise numbering per rule
    last = RuleVersion.objects.filter(rule=rule).aggregate(last=Max("number"))["last"] or 0
    version = RuleVersion(
        rule=rule,
        number=last + 1,
        text=text,
        summary=summary.strip(),
        major=major,
        acknowledgment_required=acknowledgment_required,
        author_id=actor.user_id,
    )
    version.full_clean()
    version.save()
    version_changed(version, ChangeAction.CREATED, actor)
    return version


def _refuse_if_frozen(version: RuleVersion) -> None:
    if version.is_noticed_at(timezone.now()):
        assert version.notice_at is not None
        raise ReviewStateConflict(
            _(VERSION_FROZEN).format(notice_at=local_minute(version.notice_at)), code="frozen"
        )


def _locked(version: RuleVersion) -> RuleVersion:
    """The stored row, locked: guards judge what is stored, not what a form has already changed."""
    return RuleVersion.objects.select_for_update(of=("self",)).select_related("rule").get(pk=version.pk)


def _is_scheduled(version: RuleVersion) -> bool:
    """Given its dates but not yet noticed (noticed versions are refused as frozen first)."""
    return version.notice_at is not None


def _refuse_if_scheduled(version: RuleVersion, actor: Actor) -> None:
    """A scheduled text was approved as it stands: people unschedule before they change it.

    The platform itself (imports, the demo) needs no approval, so it may change what it scheduled.
    """
    if _is_scheduled(version) and not actor.is_system:
        assert version.notice_at is not None
        raise ReviewStateConflict(
            _(VERSION_SCHEDULED).format(
                rule=version.rule.title, number=version.number, notice_at=local_minute(version.notice_at)
            ),
            code="scheduled",
        )


def _refuse_unless_approved(version: RuleVersion, actor: Actor) -> None:
    """Four eyes: only an approved text is scheduled, approved by someone other than its last author."""
    if actor.is_system:
        return  # the platform records history already public elsewhere (loaddemo, imports)
    names = {"rule": version.rule.title, "number": version.number}
    if version.approved_at is None:
        message = APPROVAL_REQUIRED if settings.RULECENTER_FOUR_EYES else APPROVAL_REQUIRED_SINGLE
        raise ReviewStateConflict(_(message).format(**names), code="approval_required")
    # Approved in single-person mode, then the setting was turned on: that approval no longer counts.
    if (
        settings.RULECENTER_FOUR_EYES
        and version.author_id is not None
        and version.approved_by_id == version.author_id
    ):
        raise ReviewStateConflict(_(APPROVAL_BY_AUTHOR).format(**names), code="approval_required")


def rule_version_edit_check(*, actor: Actor, version: RuleVersion) -> None:
    """Raise unless `actor` may edit or delete this version as it stands (editor; a draft, not scheduled).

    The services run these checks on the locked row; the admin runs them to decide what it offers.
    """
    role_require(actor, Role.EDITOR)
    _refuse_if_frozen(version)
    _refuse_if_scheduled(version, actor)


def rule_version_segments_check(*, actor: Actor, version: RuleVersion) -> None:
    """Raise unless `actor` may set this version's segments: an editor, before its notice."""
    role_require(actor, Role.EDITOR)
    _refuse_if_frozen(version)


@transaction.atomic
def rule_version_segments_set(
    *, actor: Actor, version: RuleVersion, segments: Iterable[str]
) -> list[Segment]:
    """Target a version at these segments (slugs; none: everyone), by an editor; returns them by name.

    Until its notice, scheduled or not (targeting is not the text: an approval stands); from the notice on
    frozen — what was noticed, and who was told, is never rewritten silently (the database refuses it too).
    The change is announced (the audit chain records the segments); nothing is written when they are the same.
    """
    role_require(actor, Role.EDITOR)
    wanted = account_services.segments_resolve(slugs=segments)
    stored = _locked(version)
    rule_version_segments_check(actor=actor, version=stored)
    current = set(stored.segments.values_list("pk", flat=True))
    if current == {segment.pk for segment in wanted}:
        return wanted
    stored.segments.set(wanted)
    version_changed(stored, ChangeAction.UPDATED, actor, segments=[segment.slug for segment in wanted])
    return wanted


@transaction.atomic
def rule_version_translate(
    *, actor: Actor, version: RuleVersion, language: str, title: str, summary: str = ""
) -> RuleVersionTranslation:
    """A translation of the rule's title and the version's change summary: an editor's while the version is
    a draft, a publisher's once it is scheduled (readers see it from the notice on). Written once: the
    newest is shown, earlier ones kept. The text itself is not translated: the Chinese text binds."""
    language, title, summary = translation_checked(language=language, title=title, summary=summary)
    stored = _locked(version)
    role_require(actor, Role.PUBLISHER if _is_scheduled(stored) else Role.EDITOR)
    translated = RuleVersionTranslation.objects.create(
        version=stored,
        language=language,
        title=title,
        summary=summary,
        **translation_fields(actor, at=timezone.now()),
    )
    content_changed_announce(
        kind=ContentKind.RULE_VERSION,
        ids=[stored.pk],
        action=ChangeAction.TRANSLATED,
        actor=actor,
        rule_ids=[stored.rule_id],
        data={
            "rule": stored.rule_id,
            "number": stored.number,
            "language": language,
            "title": title,
            "summary": summary,
        },
    )
    return translated


def rule_version_approve_check(*, actor: Actor, version: RuleVersion) -> None:
    """Raise unless `actor` may approve this draft: a reviewer, not its last author (four eyes)."""
    role_require(actor, Role.REVIEWER)
    _refuse_if_frozen(version)
    _refuse_if_scheduled(version, actor)
    if version.approved_at is not None:
        raise ReviewStateConflict(
            _(ALREADY_APPROVED).format(
                rule=version.rule.title, number=version.number, approved_at=local_minute(version.approved_at)
            ),
            code="approved",
        )
    own = actor.user_id is not None and actor.user_id == version.author_id
    if own and settings.RULECENTER_FOUR_EYES:
        raise OwnDraftApproval(_(OWN_DRAFT_APPROVAL))


def rule_version_send_back_check(*, actor: Actor, version: RuleVersion) -> None:
    """Raise unless `actor` may send this draft back: a reviewer, before it is scheduled."""
    role_require(actor, Role.REVIEWER)
    _refuse_if_frozen(version)
    _refuse_if_scheduled(version, actor)


def rule_version_schedule_check(*, actor: Actor, version: RuleVersion, record_past: bool = False) -> None:
    """Raise unless `actor` may schedule this version: a publisher, an approved text not yet noticed."""
    role_require(actor, Role.PUBLISHER)
    if not record_past:
        _refuse_if_frozen(version)
    _refuse_unless_approved(version, actor)


def rule_version_unschedule_check(*, actor: Actor, version: RuleVersion) -> None:
    """Raise unless `actor` may take this version's schedule back: a publisher, before its notice."""
    role_require(actor, Role.PUBLISHER)
    _refuse_if_frozen(version)
    if not _is_scheduled(version):
        raise ReviewStateConflict(
            _(NOT_SCHEDULED).format(rule=version.rule.title, number=version.number), code="not_scheduled"
        )


SCHEDULE_INCOMPLETE = "公示时间和生效时间须同时给出，或同时留空（草稿）。"


@transaction.atomic
def rule_version_submit(
    *,
    actor: Actor,
    rule: Rule,
    text: str,
    summary: str = "",
    major: bool = False,
    acknowledgment_required: bool = False,
    notice_at: datetime | None = None,
    effective_at: datetime | None = None,
    buffer_ends_at: datetime | None = None,
) -> RuleVersion:
    """Create a version and, when both dates are given, schedule it: all or nothing."""
    if (notice_at is None) != (effective_at is None) or (buffer_ends_at is not None and effective_at is None):
        raise ValidationError({"effective_at": _(SCHEDULE_INCOMPLETE)})
    if notice_at is not None:
        role_require(actor, Role.PUBLISHER)  # refused before anything is written
        if not actor.is_system:
            # A text written just now has had no second pair of eyes: it cannot be scheduled with it.
            raise ReviewStateConflict(_(SUBMIT_NEEDS_APPROVAL), code="approval_required")
    version = rule_version_create(
        actor=actor,
        rule=rule,
        text=text,
        summary=summary,
        major=major,
        acknowledgment_required=acknowledgment_required,
    )
    if notice_at is not None and effective_at is not None:
        version = rule_version_schedule(
            actor=actor,
            version=version,
            notice_at=notice_at,
            effective_at=effective_at,
            buffer_ends_at=buffer_ends_at,
        )
    return version


@transaction.atomic
def rule_version_update(
    *,
    actor: Actor,
    version: RuleVersion,
    text: str,
    summary: str,
    major: bool,
    acknowledgment_required: bool | None = None,
) -> RuleVersion:
    """Edit a draft's text; the editor becomes its last author and any approval is withdrawn.
    `acknowledgment_required` None leaves it as it is."""
    role_require(actor, Role.EDITOR)
    stored = _locked(version)
    rule_version_edit_check(actor=actor, version=stored)
    content_changing_check(
        kind=ContentKind.RULE_VERSION,
        ids=[stored.pk],
        action=ChangeAction.UPDATED,
        actor=actor,
        rule_ids=[stored.rule_id],
    )
    if not text.strip():
        raise ValidationError({"text": _(VERSION_TEXT_EMPTY)})
    _text_length_check(text)
    control_characters_refuse({"text": text, "summary": summary})
    if acknowledgment_required is None:
        acknowledgment_required = stored.acknowledgment_required and major
    acknowledgment_required_check(major=major, acknowledgment_required=acknowledgment_required)
    wanted = (text, summary.strip(), major, acknowledgment_required)
    if wanted == (stored.text, stored.summary, stored.major, stored.acknowledgment_required):
        return stored  # nothing to write: the approval of this very text stands
    stored.text, stored.summary, stored.major = text, summary.strip(), major
    stored.acknowledgment_required = acknowledgment_required
    stored.author_id = actor.user_id
    stored.approved_by_id, stored.approved_at = None, None
    if stored.notice_at is not None and stored.effective_at is not None:
        check_notice_period(notice_at=stored.notice_at, effective_at=stored.effective_at, major=major)
    stored.full_clean()
    stored.save()
    version_changed(stored, ChangeAction.UPDATED, actor)
    return stored


@transaction.atomic
def rule_version_delete(*, actor: Actor, version: RuleVersion) -> None:
    role_require(actor, Role.EDITOR)
    stored = _locked(version)
    rule_version_edit_check(actor=actor, version=stored)
    content_changing_check(
        kind=ContentKind.RULE_VERSION,
        ids=[stored.pk],
        action=ChangeAction.DELETED,
        actor=actor,
        rule_ids=[stored.rule_id],
    )
    pk = stored.pk
    stored.delete()
    stored.pk = pk  # the event names the deleted version
    version_changed(stored, ChangeAction.DELETED, actor)


def _schedule_one(
    version: RuleVersion,
    *,
    notice_at: datetime,
    effective_at: datetime,
    buffer_ends_at: datetime | None,
    major: bool,
    bundle: ChangeBundle | None,
    record_past: bool,
    actor: Actor,
) -> RuleVersion:
    now = timezone.now()
    rule_version_schedule_check(actor=actor, version=version, record_past=record_past)
    if not record_past and notice_at < now - timedelta(minutes=1):
        raise ValidationError({"notice_at": _(NOTICE_IN_PAST).format(now=local_minute(now))})
    check_notice_period(notice_at=notice_at, effective_at=effective_at, major=major)
    if buffer_ends_at is not None and buffer_ends_at <= effective_at:
        raise ValidationError({"buffer_ends_at": _(BUFFER_BEFORE_EFFECTIVE)})
    clash = RuleVersion.objects.filter(rule=version.rule, effective_at=effective_at).exclude(pk=version.pk)
    if clash.exists():
        raise ValidationError(
            {
                "effective_at": _(EFFECTIVE_TAKEN).format(
                    rule=version.rule.title, effective_at=local_minute(effective_at)
                )
            }
        )
    version.notice_at, version.effective_at, version.buffer_ends_at = notice_at, effective_at, buffer_ends_at
    version.bundle = bundle
    version.full_clean()
    version.save()
    version_changed(version, ChangeAction.SCHEDULED, actor)
    due = {LifecycleEvent.Kind.NOTICE: notice_at, LifecycleEvent.Kind.EFFECTIVE: effective_at}
    if buffer_ends_at is not None:
        due[LifecycleEvent.Kind.BUFFER_END] = buffer_ends_at
    LifecycleEvent.objects.filter(version=version, done_at__isnull=True).exclude(kind__in=due).delete()
    for kind, due_at in due.items():
        # A past moment recorded from history already happened elsewhere: logged as done, nothing generated.
        done_at = now if record_past and due_at <= now else None
        LifecycleEvent.objects.update_or_create(
            version=version, kind=kind, defaults={"due_at": due_at, "done_at": done_at}
        )
    return version


def _enqueue_wakeups(moments: Sequence[datetime]) -> None:
    """Ask the worker to run the due transitions at each moment (after this transaction commits)."""

    def enqueue() -> None:
        for moment in sorted(set(moments)):
            run_due_lifecycle.using(run_after=moment).enqueue()

    # Robust: a queue that is down (Redis) must not turn a committed write into an error; `run_due` (cron or
    # the next wake-up) makes the transition on time all the same.
    transaction.on_commit(enqueue, robust=True)


@transaction.atomic
def rule_version_schedule(
    *,
    actor: Actor,
    version: RuleVersion,
    notice_at: datetime,
    effective_at: datetime,
    buffer_ends_at: datetime | None = None,
    record_past: bool = False,
) -> RuleVersion:
    """Set when a single version is noticed and takes effect; refused if the notice period is too short.

    `record_past` records a change that was noticed before it reached this system (imports, demo data):
    the notice may lie in the past and its past transitions are logged as done without side effects.
    """
    role_require(actor, Role.PUBLISHER)
    stored = _locked(version)
    scheduled = _schedule_one(
        stored,
        notice_at=notice_at,
        effective_at=effective_at,
        buffer_ends_at=buffer_ends_at,
        major=stored.major,
        bundle=stored.bundle,
        record_past=record_past,
        actor=actor,
    )
    _enqueue_wakeups([notice_at, effective_at, *([buffer_ends_at] if buffer_ends_at else [])])
    return scheduled


@transaction.atomic
def change_bundle_schedule(
    *,
    actor: Actor,
    title: str,
    versions: Sequence[RuleVersion],
    notice_at: datetime,
    effective_at: datetime,
    buffer_ends_at: datetime | None = None,
    record_past: bool = False,
) -> ChangeBundle:
    """Group versions of several rules so they are noticed and take effect together.

    If any of them is a major change the whole bundle needs the major notice period.
    """
    role_require(actor, Role.PUBLISHER)
    if not versions:
        raise ValidationError(_(BUNDLE_EMPTY))
    stored = [_locked(version) for version in versions]
    seen: set[int] = set()
    for version in stored:
        if version.rule_id in seen:
            raise ValidationError(_(BUNDLE_SAME_RULE).format(rule=version.rule.title))
        seen.add(version.rule_id)
        rule_version_schedule_check(actor=actor, version=version, record_past=record_past)
    major = any(version.major for version in stored)
    control_characters_refuse({"title": title}, one_line=["title"])
    bundle = ChangeBundle(title=title.strip())
    bundle.full_clean()
    bundle.save()
    content_changed_announce(
        kind=ContentKind.CHANGE_BUNDLE,
        ids=[bundle.pk],
        action=ChangeAction.SCHEDULED,
        actor=actor,
        rule_ids=[version.rule_id for version in stored],
        data={
            "title": bundle.title,
            "versions": [version.pk for version in stored],
            "notice_at": notice_at.isoformat(),
            "effective_at": effective_at.isoformat(),
            "buffer_ends_at": buffer_ends_at.isoformat() if buffer_ends_at else None,
        },
    )
    for version in stored:
        _schedule_one(
            version,
            notice_at=notice_at,
            effective_at=effective_at,
            buffer_ends_at=buffer_ends_at,
            major=major,
            bundle=bundle,
            record_past=record_past,
            actor=actor,
        )
    _enqueue_wakeups([notice_at, effective_at, *([buffer_ends_at] if buffer_ends_at else [])])
    return bundle


@transaction.atomic
def rule_version_approve(*, actor: Actor, version: RuleVersion) -> RuleVersion:
    """A reviewer approves a draft as it stands; four eyes: never its own last author."""
    role_require(actor, Role.REVIEWER)
    stored = _locked(version)
    rule_version_approve_check(actor=actor, version=stored)
    stored.approved_by_id, stored.approved_at = actor.user_id, timezone.now()
    stored.review_comment = ""
    stored.full_clean()
    stored.save()
    version_changed(stored, ChangeAction.APPROVED, actor)
    return stored


@transaction.atomic
def rule_version_send_back(*, actor: Actor, version: RuleVersion, comment: str) -> RuleVersion:
    """A reviewer returns a draft to its editors with a comment; any approval is withdrawn."""
    role_require(actor, Role.REVIEWER)
    comment = comment.replace("\x00", "").strip()
    if not comment:
        raise ValidationError({"comment": _(COMMENT_REQUIRED)})
    if len(comment) > REVIEW_COMMENT_MAX_CHARS:
        message = _(COMMENT_TOO_LONG).format(max=REVIEW_COMMENT_MAX_CHARS, length=len(comment))
        raise ValidationError({"comment": message})
    stored = _locked(version)
    rule_version_send_back_check(actor=actor, version=stored)
    stored.approved_by_id, stored.approved_at = None, None
    stored.review_comment = comment
    stored.full_clean()
    stored.save()
    version_changed(stored, ChangeAction.SENT_BACK, actor)
    return stored


@transaction.atomic
def rule_version_unschedule(*, actor: Actor, version: RuleVersion) -> RuleVersion:
    """Take a scheduled version back before its notice: no dates, no pending transitions, out of its bundle.

    Its approval stands (the text did not change); a publisher may schedule it again.
    """
    role_require(actor, Role.PUBLISHER)
    stored = _locked(version)
    rule_version_unschedule_check(actor=actor, version=stored)
    was = {
        "notice_at": stored.notice_at.isoformat() if stored.notice_at else None,
        "effective_at": stored.effective_at.isoformat() if stored.effective_at else None,
        "bundle": stored.bundle_id,
    }
    stored.notice_at = stored.effective_at = stored.buffer_ends_at = None
    stored.bundle = None
    stored.full_clean()
    stored.save()
    LifecycleEvent.objects.filter(version=stored, done_at__isnull=True).delete()
    version_changed(stored, ChangeAction.UNSCHEDULED, actor, unscheduled=was)
    return stored


def rule_versions_unnoticed(*, rule: Rule, at: datetime) -> list[RuleVersion]:
    """The rule's drafts and scheduled versions not yet noticed at `at`, newest first, with their people.

    A read for staff (the drafts endpoint); kept beside the review services that give it meaning.
    """
    unnoticed = Q(notice_at__isnull=True) | Q(notice_at__gt=at)
    return list(
        RuleVersion.objects.filter(unnoticed, rule=rule)
        .select_related("rule", "author", "approved_by")
        .order_by("-number")
    )


@transaction.atomic
def exit_request_create(
    *, actor: Actor, bundle: ChangeBundle, user: User | AnonymousUser, reason: str = ""
) -> ExitRequest:
    """Record a member's refusal of a change; it binds them to the versions in force now."""
    if isinstance(user, AnonymousUser) or not hasattr(user, "member"):
        raise ValidationError(_(EXIT_NOT_MEMBER))
    versions = selectors.bundle_versions(bundle_id=bundle.pk)
    now = timezone.now()
    first = versions[0]
    assert first.notice_at is not None
    assert first.effective_at is not None
    if not first.notice_at <= now < first.effective_at:
        raise ValidationError(
            _(EXIT_NOT_IN_NOTICE).format(
                notice_at=local_minute(first.notice_at), effective_at=local_minute(first.effective_at)
            )
        )
    request = ExitRequest(bundle=bundle, user=user, reason=reason.replace("\x00", "").strip()[:2000])
    request.full_clean(validate_constraints=False)
    try:
        # The one-request-per-member constraint decides, so two submissions racing cannot both land.
        with transaction.atomic():
            request.save()
    except IntegrityError:
        raise ValidationError(_(EXIT_DUPLICATE)) from None
    binding = [
        v for v in (selectors.version_in_force(rule=v.rule, at=now) for v in versions) if v is not None
    ]
    request.binding_versions.set(binding)
    content_changed_announce(
        kind=ContentKind.EXIT_REQUEST,
        ids=[request.pk],
        action=ChangeAction.CREATED,
        actor=actor,
        rule_ids=[v.rule_id for v in versions],
        data={"bundle": bundle.pk, "binding_versions": [v.pk for v in binding], "reason": request.reason},
    )
    return request


ACK_NOT_MEMBER = "只有登录的会员可以确认规则变更。"
ACK_NOT_ASKED = "《{rule}》第 {number} 版不需要确认。"
ACK_NOT_NOTICED = "《{rule}》第 {number} 版尚未公示，公示后才能确认。"
ACK_NOT_MAJOR = "只有重大变更可以要求商家确认。"


def acknowledgment_required_check(*, major: bool, acknowledgment_required: bool) -> None:
    if acknowledgment_required and not major:
        raise ValidationError({"acknowledgment_required": _(ACK_NOT_MAJOR)})


def acknowledgment_record(
    *, actor: Actor, user: User | AnonymousUser, version: RuleVersion
) -> tuple[Acknowledgment, bool]:
    """Record a member's explicit 我已阅读并知悉 of a noticed version that asks for it: (the acknowledgment,
    whether it was recorded now). A second one changes nothing (the first time is the one that counts)."""
    if isinstance(user, AnonymousUser) or not hasattr(user, "member") or actor.user_id != user.pk:
        raise PermissionDenied(_(ACK_NOT_MEMBER))
    if not version.acknowledgment_required:
        raise ValidationError(_(ACK_NOT_ASKED).format(rule=version.rule.title, number=version.number))
    now = timezone.now()
    if not version.is_noticed_at(now):
        raise ValidationError(_(ACK_NOT_NOTICED).format(rule=version.rule.title, number=version.number))
    existing = Acknowledgment.objects.filter(version=version, user=user).first()
    if existing is not None:
        return existing, False
    try:
        # The one-per-member constraint decides, so two clicks racing record one acknowledgment.
        with transaction.atomic():
            return Acknowledgment.objects.create(version=version, user=user, acknowledged_at=now), True
    except IntegrityError:
        return Acknowledgment.objects.get(version=version, user=user), False


@transaction.atomic
def acknowledgment_reminders_record(
    *, version: RuleVersion, user_ids: Sequence[int], at: datetime
) -> list[int]:
    """Record that these members are being reminded of the version, once each: the ids this call recorded
    (another run's are left out, so no member is reminded twice)."""
    AcknowledgmentReminder.objects.bulk_create(
        [AcknowledgmentReminder(version=version, user_id=pk, sent_at=at) for pk in user_ids],
        ignore_conflicts=True,
    )
    mine = AcknowledgmentReminder.objects.filter(version=version, user_id__in=list(user_ids), sent_at=at)
    return list(mine.values_list("user_id", flat=True))
