from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command

from rulecenter.announcements.models import Announcement
from rulecenter.common.actors import SYSTEM
from rulecenter.rules import lifecycle, selectors, services
from rulecenter.rules.models import LifecycleEvent, RuleVersion

from .factories import NEW_TEXT, OLD_TEXT, rule_create, scheduled_version, shanghai

pytestmark = pytest.mark.django_db(transaction=True)


def run_worker() -> None:
    """What `rulecenter db_worker` does in production, once: run every task whose time has come."""
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def test_a_change_walks_from_draft_to_superseded_on_time_by_the_worker() -> None:
    with time_machine.travel(shanghai(2025, 1, 1, 9), tick=False) as clock:
        rule = rule_create()
        first = scheduled_version(rule, notice_at=shanghai(2025, 1, 1, 10), days=10)
        clock.move_to(shanghai(2025, 1, 12))
        run_worker()
        second = services.rule_version_create(
            actor=SYSTEM, rule=rule, text=NEW_TEXT, summary="发货时限缩短为24小时"
        )
        assert second.status_at(shanghai(2025, 1, 12), next_effective_at=None) == RuleVersion.Status.DRAFT
        second = services.rule_version_schedule(
            actor=SYSTEM,
            version=second,
            notice_at=shanghai(2025, 2, 10, 10),
            effective_at=shanghai(2025, 2, 18),
        )

        clock.move_to(shanghai(2025, 2, 10, 9, 59))
        run_worker()
        assert not Announcement.objects.filter(
            title="《1688商家发货行为管理规范》的更新公示", published_at__gte=shanghai(2025, 2, 1)
        ).exists()
        assert (
            selectors.version_status(version=second, at=shanghai(2025, 2, 10, 9, 59))
            == RuleVersion.Status.SCHEDULED
        )

        clock.move_to(shanghai(2025, 2, 10, 10, 0, 1))
        run_worker()
        item = Announcement.objects.get(published_at=shanghai(2025, 2, 10, 10))
        assert item.title == "《1688商家发货行为管理规范》的更新公示"
        assert "本次更新于2025年2月10日公示，2025年2月18日生效" in item.body
        assert (
            selectors.version_status(version=second, at=shanghai(2025, 2, 10, 10, 1))
            == RuleVersion.Status.NOTICED
        )

        clock.move_to(shanghai(2025, 2, 18, 0, 0, 1))
        run_worker()
        now = shanghai(2025, 2, 18, 0, 0, 1)
        assert selectors.version_in_force(rule=rule, at=now) == second
        assert selectors.version_status(version=second, at=now) == RuleVersion.Status.IN_FORCE
        assert selectors.version_status(version=first, at=now) == RuleVersion.Status.SUPERSEDED
        assert not LifecycleEvent.objects.filter(done_at__isnull=True).exists()


def test_the_version_in_force_flips_exactly_at_effective_at() -> None:
    with time_machine.travel(shanghai(2025, 1, 1, 9), tick=False):
        rule = rule_create()
        old = scheduled_version(rule, notice_at=shanghai(2025, 1, 1, 10), days=10)
        new = services.rule_version_create(actor=SYSTEM, rule=rule, text=NEW_TEXT)
        new = services.rule_version_schedule(
            actor=SYSTEM, version=new, notice_at=shanghai(2025, 2, 10, 10), effective_at=shanghai(2025, 2, 18)
        )
    assert selectors.version_in_force(rule=rule, at=shanghai(2025, 2, 17, 23, 59, 59)) == old
    assert selectors.version_in_force(rule=rule, at=shanghai(2025, 2, 18)) == new
    assert selectors.version_in_force(rule=rule, at=shanghai(2025, 1, 5)) is None


def test_a_missed_transition_is_caught_up_and_reported(capsys: pytest.CaptureFixture[str]) -> None:
    with time_machine.travel(shanghai(2025, 2, 1), tick=False) as clock:
        rule = rule_create()
        scheduled_version(rule, notice_at=shanghai(2025, 2, 10, 10), days=8)
        clock.move_to(shanghai(2025, 2, 20))  # the worker was down through both moments
        call_command("run_due")
    out = capsys.readouterr().out
    assert "公示" in out
    assert "生效" in out
    assert "已补做" in out
    assert "共执行 2 个到期事件" in out
    assert Announcement.objects.filter(title="《1688商家发货行为管理规范》的更新公示").count() == 1
    event = LifecycleEvent.objects.get(kind="notice")
    assert event.late_by_seconds is not None
    assert event.late_by_seconds > 9 * 86400


def test_running_due_twice_does_nothing_the_second_time() -> None:
    with time_machine.travel(shanghai(2025, 2, 1), tick=False) as clock:
        scheduled_version(rule_create(), notice_at=shanghai(2025, 2, 10, 10), days=8)
        clock.move_to(shanghai(2025, 2, 11))
        assert len(lifecycle.lifecycle_run_due()) == 1
        assert lifecycle.lifecycle_run_due() == []
    assert Announcement.objects.count() == 1


@pytest.mark.parametrize(("major", "days", "required"), [(False, 6, 7), (True, 14, 15)])
def test_a_short_notice_is_refused_naming_the_law_and_the_earliest_date(
    major: bool, days: int, required: int
) -> None:
    with time_machine.travel(shanghai(2025, 2, 1), tick=False):
        rule = rule_create()
        version = services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT, major=major)
        with pytest.raises(ValidationError) as refused:
            services.rule_version_schedule(
                actor=SYSTEM,
                version=version,
                notice_at=shanghai(2025, 2, 10, 10),
                effective_at=shanghai(2025, 2, 10, 10) + timedelta(days=days),
            )
    message = " ".join(refused.value.messages)
    assert "电子商务法" in message
    assert f"至少在实施前 {required} 日公示" in message
    earliest = shanghai(2025, 2, 10, 10) + timedelta(days=required)
    assert earliest.strftime("%Y-%m-%d %H:%M") in message
    version.refresh_from_db()
    assert version.notice_at is None
    assert not LifecycleEvent.objects.exists()


def test_a_noticed_version_can_be_neither_edited_nor_deleted() -> None:
    with time_machine.travel(shanghai(2025, 2, 1), tick=False) as clock:
        version = scheduled_version(rule_create(), notice_at=shanghai(2025, 2, 10, 10), days=8)
        clock.move_to(shanghai(2025, 2, 11))
        with pytest.raises(ValidationError, match="不能修改或删除"):
            services.rule_version_update(actor=SYSTEM, version=version, text="改过", summary="", major=False)
        with pytest.raises(ValidationError, match="不能修改或删除"):
            services.rule_version_delete(actor=SYSTEM, version=version)
    version.refresh_from_db()
    assert version.text == OLD_TEXT


def test_a_draft_can_be_edited_and_deleted_before_notice() -> None:
    with time_machine.travel(shanghai(2025, 2, 1), tick=False):
        version = scheduled_version(rule_create(), notice_at=shanghai(2025, 2, 10, 10), days=8)
        services.rule_version_update(actor=SYSTEM, version=version, text=NEW_TEXT, summary="改", major=False)
        services.rule_version_delete(actor=SYSTEM, version=version)
    assert not RuleVersion.objects.exists()


def test_a_bundle_is_noticed_in_one_news_item_like_the_seed() -> None:
    with time_machine.travel(shanghai(2025, 2, 1), tick=False) as clock:
        main = rule_create(slug="prohibited", title="1688指定渠道禁限售规则")
        other = rule_create(slug="prohibited-abroad", title="禁售商品规则-其他国家或地区禁售商品")
        versions = [services.rule_version_create(actor=SYSTEM, rule=r, text=OLD_TEXT) for r in (main, other)]
        services.change_bundle_schedule(
            actor=SYSTEM,
            title="禁限售规则更新",
            versions=versions,
            notice_at=shanghai(2025, 2, 10, 10),
            effective_at=shanghai(2025, 2, 18),
        )
        clock.move_to(shanghai(2025, 2, 10, 11))
        run_worker()
    items = list(Announcement.objects.all())
    assert [i.title for i in items] == ["《1688指定渠道禁限售规则》和其相关规则的更新公示"]
    assert "《禁售商品规则-其他国家或地区禁售商品》" in items[0].body


def test_a_bundle_with_a_major_change_needs_fifteen_days_for_all() -> None:
    with time_machine.travel(shanghai(2025, 2, 1), tick=False):
        a = services.rule_version_create(
            actor=SYSTEM, rule=rule_create(slug="a", title="甲规则"), text=OLD_TEXT, major=True
        )
        b = services.rule_version_create(
            actor=SYSTEM, rule=rule_create(slug="b", title="乙规则"), text=OLD_TEXT
        )
        with pytest.raises(ValidationError, match="15"):
            services.change_bundle_schedule(
                actor=SYSTEM,
                title="包",
                versions=[a, b],
                notice_at=shanghai(2025, 2, 10),
                effective_at=shanghai(2025, 2, 18),
            )
    assert not RuleVersion.objects.filter(notice_at__isnull=False).exists()
