"""Opinion review: an operator judges each opinion (有效 or 无效, with a reason code) and answers each cluster."""

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

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
def opinion_review(*, opinion: Opinion, verdict: str, code: str, reviewer: User | None) -> Opinion:
    """Mark one opinion valid or invalid with a reason code (or back to pending, without one)."""
    check_review_code(verdict, code)
    stored = Opinion.objects.select_for_update().get(pk=opinion.pk)
    stored.verdict, stored.code = verdict, code
    pending = verdict == Opinion.Verdict.PENDING
    stored.reviewed_by, stored.reviewed_at = (None, None) if pending else (reviewer, timezone.now())
    stored.full_clean()
    stored.save(update_fields=["verdict", "code", "reviewed_by", "reviewed_at"])
    return stored


@transaction.atomic
def cluster_review(*, cluster: OpinionCluster, verdict: str, code: str, reviewer: User | None) -> int:
    """Give every opinion of a cluster the same verdict (a form letter is judged once); returns how many."""
    check_review_code(verdict, code)
    pending = verdict == Opinion.Verdict.PENDING
    return Opinion.objects.filter(cluster=cluster).update(
        verdict=verdict,
        code=code,
        reviewed_by=None if pending else reviewer,
        reviewed_at=None if pending else timezone.now(),
    )


@transaction.atomic
def cluster_respond(*, cluster: OpinionCluster, response: str, responder: User | None) -> OpinionCluster:
    """The platform's one answer to a cluster of opinions, as the result report will print it."""
    stored = OpinionCluster.objects.select_for_update().get(pk=cluster.pk)
    stored.response = plain_text(response)
    stored.responded_by = responder if stored.response else None
    stored.responded_at = timezone.now() if stored.response else None
    stored.full_clean()
    stored.save(update_fields=["response", "responded_by", "responded_at"])
    return stored
