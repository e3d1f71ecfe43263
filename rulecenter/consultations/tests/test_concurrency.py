"""Votes arriving at once: the tally is the votes, one row per member, whatever the interleaving.

These run on real connections in real threads (transaction=True), through the API's URL and handler, on
SQLite (a WAL file) and on PostgreSQL (DATABASE_URL).
"""

import random
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client

from rulecenter.accounts.tests.factories import bearer
from rulecenter.consultations.models import Consultation, Vote, VoteHistory
from rulecenter.rules.tests.factories import shanghai

from .concurrency import at_once, concurrent_database, in_thread
from .factories import DURING, consultation_create, members_with_tokens

pytestmark = pytest.mark.django_db(transaction=True)
VOTERS = 200


def post_vote(consultation: Consultation, token: str, choice: str, reason: str) -> int:
    response = Client().post(
        f"/api/v1/consultations/{consultation.pk}/votes",
        {"choice": choice, "reason": reason},
        content_type="application/json",
        headers=bearer(token),
    )
    return response.status_code


def group_by_choice(consultation: Consultation) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT choice, count(*) FROM consultations_vote WHERE consultation_id = %s GROUP BY choice",
            [consultation.pk],
        )
        return dict(cursor.fetchall())


def test_two_hundred_members_voting_at_once_give_a_tally_equal_to_the_votes(tmp_path: Path) -> None:
    """Each member votes, a quarter of them change their vote at once; nothing is lost or doubled."""
    with time_machine.travel(shanghai(2025, 1, 10), tick=False):
        consultation = consultation_create()
    voters = members_with_tokens(VOTERS)
    rng = random.Random(4)
    plans = []
    for index, (_member, token) in enumerate(voters):
        first = rng.choice(["support", "reevaluate"])
        second = rng.choice(["support", "reevaluate"]) if index % 4 == 0 else None
        plans.append((token, first, second))

    def cast(plan: tuple[str, str, str | None]) -> list[int]:
        token, first, second = plan
        statuses = [post_vote(consultation, token, first, f"理由 {token[-24:]} 1")]
        if second:
            statuses.append(post_vote(consultation, token, second, f"理由 {token[-24:]} 2"))
        return statuses

    with time_machine.travel(DURING, tick=True), concurrent_database(tmp_path):
        statuses = at_once(cast, plans)
        tally = in_thread(lambda: Client().get(f"/api/v1/consultations/{consultation.pk}/tally").json())
        counted = in_thread(lambda: group_by_choice(consultation))
        rows = in_thread(lambda: Vote.objects.filter(consultation=consultation).count())
        history = in_thread(lambda: VoteHistory.objects.filter(consultation=consultation).count())

    assert all(status == 201 for member_statuses in statuses for status in member_statuses), statuses
    expected = {"support": 0, "reevaluate": 0}
    for _token, first, second in plans:
        expected[second or first] += 1
    assert tally["counts"] == expected
    assert {choice: n for choice, n in tally["counts"].items() if n} == counted
    assert tally["total"] == rows == VOTERS
    assert sum(tally["shares"].values()) == 100
    assert history == VOTERS + sum(1 for plan in plans if plan[2])


def test_a_revote_race_never_leaves_two_rows_and_the_last_write_stands(tmp_path: Path) -> None:
    with time_machine.travel(shanghai(2025, 1, 10), tick=False):
        consultation = consultation_create()
    ((member, token),) = members_with_tokens(1)
    attempts = [("support" if i % 2 else "reevaluate", f"第 {i} 次") for i in range(24)]

    with time_machine.travel(DURING, tick=True), concurrent_database(tmp_path):
        statuses = at_once(lambda attempt: post_vote(consultation, token, *attempt), attempts)

        def outcome() -> tuple[list[tuple[str, str]], tuple[Any, ...] | None]:
            standing = list(Vote.objects.filter(member=member).values_list("choice", "reason"))
            last = (
                VoteHistory.objects.filter(member=member)
                .order_by("-id")
                .values_list("choice", "reason")
                .first()
            )
            return standing, last

        standing, last = in_thread(outcome)
        history = in_thread(lambda: VoteHistory.objects.filter(member=member).count())

    assert statuses == [201] * len(attempts)
    assert len(standing) == 1
    assert standing[0] == last
    assert history == len(attempts)
