"""Frozen means frozen, in the database: a noticed version refuses every write, whoever sends it (issue 11).

"Noticed" inside the database is the done NOTICE lifecycle event (migration rules 0006), not the database's
clock: these tests travel to 2025 while the database's clock does not, and a version the application
still considers scheduled stays writable however far behind the database's clock the test has gone.
"""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from rulecenter.common.actors import SYSTEM
from rulecenter.rules import lifecycle, services
from rulecenter.rules.models import LifecycleEvent, RuleVersion, RuleVersionTally

from .factories import NEW_TEXT, OLD_TEXT, rule_create, shanghai

pytestmark = pytest.mark.django_db

FROZEN = "has been noticed (公示) and is frozen"
EVENT_DONE = "lifecycle transition has run"
NOTICE = shanghai(2025, 3, 1, 10)


def raw(sql: str, *params: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def refused(sql: str, *params: Any) -> str:
    """Run `sql` and return the database's refusal (the test's transaction goes on)."""
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        raw(sql, *params)
    return str(error.value)


def noticed_version() -> RuleVersion:
    """A version recorded as noticed in 2024 (record_past logs its notice as done at once)."""
    rule = rule_create()
    version = services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT)
    return services.rule_version_schedule(
        actor=SYSTEM,
        version=version,
        notice_at=shanghai(2024, 1, 1, 10),
        effective_at=shanghai(2024, 1, 10),
        record_past=True,
    )


def stored_text(version: RuleVersion) -> str:
    return RuleVersion.objects.values_list("text", flat=True).get(pk=version.pk)


def test_a_raw_update_or_delete_of_a_noticed_version_fails_with_a_clear_error() -> None:
    version = noticed_version()
    assert FROZEN in refused("UPDATE rules_ruleversion SET text = %s WHERE id = %s", "改写的文本", version.pk)
    assert FROZEN in refused(
        "UPDATE rules_ruleversion SET notice_at = NULL, effective_at = NULL WHERE id = %s", version.pk
    )
    assert FROZEN in refused("DELETE FROM rules_ruleversion WHERE id = %s", version.pk)
    assert stored_text(version) == OLD_TEXT
    assert RuleVersionTally.objects.get(rule=version.rule).scheduled == 1  # a refused write never reaches it


def test_querysets_and_model_saves_are_refused_too() -> None:
    version = noticed_version()
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleVersion.objects.filter(pk=version.pk).update(summary="悄悄改摘要")
    version.text = "改写"
    with pytest.raises(IntegrityError), transaction.atomic():
        version.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleVersion.objects.filter(rule=version.rule).delete()
    assert stored_text(version) == OLD_TEXT


def test_the_done_notice_cannot_be_undone_or_deleted_to_thaw_a_version() -> None:
    version = noticed_version()
    notice = LifecycleEvent.objects.get(version=version, kind=LifecycleEvent.Kind.NOTICE)
    assert notice.done_at is not None
    assert EVENT_DONE in refused("UPDATE rules_lifecycleevent SET done_at = NULL WHERE id = %s", notice.pk)
    assert EVENT_DONE in refused(
        "UPDATE rules_lifecycleevent SET kind = 'buffer_end' WHERE id = %s", notice.pk
    )
    assert EVENT_DONE in refused("DELETE FROM rules_lifecycleevent WHERE version_id = %s", version.pk)
    assert LifecycleEvent.objects.filter(version=version, done_at__isnull=False).count() == 2
    assert FROZEN in refused("UPDATE rules_ruleversion SET text = %s WHERE id = %s", "改写", version.pk)


def test_a_draft_and_a_scheduled_version_stay_writable_whatever_the_database_clock_says() -> None:
    """The test's clock is in 2025 and the database's is not: a version due for notice in 2025 is still
    the application's to reschedule until its notice has run."""
    rule = rule_create()
    with time_machine.travel(NOTICE - timedelta(days=20), tick=False):
        draft = services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT)
        raw("UPDATE rules_ruleversion SET summary = %s WHERE id = %s", "草稿可改", draft.pk)
        scheduled = services.rule_version_schedule(
            actor=SYSTEM, version=draft, notice_at=NOTICE, effective_at=NOTICE + timedelta(days=8)
        )
        raw("UPDATE rules_ruleversion SET summary = %s WHERE id = %s", "待公示可改", scheduled.pk)
        later = NOTICE + timedelta(days=2)
        services.rule_version_schedule(
            actor=SYSTEM, version=scheduled, notice_at=later, effective_at=later + timedelta(days=8)
        )
        raw("UPDATE rules_ruleversion SET text = %s WHERE id = %s", NEW_TEXT, scheduled.pk)
    assert stored_text(scheduled) == NEW_TEXT
    assert LifecycleEvent.objects.get(version=scheduled, kind=LifecycleEvent.Kind.NOTICE).due_at == later


def test_the_runner_s_notice_freezes_the_version_in_the_database() -> None:
    rule = rule_create()
    with time_machine.travel(NOTICE - timedelta(days=1), tick=False):
        version = services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT)
        services.rule_version_schedule(
            actor=SYSTEM, version=version, notice_at=NOTICE, effective_at=NOTICE + timedelta(days=8)
        )
    with time_machine.travel(NOTICE, tick=False):
        with pytest.raises(ValidationError, match="已于 2025-03-01 10:00 公示"):
            services.rule_version_update(
                actor=SYSTEM, version=version, text=NEW_TEXT, summary="", major=False
            )
        assert [event.kind for event in lifecycle.lifecycle_run_due()] == ["notice"]
    assert FROZEN in refused("UPDATE rules_ruleversion SET text = %s WHERE id = %s", NEW_TEXT, version.pk)
    # The runner goes on: the effective transition (a pending event) is still its to mark done.
    with time_machine.travel(NOTICE + timedelta(days=8), tick=False):
        assert [event.kind for event in lifecycle.lifecycle_run_due()] == ["effective"]
    assert FROZEN in refused("DELETE FROM rules_ruleversion WHERE id = %s", version.pk)
    assert stored_text(version) == OLD_TEXT
