"""A statutory notice's page shows the audit checkpoint made at its notice; other news pages show none."""

import pytest
import time_machine
from django.test import Client

from rulecenter.announcements.tests.factories import published_announcement
from rulecenter.audit.models import AuditCheckpoint
from rulecenter.rules import lifecycle
from rulecenter.rules.models import LifecycleEvent
from rulecenter.rules.tests.factories import rule_create, scheduled_version, shanghai

pytestmark = pytest.mark.django_db


def test_the_notice_page_shows_the_checkpoint_a_reader_can_verify_against(client: Client) -> None:
    with time_machine.travel(shanghai(2025, 3, 1, 9), tick=False) as clock:
        version = scheduled_version(rule_create(), notice_at=shanghai(2025, 3, 2, 10))
        clock.move_to(shanghai(2025, 3, 2, 10, 0, 1))
        lifecycle.lifecycle_run_due()
        notice = LifecycleEvent.objects.get(version=version, kind=LifecycleEvent.Kind.NOTICE).announcement
        assert notice is not None
        page = client.get(notice.get_absolute_url()).content.decode()
        english = client.get(notice.get_absolute_url(), headers={"accept-language": "en"}).content.decode()
    checkpoint = AuditCheckpoint.objects.get(reason="notice")
    assert f"{checkpoint.seq}:{checkpoint.hash}" in page
    assert "本次公示时记下的审计链检查点" in page
    assert f"{checkpoint.seq}:{checkpoint.hash}" in english
    assert 'href="/audit/#verify"' in page


def test_an_ordinary_announcement_shows_no_checkpoint(client: Client) -> None:
    announcement = published_announcement()
    page = client.get(announcement.get_absolute_url()).content.decode()
    assert announcement.title in page
    assert "audit-checkpoint" not in page
