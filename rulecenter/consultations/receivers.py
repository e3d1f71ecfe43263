"""Consultations listen to the change hook: a draft members are voting on is not edited under them.

Rules know nothing of consultations (they stand on a lower floor), so the rules services ask before they
edit or delete a version (`content_changing_check`) and this receiver refuses what only consultations know
is forbidden: once a consultation has opened, its drafts are what members read and vote on — changing
one would change the meaning of every vote already cast. Deleting a draft is refused while any
consultation holds it, opened or not: a version never silently drops out of a consultation (before it
opens, take the version out of the consultation first, then delete it).

The database holds the same line for opened consultations (migration consultations 0005), so a raw
UPDATE or an admin path that forgets to ask fails too.
"""

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.common.changes import ChangeAction, ContentChange, ContentKind
from rulecenter.common.text import local_minute
from rulecenter.rules.services import ReviewStateConflict

from . import selectors

DRAFT_IN_OPEN_CONSULTATION = (
    "该版本是意见征集“{title}”的草案，征集已于 {opens_at} 开始，不能再修改或删除；如需修改，请新建版本。"
)
DRAFT_IN_SCHEDULED_CONSULTATION = (
    "该版本是意见征集“{title}”（{opens_at} 开始）的草案，不能删除：请先将它移出该意见征集。"
)


def content_changing(*, change: ContentChange, **kwargs: Any) -> None:
    """Refuse editing a draft of an opened consultation, and deleting a draft any consultation holds.

    The refusal is the rules services' ReviewStateConflict (a ValidationError): the admin shows it on the
    form and the API answers 409, like any step the version's state forbids.
    """
    if change.kind is not ContentKind.RULE_VERSION or change.action not in (
        ChangeAction.UPDATED,
        ChangeAction.DELETED,
    ):
        return
    now = timezone.now()
    for consultation in selectors.consultations_holding(version_ids=change.ids):
        facts = {"title": consultation.title, "opens_at": local_minute(consultation.opens_at)}
        if consultation.opens_at <= now:
            raise ReviewStateConflict(
                _(DRAFT_IN_OPEN_CONSULTATION).format(**facts), code="draft_in_consultation"
            )
        if change.action is ChangeAction.DELETED:
            raise ReviewStateConflict(
                _(DRAFT_IN_SCHEDULED_CONSULTATION).format(**facts), code="draft_in_consultation"
            )
