"""The change hook: services announce what they changed, receivers run inside the same transaction."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.models import Announcement
from rulecenter.announcements.tests.factories import category_create
from rulecenter.common.actors import SYSTEM
from rulecenter.common.changes import (
    CHANGE_OUTSIDE_TRANSACTION,
    ChangeAction,
    ContentChange,
    ContentKind,
    content_changed,
    content_changed_announce,
)
from rulecenter.rules import services as rule_services
from rulecenter.search.models import OutboxEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard() -> Iterator[list[ContentChange]]:
    changes: list[ContentChange] = []

    def listen(*, change: ContentChange, **kwargs: Any) -> None:
        changes.append(change)

    content_changed.connect(listen, dispatch_uid="test_heard")
    yield changes
    content_changed.disconnect(dispatch_uid="test_heard")


def test_an_announcement_s_life_is_heard_with_its_actions(heard: list[ContentChange]) -> None:
    category = category_create()
    announcement = announcement_services.announcement_create(
        actor=SYSTEM, title="公告", body="正文", category=category
    )
    pk = announcement.pk
    announcement_services.announcement_approve(actor=SYSTEM, announcement=announcement)
    announcement_services.announcement_publish(actor=SYSTEM, announcement=announcement)
    announcement.title = "公告（更正）"
    announcement_services.announcement_save(actor=SYSTEM, announcement=announcement)
    announcement_services.announcement_withdraw(actor=SYSTEM, announcement=announcement, reason="有误")
    draft = announcement_services.announcement_create(
        actor=SYSTEM, title="草稿", body="正文", category=category
    )
    announcement_services.announcement_send_back(actor=SYSTEM, announcement=draft, comment="请补充")
    announcement_services.announcement_delete(actor=SYSTEM, announcement=draft)
    kinds = {change.kind for change in heard}
    assert kinds == {ContentKind.ANNOUNCEMENT}
    assert [change.action for change in heard] == [
        ChangeAction.CREATED,
        ChangeAction.APPROVED,
        ChangeAction.PUBLISHED,
        ChangeAction.CORRECTED,
        ChangeAction.WITHDRAWN,
        ChangeAction.CREATED,
        ChangeAction.SENT_BACK,
        ChangeAction.DELETED,
    ]
    assert [change.ids for change in heard] == [(pk,)] * 5 + [(draft.pk,)] * 3
    assert heard[3].data["replaced"] == {"title": "公告", "summary": "", "body": "正文"}
    assert heard[4].data["withdrawn_reason"] == "有误"


def test_a_version_change_names_its_rule_even_once_deleted(heard: list[ContentChange]) -> None:
    category = rule_services.rule_category_create(actor=SYSTEM, slug="trade", name="交易规则")
    rule = rule_services.rule_create(
        actor=SYSTEM, slug="refunds", title="《退款管理规范》", category=category
    )
    version = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text="第一条 退款。")
    version_pk = version.pk
    rule_services.rule_version_delete(actor=SYSTEM, version=version)
    assert [(c.kind, c.action) for c in heard] == [
        (ContentKind.RULE_CATEGORY, ChangeAction.CREATED),
        (ContentKind.RULE, ChangeAction.CREATED),
        (ContentKind.RULE_VERSION, ChangeAction.CREATED),
        (ContentKind.RULE_VERSION, ChangeAction.DELETED),
    ]
    assert heard[-1].ids == (version_pk,)
    assert heard[-1].rule_ids == (rule.pk,)


def test_a_failing_receiver_undoes_the_change_and_its_outbox_row() -> None:
    """Receivers run in the caller's transaction: if one fails, the content and search's row roll back."""
    category = category_create()

    def refuse(**kwargs: Any) -> None:
        raise RuntimeError("audit store unavailable")

    content_changed.connect(refuse, dispatch_uid="test_refuse")
    try:
        with pytest.raises(RuntimeError, match="audit store unavailable"):
            announcement_services.announcement_create(
                actor=SYSTEM, title="不应留下", body="正文", category=category
            )
    finally:
        content_changed.disconnect(dispatch_uid="test_refuse")
    assert not Announcement.objects.filter(title="不应留下").exists()
    assert not OutboxEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_announcement_outside_a_transaction_is_refused() -> None:
    """A receiver's writes must commit with the change, so announcing outside a transaction is a bug."""
    with pytest.raises(RuntimeError, match=CHANGE_OUTSIDE_TRANSACTION):
        content_changed_announce(
            actor=SYSTEM, kind=ContentKind.ANNOUNCEMENT, ids=[1], action=ChangeAction.UPDATED
        )


def test_nothing_is_announced_for_no_ids(heard: list[ContentChange]) -> None:
    with transaction.atomic():
        assert (
            content_changed_announce(actor=SYSTEM, kind=ContentKind.RULE, ids=[], action=ChangeAction.UPDATED)
            is None
        )
        change = content_changed_announce(
            actor=SYSTEM, kind=ContentKind.RULE, ids=[3, 3, 2], action=ChangeAction.UPDATED
        )
    assert heard == [change]
    assert change is not None
    assert change.ids == (3, 2)
