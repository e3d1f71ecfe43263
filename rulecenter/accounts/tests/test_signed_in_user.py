"""The signed-in user of a page (and their member row) answered from memory, and still dropped at once.

Django's ModelBackend reads the user for every signed-in request and the vote page then reads the member;
`backends.SignedInBackend` keeps both, as the token grants are kept (token_cache), under the same generation.
"""

from typing import Any

import pytest
import time_machine
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings

from rulecenter.accounts import token_cache
from rulecenter.accounts.models import Member
from rulecenter.consultations.models import Consultation
from rulecenter.consultations.tests.factories import DURING, consultation_create, member_create
from rulecenter.rules.tests.factories import shanghai

pytestmark = pytest.mark.django_db

USER_TABLES = ("auth_user", "accounts_member")
PASSWORD = "a-long-password-1"


@pytest.fixture(autouse=True)
def memo_as_in_production(settings: Settings) -> None:
    settings.RULECENTER_TOKEN_MEMO_SECONDS = 1.0
    settings.RULECENTER_TOKEN_CACHE_SECONDS = 60


@pytest.fixture
def consultation() -> Consultation:
    with time_machine.travel(shanghai(2025, 1, 10), tick=False):
        return consultation_create()


def signed_in(member: Member) -> Client:
    """A browser signed in through the member sign-in form, as a merchant does."""
    member.user.set_password(PASSWORD)
    member.user.save()
    browser = Client()
    response = browser.post(
        "/consultations/sign-in/", {"username": member.user.username, "password": PASSWORD}
    )
    assert response.status_code == 302, response.content
    assert browser.session[BACKEND_SESSION_KEY] == "rulecenter.accounts.backends.SignedInBackend"
    return browser


def vote_page(browser: Client, consultation: Consultation) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = browser.get(f"/consultations/{consultation.pk}/")
    assert response.status_code == 200
    return response.content.decode(), [query["sql"] for query in captured.captured_queries]


def reading_the_user(statements: list[str]) -> list[str]:
    return [sql for sql in statements if any(f'"{table}"' in sql for table in USER_TABLES)]


@time_machine.travel(DURING, tick=False)
def test_a_warm_process_shows_the_vote_form_without_reading_the_user_or_the_member(
    consultation: Consultation,
) -> None:
    browser = signed_in(member_create())
    first, statements = vote_page(browser, consultation)
    assert 'name="choice" value="support"' in first
    assert len(reading_the_user(statements)) == 1  # the user with the member row, one statement
    again, statements = vote_page(browser, consultation)
    assert 'name="choice" value="support"' in again
    assert reading_the_user(statements) == []


@time_machine.travel(DURING, tick=False)
def test_a_member_unverified_a_user_disabled_or_a_password_changed_counts_on_the_next_page(
    consultation: Consultation,
) -> None:
    member = member_create()
    browser = signed_in(member)
    assert 'name="choice"' in vote_page(browser, consultation)[0]

    member.verified = False
    member.save()  # what the admin's member form does
    page = vote_page(browser, consultation)[0]
    assert "只有已认证的会员可以投票" in page
    assert 'name="choice"' not in page

    member.verified = True
    member.save()
    assert 'name="choice"' in vote_page(browser, consultation)[0]
    user = User.objects.get(pk=member.user_id)
    user.set_password("a-new-password-for-tests")
    user.save(update_fields=["password"])  # another session changed it: this one ends
    assert "登录会员账户后投票" in vote_page(browser, consultation)[0]

    other = member_create("other")
    browser = signed_in(other)
    assert 'name="choice"' in vote_page(browser, consultation)[0]
    User.objects.filter(pk=other.user_id).update(is_active=False)  # no signal: kept for up to a second
    token_cache.process_forget()  # …which has passed
    assert "登录会员账户后投票" in vote_page(browser, consultation)[0]


def test_each_request_gets_its_own_copy_of_the_kept_user() -> None:
    member = member_create()
    first = token_cache.signed_in_user(user_id=member.user_id)
    second = token_cache.signed_in_user(user_id=member.user_id)
    assert first is not None
    assert second is not None
    assert first == second
    assert first is not second
    first.first_name = "改过"
    first.member.shop_name = "改过的店"
    assert second.first_name == ""
    assert second.member.shop_name == ""
    assert token_cache.signed_in_user(user_id=0) is None


def test_the_shared_layer_keeps_the_user_under_the_generation(settings: Settings, tmp_path: Any) -> None:
    """With a shared cache, a process that has nothing in memory reads the user from it, not the database;
    a change gives a new generation and the kept entry is not believed."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    member = member_create()
    assert token_cache.signed_in_user(user_id=member.user_id) is not None
    kept = cache.get(token_cache.USER_KEY.format(user_id=member.user_id))
    assert kept is not None
    assert kept[1].member.verified

    token_cache.process_forget()  # another process
    with CaptureQueriesContext(connection) as captured:
        again = token_cache.signed_in_user(user_id=member.user_id)
    assert again is not None
    assert again.member.verified
    assert reading_the_user([query["sql"] for query in captured.captured_queries]) == []

    member.verified = False
    member.save()
    cache.set(token_cache.USER_KEY.format(user_id=member.user_id), kept)  # a late writer's old entry
    token_cache.process_forget()
    now = token_cache.signed_in_user(user_id=member.user_id)
    assert now is not None
    assert not now.member.verified
