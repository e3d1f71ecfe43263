"""Every write service leaves one entry per change it announces, with who did it and in which roles."""

import hashlib
import json
from datetime import UTC, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from pytest_django.fixtures import Settings

from rulecenter.accounts import services as account_services
from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.tests.factories import user_create
from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.models import Announcement
from rulecenter.announcements.tests.factories import category_create
from rulecenter.audit import selectors
from rulecenter.audit.models import AuditCheckpoint, AuditEntry, AuditHead, AuditSubject
from rulecenter.common.actors import SYSTEM
from rulecenter.rules import services as rule_services
from rulecenter.rules.tests.factories import rule_create, shanghai

from .factories import entries, entries_after, head_seq, writes

pytestmark = pytest.mark.django_db


def test_draft_approval_and_publication_are_each_recorded_with_their_actors_name_and_roles() -> None:
    editor = user_create("editor-wang", roles=(Role.EDITOR,))
    reviewer = user_create("reviewer-zhao", roles=(Role.REVIEWER,))
    publisher = user_create("publisher-li", roles=(Role.PUBLISHER, Role.EDITOR))
    category = category_create()
    start = head_seq()

    draft = announcement_services.announcement_create(
        actor=actor_for(editor), title="关于发货规范的说明", body="正文。", category=category
    )
    (created,) = entries_after(start)
    announcement_services.announcement_approve(actor=actor_for(reviewer), announcement=draft)
    (approved,) = entries_after(created.seq)
    draft.refresh_from_db()
    announcement_services.announcement_publish(actor=actor_for(publisher), announcement=draft)
    (published,) = entries_after(approved.seq)

    assert (created.actor_id, created.actor_name, created.actor_roles) == (editor.pk, "editor-wang", "editor")
    assert (created.kind, created.action, created.object_id_list) == ("announcement", "created", [draft.pk])
    assert json.loads(created.data or "")["title"] == "关于发货规范的说明"
    assert (approved.actor_name, approved.actor_roles, approved.action) == (
        "reviewer-zhao",
        "reviewer",
        "approved",
    )
    assert (published.actor_name, published.actor_roles) == ("publisher-li", "editor,publisher")
    assert published.action == "published"
    assert json.loads(published.data or "")["status"] == Announcement.Status.PUBLISHED
    assert published.prev_hash == approved.hash
    assert approved.prev_hash == created.hash
    assert selectors.audit_entries_for(objects=[("announcement", draft.pk)]) == [created, approved, published]


def test_a_version_created_then_scheduled_leaves_two_entries_naming_the_version_and_its_rule() -> None:
    rule = rule_create()
    start = head_seq()
    with time_machine.travel(shanghai(2025, 3, 1, 9), tick=False):
        version = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text="第一条 新规则。")
        rule_services.rule_version_schedule(
            actor=SYSTEM,
            version=version,
            notice_at=shanghai(2025, 3, 2, 10),
            effective_at=shanghai(2025, 3, 10),
        )
    created, scheduled = entries_after(start)

    assert [(e.kind, e.action) for e in (created, scheduled)] == [
        ("rule_version", "created"),
        ("rule_version", "scheduled"),
    ]
    assert scheduled.actor_id is None
    assert (scheduled.actor_name, scheduled.actor_roles) == ("system", "system")
    assert scheduled.rule_id_list == [rule.pk]
    assert json.loads(scheduled.data or "")["notice_at"] == "2025-03-02T10:00:00+08:00"
    assert scheduled.at == shanghai(2025, 3, 1, 9)
    assert selectors.audit_entries_for(objects=[("rule_version", version.pk)]) == [created, scheduled]
    # The rule's own subject finds its versions' entries too.
    assert {created, scheduled} <= set(selectors.audit_entries_for(objects=[("rule", rule.pk)]))


def test_revoking_a_token_is_recorded_once_with_the_revoker() -> None:
    owner = user_create("partner", roles=(Role.EDITOR,))
    record, _token = account_services.api_token_create(actor=actor_for(owner), user=owner, name="同步")
    start = head_seq()

    account_services.api_token_revoke(actor=actor_for(owner), token=record)
    account_services.api_token_revoke(actor=actor_for(owner), token=record)  # already revoked: no change

    (revoked,) = entries_after(start)
    assert (revoked.kind, revoked.action, revoked.object_id_list) == ("api_token", "revoked", [record.pk])
    assert (revoked.actor_name, revoked.actor_roles) == ("partner", "editor")
    assert json.loads(revoked.data or "") == {"prefix": record.prefix}


def test_a_members_exit_request_is_recorded_with_the_member_and_no_staff_role() -> None:
    rule = rule_create()
    member = account_services.member_create(actor=SYSTEM, username="shop-zhang", verified=True)
    with time_machine.travel(shanghai(2025, 3, 1, 9), tick=False) as clock:
        version = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text="第一条 新规则。")
        bundle = rule_services.change_bundle_schedule(
            actor=SYSTEM,
            title="发货规范调整",
            versions=[version],
            notice_at=shanghai(2025, 3, 2, 10),
            effective_at=shanghai(2025, 3, 10),
        )
        clock.move_to(shanghai(2025, 3, 3))
        start = head_seq()
        rule_services.exit_request_create(
            actor=actor_for(member.user), bundle=bundle, user=member.user, reason="不接受"
        )

    (exit_entry,) = entries_after(start)
    assert (exit_entry.kind, exit_entry.action) == ("exit_request", "created")
    assert (exit_entry.actor_id, exit_entry.actor_name, exit_entry.actor_roles) == (
        member.user.pk,
        "shop-zhang",
        "",
    )
    assert exit_entry.rule_id_list == [rule.pk]
    assert json.loads(exit_entry.data or "")["reason"] == "不接受"
    assert selectors.audit_entries_for(objects=[("exit_request", exit_entry.object_id_list[0])]) == [
        exit_entry
    ]


def test_a_refused_write_leaves_no_entry() -> None:
    reviewer = user_create("reviewer-zhao", roles=(Role.REVIEWER,))
    writes(1)
    before = entries()

    with pytest.raises(PermissionDenied):
        announcement_services.announcement_create(
            actor=actor_for(reviewer), title="越权", body="正文", category=category_create()
        )
    with pytest.raises(ValidationError):
        announcement_services.announcement_create(
            actor=SYSTEM, title="空正文", body="  ", category=category_create()
        )

    assert entries() == before


def test_a_write_rolled_back_after_its_entry_takes_its_sequence_number_back_no_gap() -> None:
    writes(2)
    start = head_seq()

    class Abandon(Exception):
        pass

    def three_writes_then_abandon() -> None:
        with transaction.atomic():
            writes(3)
            assert head_seq() == start + 3
            raise Abandon

    with pytest.raises(Abandon):
        three_writes_then_abandon()
    assert head_seq() == start
    writes(1)

    (entry,) = entries_after(start)
    assert entry.seq == start + 1
    assert entry.prev_hash == AuditEntry.objects.get(seq=start).hash
    assert selectors.audit_chain_verify().ok


def test_a_lost_head_row_is_rebuilt_from_the_last_entry_and_the_chain_goes_on() -> None:
    writes(3)
    AuditHead.objects.all().delete()  # the head is bookkeeping, not a record: no trigger guards it

    writes(1)

    assert AuditEntry.objects.get(seq=4).prev_hash == AuditEntry.objects.get(seq=3).hash
    assert AuditHead.objects.get().seq == 4
    assert selectors.audit_chain_verify().ok


def test_the_entry_hash_is_the_documented_sha256_of_prev_hash_seq_and_canonical_entry() -> None:
    """Recomputed here from docs/audit.md alone, with the standard library: no code of the app is used."""
    writes(2)
    for entry in entries():
        canonical = json.dumps(
            {
                "action": entry.action,
                "actor_id": entry.actor_id,
                "actor_name": entry.actor_name,
                "actor_roles": entry.actor_roles,
                "at": entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "data_sha256": entry.data_sha256,
                "data_stored": entry.data is not None,
                "kind": entry.kind,
                "object_ids": json.loads(entry.object_ids),
                "rule_ids": json.loads(entry.rule_ids),
                "seq": entry.seq,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        expected = hashlib.sha256(f"{entry.prev_hash}{entry.seq}{canonical}".encode()).hexdigest()
        assert entry.hash == expected
        assert entry.data_sha256 == hashlib.sha256((entry.data or "").encode()).hexdigest()
    assert entries()[0].prev_hash == "0" * 64


def test_data_beyond_the_size_limit_is_kept_as_its_hash_only(settings: Settings) -> None:
    settings.RULECENTER_AUDIT_DATA_MAX_BYTES = 200
    body = "条款" * 200
    start = head_seq()
    announcement_services.announcement_create(
        actor=SYSTEM, title="长文", body=body, category=category_create()
    )

    (entry,) = entries_after(start)
    assert entry.data is None  # the text is not kept; its hash is, and the entry's hash covers it
    assert entry.data_sha256 != hashlib.sha256(b"").hexdigest()
    assert len(entry.data_sha256) == 64
    assert selectors.audit_chain_verify().ok


def test_bulk_creates_are_one_change_and_one_entry_with_every_id_as_a_subject() -> None:
    category = category_create()
    drafts = [
        announcement_services.AnnouncementDraft(title=f"导入{n}", body="正文", category=category)
        for n in range(3)
    ]
    start = head_seq()
    created = announcement_services.announcement_bulk_create(actor=SYSTEM, drafts=drafts)

    (entry,) = entries_after(start)
    assert entry.object_id_list == [a.pk for a in created]
    assert set(AuditSubject.objects.filter(entry=entry).values_list("kind", "object_id")) == {
        ("announcement", a.pk) for a in created
    }


def test_a_daily_checkpoint_is_made_by_the_first_write_a_day_after_the_last(settings: Settings) -> None:
    settings.RULECENTER_AUDIT_CHECKPOINT_HOURS = 24
    with time_machine.travel(shanghai(2025, 5, 1, 9), tick=False) as clock:
        writes(1)  # the chain's first checkpoint
        first = AuditCheckpoint.objects.order_by("-id").first()
        clock.move_to(shanghai(2025, 5, 2, 8, 59))
        writes(1)
        assert AuditCheckpoint.objects.order_by("-id").first() == first
        clock.move_to(shanghai(2025, 5, 2, 9, 0))
        writes(1)

    newest = AuditCheckpoint.objects.order_by("-id").first()
    assert newest is not None
    assert first is not None
    assert newest != first
    assert newest.reason == AuditCheckpoint.Reason.DAILY
    assert (newest.seq, newest.hash) == AuditEntry.objects.order_by("-seq").values_list("seq", "hash")[0]
    assert newest.at - first.at == timedelta(days=1)
