"""The change hook: content services announce what they changed; the apps above them listen.

Content (announcements, rules, consultations) never calls up into the apps that follow it. A service that
changes something calls `content_changed_announce(...)` inside its own transaction; every receiver of the
`content_changed` signal runs there and then, synchronously, in the same transaction — search's outbox row,
a notification event, an audit entry commit with the change or not at all. A receiver that has work to do
after the commit schedules it with `transaction.on_commit`.

The event says *what* changed and *who* changed it: the `actor` (a value from `common.actors`, with the
roles it acted in) and `data`, the fields the write set, as JSON-able values — the audit chain records both;
search and notifications read the content as it stands when they need it. `rule_ids` names the rules a
version or bundle belongs to, which a deleted row can no longer tell.

It is Django's own `Signal` (the same machinery as `post_save`), sent explicitly by services rather than by
model saves, so bulk writes and admin forms announce too, once per change and with the action named.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from django.db import connection
from django.dispatch import Signal

from .actors import Actor


class ContentKind(StrEnum):
    ANNOUNCEMENT = "announcement"
    CATEGORY = "category"  # an announcement category (栏目)
    RULE = "rule"
    RULE_CATEGORY = "rule_category"
    RULE_VERSION = "rule_version"
    CONSULTATION = "consultation"
    CHANGE_BUNDLE = "change_bundle"
    EXIT_REQUEST = "exit_request"
    API_TOKEN = "api_token"  # noqa: S105 - a kind of record, not a secret
    USER = "user"  # a staff account or a member
    SEGMENT = "segment"  # a group of members a change may target (accounts.Segment)
    CASE = "case"  # a member's complaint or appeal (cases.Case)
    CHANNEL = "channel"  # another platform's rule channel, followed (ingest.Channel)


class ChangeAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    PUBLISHED = "published"
    SCHEDULED = "scheduled"  # a rule version was given its notice and effective times
    NOTICED = "noticed"  # its notice time came (公示)
    EFFECTIVE = "effective"  # it took effect (生效)
    BUFFER_ENDED = "buffer_ended"
    RESULT_DRAFTED = "result_drafted"  # a consultation closed and its result report was drafted
    APPROVED = "approved"  # a reviewer other than its author approved a draft
    SENT_BACK = "sent_back"  # a reviewer returned a draft with a comment
    CORRECTED = "corrected"  # a published announcement's text was corrected; the earlier text is kept
    WITHDRAWN = "withdrawn"  # a published announcement was withdrawn (kept, shown as withdrawn)
    UNSCHEDULED = "unscheduled"  # a scheduled version was taken back before its notice
    ISSUED = "issued"  # an API token was issued
    REVOKED = "revoked"  # an API token was revoked
    OPINIONS_REVIEWED = "opinions_reviewed"  # opinions of a consultation judged valid or invalid
    OPINIONS_ANSWERED = "opinions_answered"  # the platform's answer to a cluster of opinions
    FILED = "filed"  # a member filed a case
    TAKEN = "taken"  # staff took a case up for review
    ANSWERED = "answered"  # staff answered a case
    ESCALATED = "escalated"  # the member asked for a human review of the answer
    CLOSED = "closed"  # a case was closed
    TRANSLATED = "translated"  # an editor added a translation of a title and summary (never binding)


@dataclass(frozen=True, slots=True)
class ContentChange:
    kind: ContentKind
    ids: tuple[int, ...]
    action: ChangeAction
    actor: Actor
    rule_ids: tuple[int, ...] = ()
    data: Mapping[str, object] = field(default_factory=dict)


# Receivers take `change: ContentChange` (and **kwargs, as every Django receiver does).
content_changed = Signal()
# Sent *before* a service edits or deletes something, so an app above can refuse (by raising
# ValidationError) what only it knows is forbidden — consultations refuse editing a draft members vote on.
content_changing = Signal()

CHANGE_OUTSIDE_TRANSACTION = "content_changed_announce must be called inside the transaction of the change"


def content_changed_announce(
    *,
    kind: ContentKind,
    ids: Iterable[int],
    action: ChangeAction,
    actor: Actor,
    rule_ids: Iterable[int] = (),
    data: Mapping[str, object] | None = None,
) -> ContentChange | None:
    """Tell every receiver, inside the caller's transaction, that these items changed; None if `ids` is empty."""
    if not connection.in_atomic_block:
        # A receiver's writes must commit with the change; outside a transaction they would commit alone.
        raise RuntimeError(CHANGE_OUTSIDE_TRANSACTION)
    unique = tuple(dict.fromkeys(ids))
    if not unique:
        return None
    change = ContentChange(
        kind=kind,
        ids=unique,
        action=action,
        actor=actor,
        rule_ids=tuple(dict.fromkeys(rule_ids)),
        data=dict(data or {}),
    )
    content_changed.send(sender=ContentChange, change=change)
    return change


def content_changing_check(
    *, kind: ContentKind, ids: Iterable[int], action: ChangeAction, actor: Actor, rule_ids: Iterable[int] = ()
) -> None:
    """Ask every receiver of `content_changing` whether this change may happen; a refusal raises.

    Services call it after their own guards and before they write, inside their transaction.
    """
    unique = tuple(dict.fromkeys(ids))
    if not unique:
        return
    change = ContentChange(
        kind=kind, ids=unique, action=action, actor=actor, rule_ids=tuple(dict.fromkeys(rule_ids))
    )
    content_changing.send(sender=ContentChange, change=change)
