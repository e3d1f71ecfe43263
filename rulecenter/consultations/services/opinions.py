"""Opinion review: an operator judges each opinion (有效 or 无效, with a reason code) and answers each cluster."""

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import role_require
from rulecenter.common.actors import Actor
from rulecenter.common.changes import ChangeAction, ContentKind, content_changed_announce

from ..models import Opinion, OpinionCluster
from ..text import plain_text

REVIEW_CODE_MISMATCH = "理由代码“{code}”不能用于“{verdict}”的结论。"


def check_review_code(verdict: str, code: str) -> None:
    """A verdict needs a code of its kind (有效：… or 无效：…); pending needs none."""
    allowed = {
        Opinion.Verdict.VALID: Opinion.VALID_CODES,
        Opinion.Verdict.INVALID: Opinion.INVALID_CODES,
        Opinion.Verdict.PENDING: (),
    }.get(Opinion.Verdict(verdict), ())
    if (verdict == Opinion.Verdict.PENDING and code) or (
        verdict != Opinion.Verdict.PENDING and code not in allowed
    ):
        raise ValidationError(
            {"code": _(REVIEW_CODE_MISMATCH).format(code=code or "-", verdict=Opinion.Verdict(verdict).label)}
        )


@transaction.atomic
def _reviewed(actor: Actor, consultation_id: int, action: ChangeAction, data: Mapping[str, object]) -> None:
    content_changed_announce(
        kind=ContentKind.CONSULTATION, ids=[consultation_id], action=action, actor=actor, data=data
    )


@transaction.atomic
def opinion_review(*, actor: Actor, opinion: Opinion, verdict: str, code: str) -> Opinion:
    """Mark one opinion valid or invalid with a reason code (or back to pending, without one)."""
    role_require(actor, Role.EDITOR)
    check_review_code(verdict, code)
    stored = Opinion.objects.select_for_update().get(pk=opinion.pk)
    stored.verdict, stored.code = verdict, code
    pending = verdict == Opinion.Verdict.PENDING
    stored.reviewed_by_id = None if pending else actor.user_id
    stored.reviewed_at = None if pending else timezone.now()
    stored.full_clean()
    stored.save(update_fields=["verdict", "code", "reviewed_by", "reviewed_at"])
    data = {"opinions": [stored.pk], "verdict": verdict, "code": code}
    _reviewed(actor, stored.consultation_id, ChangeAction.OPINIONS_REVIEWED, data)
    return stored


@transaction.atomic
def cluster_review(*, actor: Actor, cluster: OpinionCluster, verdict: str, code: str) -> int:
    """Give every opinion of a cluster the same verdict (a form letter is judged once); returns how many."""
    role_require(actor, Role.EDITOR)
    check_review_code(verdict, code)
    pending = verdict == Opinion.Verdict.PENDING
    opinions = Opinion.objects.filter(cluster=cluster)
    ids = list(opinions.values_list("pk", flat=True))
    count = opinions.update(
        verdict=verdict,
        code=code,
        reviewed_by_id=None if pending else actor.user_id,
        reviewed_at=None if pending else timezone.now(),
    )
    data = {"cluster": cluster.pk, "opinions": ids, "verdict": verdict, "code": code}
    _reviewed(actor, cluster.consultation_id, ChangeAction.OPINIONS_REVIEWED, data)
    return count


@transaction.atomic
def cluster_respond(*, actor: Actor, cluster: OpinionCluster, response: str) -> OpinionCluster:
    """The platform's one answer to a cluster of opinions, as the result report will print it."""
    role_require(actor, Role.EDITOR)
    stored = OpinionCluster.objects.select_for_update().get(pk=cluster.pk)
    stored.response = plain_text(response)
    stored.responded_by_id = actor.user_id if stored.response else None
    stored.responded_at = timezone.now() if stored.response else None
    stored.full_clean()
    stored.save(update_fields=["response", "responded_by", "responded_at"])
    data = {"cluster": stored.pk, "response": stored.response}
    _reviewed(actor, stored.consultation_id, ChangeAction.OPINIONS_ANSWERED, data)
    return stored
