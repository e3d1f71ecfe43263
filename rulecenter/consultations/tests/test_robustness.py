"""No consultation URL answers 5xx, whatever the query string or the form and JSON bodies say."""

from typing import Any

import pytest
import time_machine
from django.test import Client

from rulecenter.accounts.tests.factories import bearer, token_for
from rulecenter.consultations.models import Consultation, Vote
from rulecenter.rules.tests.factories import shanghai

from .factories import DURING, consultation_create, member_create

pytestmark = pytest.mark.django_db

NASTY = [
    "\x00", "%00", "a" * 5000, "<script>alert(1)</script>", "' OR 1=1--", "\ud7ff\uffff", "😀", "", " ",
    "support\x00", "SUPPORT", "reevaluate" * 10,
]  # fmt: skip
QUERIES = [
    "page=0",
    "page=-1",
    "page=abc",
    "page=" + "9" * 400,
    "page=%00",
    "status=%00",
    "status=open",
    "=&&",
]


@pytest.fixture
def consultation() -> Consultation:
    with time_machine.travel(shanghai(2025, 1, 10), tick=False):
        return consultation_create()


@time_machine.travel(DURING, tick=False)
def test_nasty_query_strings_never_cause_a_server_error(client: Client, consultation: Consultation) -> None:
    urls = ["/consultations/", f"/consultations/{consultation.pk}/", "/api/v1/consultations"]
    urls += [f"/api/v1/consultations/{consultation.pk}", f"/api/v1/consultations/{consultation.pk}/tally"]
    urls += ["/api/v1/consultations/abc", "/api/v1/consultations/99999999999999999999999/tally"]
    for url in urls:
        for query in QUERIES:
            response = client.get(f"{url}?{query}")
            assert response.status_code < 500, (url, query)


@time_machine.travel(DURING, tick=False)
def test_nasty_votes_are_refused_cleanly_and_store_nothing(
    client: Client, consultation: Consultation
) -> None:
    member = member_create()
    headers = bearer(token_for(member.user))
    url = f"/api/v1/consultations/{consultation.pk}/votes"
    bodies: list[Any] = [{"choice": value} for value in NASTY] + [
        {"choice": "reevaluate", "reason": value} for value in ("\x00", "\u200b\u202e", " \n\t ")
    ]
    bodies += [
        [],
        "text",
        {"choice": 1},
        {"choice": None},
        {"reason": "x"},
        {"choice": "support", "reason": 5},
    ]
    for body in bodies:
        response = client.post(url, body, content_type="application/json", headers=headers)
        assert response.status_code in (400, 422), (body, response.content[:300])
        assert response["Content-Type"].startswith("application/problem+json")
    client.force_login(member.user)
    for value in NASTY:
        response = client.post(f"/consultations/{consultation.pk}/", {"choice": value, "reason": value})
        assert response.status_code == 400, value
    assert not Vote.objects.exists()


@time_machine.travel(DURING, tick=False)
def test_a_reason_with_markup_is_shown_as_text(client: Client, consultation: Consultation) -> None:
    member = member_create()
    client.force_login(member.user)
    client.post(
        f"/consultations/{consultation.pk}/",
        {"choice": "reevaluate", "reason": "<script>alert(1)</script>\x00理由"},
    )
    assert Vote.objects.get().reason == "<script>alert(1)</script>理由"
    page = client.get(f"/consultations/{consultation.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;理由" in page
