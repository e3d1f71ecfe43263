"""Reads of cases: a member's own, the staff's queue, and a rule's anonymous statistics."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from rulecenter.rules.models import Rule

from .models import OPEN_STATUSES, Case, CaseAttachment, CaseStep

MEMBER_CASES_SHOWN = 100


def _number_valid(number: str) -> bool:
    """A case number (SS + digits) at most: anything else names no case, so it costs no query."""
    return 0 < len(number) <= 20 and number.isascii() and number.isalnum()


def cases_of(*, member: User, limit: int = MEMBER_CASES_SHOWN) -> list[Case]:
    return list(
        Case.objects.filter(member=member)
        .select_related("rule", "version")
        .order_by("-received_at", "-id")[:limit]
    )


def case_of(*, member: User, number: str) -> Case | None:
    """A member's own case by its number (anyone else's is None, as an unknown number is)."""
    if not _number_valid(number):
        return None
    return Case.objects.filter(member=member, number=number).select_related("rule", "version").first()


def case_by_number(*, number: str) -> Case | None:
    if not _number_valid(number):
        return None
    return Case.objects.filter(number=number).select_related("rule", "version", "member").first()


def case_detail(*, case: Case) -> tuple[list[CaseStep], list[CaseAttachment]]:
    """Its timeline and attachments (two queries)."""
    return list(case.steps.order_by("at", "id")), list(case.attachments.order_by("id"))


def steps_of(*, cases: list[Case]) -> dict[int, list[CaseStep]]:
    """The timelines of these cases, by case id: one query, however many."""
    found: dict[int, list[CaseStep]] = {}
    for step in CaseStep.objects.filter(case__in=[case.pk for case in cases]).order_by("at", "id"):
        found.setdefault(step.case_id, []).append(step)
    return found


def attachment_of(*, case: Case, pk: int) -> CaseAttachment | None:
    return CaseAttachment.objects.filter(case=case, pk=pk).first()


def overdue(*, at: datetime | None = None) -> QuerySet[Case]:
    """Open cases past their answer deadline."""
    return Case.objects.filter(status__in=OPEN_STATUSES, due_at__lt=at or timezone.now())


@dataclass(frozen=True, slots=True)
class RuleStatistics:
    received: int
    open: int
    answered: int  # answered or closed after an answer
    in_time: int  # of those answered, by their deadline
    upheld: int  # upheld or partly upheld
    overdue: int

    @property
    def in_time_share(self) -> float | None:
        return self.in_time / self.answered if self.answered else None

    @property
    def upheld_share(self) -> float | None:
        return self.upheld / self.answered if self.answered else None


def rule_statistics(*, rule: Rule, at: datetime | None = None) -> RuleStatistics:
    """Counts of a rule's cases, never who filed them nor what they wrote: one query, however many cases."""
    now = at or timezone.now()
    answered = Q(status__in=[Case.Status.ANSWERED, Case.Status.CLOSED])
    found = Case.objects.filter(rule=rule).aggregate(
        received=Count("id"),
        open=Count("id", filter=Q(status__in=OPEN_STATUSES)),
        answered=Count("id", filter=answered),
        in_time=Count("id", filter=answered & Q(answered_in_time=True)),
        upheld=Count(
            "id", filter=answered & Q(outcome__in=[Case.Outcome.UPHELD, Case.Outcome.PARTLY_UPHELD])
        ),
        overdue=Count("id", filter=Q(status__in=OPEN_STATUSES, due_at__lt=now)),
    )
    return RuleStatistics(**found)


def step_with_case(*, pk: int) -> CaseStep | None:
    return (
        CaseStep.objects.select_related("case__rule", "case__version", "case__member__member")
        .filter(pk=pk)
        .first()
    )


def case_with_rule(*, pk: int) -> Case | None:
    return Case.objects.select_related("rule", "version", "handler").filter(pk=pk).first()
