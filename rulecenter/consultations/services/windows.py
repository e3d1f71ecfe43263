"""The window of a consultation: opening one on draft versions, and what may change once it has opened."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import role_require
from rulecenter.common.actors import Actor
from rulecenter.common.changes import ChangeAction, ContentKind, content_changed_announce
from rulecenter.common.text import local_minute
from rulecenter.rules import selectors as rule_selectors

from .. import selectors
from ..models import Consultation, ConsultationOption, validate_option_key
from ..tasks import draft_due_results

if TYPE_CHECKING:
    from rulecenter.rules.models import ChangeBundle, RuleVersion

CONSULTATION_TITLE_EMPTY = "标题不能为空。"
WINDOW_TOO_SHORT = "意见征集期不足：至少需要 {days} 日。按开始时间 {opens_at}，最早可于 {earliest} 截止。"
OPENS_IN_PAST = "开始时间不能早于当前时间（{now}）。"
VERSIONS_EMPTY = "意见征集至少要针对一个规则版本（草案）。"
VERSION_ALREADY_NOTICED = (
    "《{rule}》第 {number} 版已于 {notice_at} 公示，不能再就它征集意见；如需修改，请新建版本。"
)
VERSION_NOTICE_BEFORE_CLOSE = "《{rule}》第 {number} 版排定于 {notice_at} 公示，意见征集必须在公示之前结束。"
VERSION_SAME_RULE = "同一意见征集中每条规则只能有一个草案：《{rule}》出现了多次。"
VERSION_NOT_IN_BUNDLE = "《{rule}》第 {number} 版不属于所选的变更包。"
OPTIONS_TOO_FEW = "至少需要两个投票选项。"
OPTIONS_TOO_MANY = "投票选项最多 {limit} 个。"
OPTION_LABEL_INVALID = "选项“{key}”的名称须为 1 到 32 个字符。"
OPTION_DUPLICATE = "选项“{value}”重复。"
WINDOW_LOCKED = "意见征集已于 {opens_at} 开始：征集期只能推迟截止时间，选项和规则版本不能再改。"
WINDOW_CLOSED = "意见征集已于 {closes_at} 截止，征集期不能再修改。"
CLOSES_EARLIER = "征集开始后截止时间只能推迟，不能提前（当前截止时间 {closes_at}）。"

MAX_OPTIONS = 10


@dataclass(frozen=True, slots=True)
class OptionSpec:
    key: str
    label: str
    requires_reason: bool = False


DEFAULT_OPTIONS = (OptionSpec("support", "支持"), OptionSpec("reevaluate", "可再评估", requires_reason=True))


def check_window(*, opens_at: datetime, closes_at: datetime) -> None:
    """Refuse a window shorter than the minimum (RULECENTER_CONSULTATION_MIN_DAYS)."""
    days = settings.RULECENTER_CONSULTATION_MIN_DAYS
    earliest = opens_at + timedelta(days=days)
    if closes_at < earliest:
        message = _(WINDOW_TOO_SHORT).format(
            days=days, opens_at=local_minute(opens_at), earliest=local_minute(earliest)
        )
        raise ValidationError({"closes_at": message})


def _check_versions(versions: "Sequence[RuleVersion]", *, closes_at: datetime, record_past: bool) -> None:
    if not versions:
        raise ValidationError({"versions": _(VERSIONS_EMPTY)})
    now = timezone.now()
    seen: set[int] = set()
    for version in versions:
        if version.rule_id in seen:
            raise ValidationError({"versions": _(VERSION_SAME_RULE).format(rule=version.rule.title)})
        seen.add(version.rule_id)
        if version.notice_at is None:
            continue
        facts = {
            "rule": version.rule.title,
            "number": version.number,
            "notice_at": local_minute(version.notice_at),
        }
        if not record_past and version.notice_at <= now:
            raise ValidationError({"versions": _(VERSION_ALREADY_NOTICED).format(**facts)})
        if version.notice_at < closes_at:
            raise ValidationError({"versions": _(VERSION_NOTICE_BEFORE_CLOSE).format(**facts)})


def _check_options(options: Sequence[OptionSpec]) -> None:
    if len(options) < 2:
        raise ValidationError({"options": _(OPTIONS_TOO_FEW)})
    if len(options) > MAX_OPTIONS:
        raise ValidationError({"options": _(OPTIONS_TOO_MANY).format(limit=MAX_OPTIONS)})
    keys: set[str] = set()
    labels: set[str] = set()
    for option in options:
        try:
            validate_option_key(option.key)
        except ValidationError as invalid:
            raise ValidationError({"options": invalid.messages}) from None
        if not 1 <= len(option.label.strip()) <= 32:
            raise ValidationError({"options": _(OPTION_LABEL_INVALID).format(key=option.key)})
        for value, seen in ((option.key, keys), (option.label.strip(), labels)):
            if value in seen:
                raise ValidationError({"options": _(OPTION_DUPLICATE).format(value=value)})
            seen.add(value)


def _fields(
    consultation: Consultation, versions: "Sequence[RuleVersion]", options: Sequence[OptionSpec]
) -> dict[str, object]:
    """What a consultation's write set, as the audit chain records it."""
    return {
        "title": consultation.title,
        "explanation": consultation.explanation,
        "opens_at": consultation.opens_at.isoformat(),
        "closes_at": consultation.closes_at.isoformat(),
        "bundle": consultation.bundle_id,
        "versions": [version.pk for version in versions],
        "options": [[o.key, o.label, o.requires_reason] for o in options],
    }


def _enqueue_result(closes_at: datetime) -> None:
    """Ask the worker to draft the result report when the window closes (after this transaction commits)."""
    # Robust: a queue that is down must not fail the committed write; `run_due_consultations` drafts it too.
    transaction.on_commit(lambda: draft_due_results.using(run_after=closes_at).enqueue(), robust=True)


@transaction.atomic
def consultation_create(
    *,
    actor: Actor,
    title: str,
    opens_at: datetime,
    closes_at: datetime,
    versions: "Sequence[RuleVersion]" = (),
    bundle: "ChangeBundle | None" = None,
    explanation: str = "",
    options: Sequence[OptionSpec] = DEFAULT_OPTIONS,
    created_by: User | None = None,
    record_past: bool = False,
) -> Consultation:
    """Open a consultation on draft versions (or a bundle's) for a window of at least the minimum length.

    `record_past` records a consultation held before it reached this system (imports, demo data): its
    window may lie in the past and its versions may have been noticed since.
    """
    role_require(actor, Role.EDITOR)
    if not title.strip():
        raise ValidationError({"title": _(CONSULTATION_TITLE_EMPTY)})
    now = timezone.now()
    if not record_past and opens_at < now - timedelta(minutes=1):
        raise ValidationError({"opens_at": _(OPENS_IN_PAST).format(now=local_minute(now))})
    check_window(opens_at=opens_at, closes_at=closes_at)
    chosen = list(versions)
    if bundle is not None:
        in_bundle = rule_selectors.bundle_versions(bundle_id=bundle.pk)
        bundle_ids = {version.pk for version in in_bundle}
        for version in chosen:
            if version.pk not in bundle_ids:
                raise ValidationError(
                    {
                        "versions": _(VERSION_NOT_IN_BUNDLE).format(
                            rule=version.rule.title, number=version.number
                        )
                    }
                )
        chosen = chosen or in_bundle
    _check_versions(chosen, closes_at=closes_at, record_past=record_past)
    _check_options(options)
    consultation = Consultation(
        title=title.strip(),
        explanation=explanation.strip(),
        bundle=bundle,
        opens_at=opens_at,
        closes_at=closes_at,
        created_by=created_by,
    )
    consultation.full_clean()
    consultation.save()
    consultation.versions.set(chosen)
    ConsultationOption.objects.bulk_create(
        ConsultationOption(
            consultation=consultation,
            key=option.key,
            label=option.label.strip(),
            requires_reason=option.requires_reason,
            position=position,
        )
        for position, option in enumerate(options)
    )
    content_changed_announce(
        kind=ContentKind.CONSULTATION,
        ids=[consultation.pk],
        action=ChangeAction.CREATED,
        actor=actor,
        rule_ids=[version.rule_id for version in chosen],
        data=_fields(consultation, chosen, options),
    )
    _enqueue_result(closes_at)
    return consultation


@transaction.atomic
def consultation_update(
    *,
    actor: Actor,
    consultation: Consultation,
    title: str,
    explanation: str,
    opens_at: datetime,
    closes_at: datetime,
) -> Consultation:
    """Edit a consultation. Once open, its window can only be extended (never shortened or moved)."""
    role_require(actor, Role.EDITOR)
    stored = Consultation.objects.select_for_update().get(pk=consultation.pk)
    now = timezone.now()
    if stored.closes_at <= now and (opens_at, closes_at) != (stored.opens_at, stored.closes_at):
        raise ValidationError(
            {"closes_at": _(WINDOW_CLOSED).format(closes_at=local_minute(stored.closes_at))}
        )
    if stored.opens_at <= now:
        if opens_at != stored.opens_at:
            raise ValidationError(
                {"opens_at": _(WINDOW_LOCKED).format(opens_at=local_minute(stored.opens_at))}
            )
        if closes_at < stored.closes_at:
            raise ValidationError(
                {"closes_at": _(CLOSES_EARLIER).format(closes_at=local_minute(stored.closes_at))}
            )
    elif opens_at < now - timedelta(minutes=1):
        raise ValidationError({"opens_at": _(OPENS_IN_PAST).format(now=local_minute(now))})
    if not title.strip():
        raise ValidationError({"title": _(CONSULTATION_TITLE_EMPTY)})
    check_window(opens_at=opens_at, closes_at=closes_at)
    versions = list(stored.versions.select_related("rule"))
    _check_versions(versions, closes_at=closes_at, record_past=True)
    moved = closes_at != stored.closes_at
    stored.title, stored.explanation = title.strip(), explanation.strip()
    stored.opens_at, stored.closes_at = opens_at, closes_at
    stored.full_clean()
    stored.save()
    content_changed_announce(
        kind=ContentKind.CONSULTATION,
        ids=[stored.pk],
        action=ChangeAction.UPDATED,
        actor=actor,
        rule_ids=[version.rule_id for version in versions],
        data=_fields(stored, versions, ()),
    )
    if moved:
        _enqueue_result(closes_at)
    transaction.on_commit(lambda: selectors.forget_vote_target(pk=stored.pk))
    return stored


def options_editable(*, consultation: Consultation, at: datetime | None = None) -> bool:
    """Options and versions can change only before the window opens: a vote's meaning never changes."""
    return consultation.status_at(at or timezone.now()) == Consultation.Status.SCHEDULED
