"""Schemathesis drives the API from its own OpenAPI schema, through the WSGI app, against the test database.

It checks that no generated request gets a 5xx and that every response — status, content type, headers,
body — conforms to the schema. Examples are bounded so the whole file runs in well under 30 s.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from rulecenter.accounts.models import Role
from rulecenter.accounts.tests.factories import bearer, token_for, user_create
from rulecenter.announcements.demo import load_demo

pytestmark = pytest.mark.django_db


# Loaded at collection through the WSGI app: building the schema reads no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler(), headers={"Host": "localhost"})


@pytest.fixture(autouse=True)
def demo_data(db: None) -> None:
    load_demo()


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Iterator[None]:
    # Called straight through WSGI, Django would close the connection after each request, and with it
    # the test's transaction (PostgreSQL); Django's own test client disconnects these handlers the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def editor_headers(db: None) -> dict[str, str]:
    user = user_create("schemathesis", roles=(Role.EDITOR, Role.PUBLISHER))
    return {**bearer(token_for(user)), "Host": "localhost"}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: Any, editor_headers: dict[str, str]) -> None:
    # Valid-looking input may still be refused for what a schema cannot say: a category slug that does
    # not exist, a page past the end, a page size above the configured maximum. Those answer documented
    # 404/422 problems, which the other checks still validate; so the "positive data accepted" check is off.
    case.call_and_validate(headers=editor_headers, excluded_checks=[positive_data_acceptance])
