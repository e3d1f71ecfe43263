"""The public audit page, its feeds, the notice's checkpoint and the admin, as their readers see them."""

from typing import Any

import feedparser
import pytest
import time_machine
from django.template.loader import render_to_string
from django.test import Client
from pytest_django.fixtures import Settings

from rulecenter.audit import selectors, services
from rulecenter.audit.models import AuditCheckpoint, AuditEntry
from rulecenter.common.actors import SYSTEM
from rulecenter.rules import lifecycle
from rulecenter.rules import services as rule_services
from rulecenter.rules.tests.factories import rule_create, scheduled_version, shanghai

from .factories import writes

pytestmark = pytest.mark.django_db


def head() -> str:
    seq, hash_ = AuditEntry.objects.order_by("-seq").values_list("seq", "hash")[0]
    return f"{seq}:{hash_}"


def test_the_page_explains_the_chain_and_shows_its_head_and_checkpoints_newest_first(client: Client) -> None:
    writes(2)
    older = services.audit_checkpoint_make()
    writes(1)
    newer = services.audit_checkpoint_make()

    page = client.get("/audit/")
    text = page.content.decode()

    assert page.status_code == 200
    assert "<h1>审计链</h1>" in text
    assert f'<code class="audit-head">{head()}</code>' in text
    assert text.index(f"{newer.seq}:{newer.hash}") < text.index(f"{older.seq}:{older.hash}")
    assert "rulecenter audit verify --against" in text
    assert "0" * 64 in text  # the genesis prev_hash, in the hash definition
    assert page["Cache-Control"] == "public, max-age=60"


def test_the_page_of_an_empty_chain_says_so(client: Client) -> None:
    text = client.get("/audit/").content.decode()

    assert "审计链还没有记录。" in text
    assert "还没有检查点。" in text


def test_the_page_reads_in_english(client: Client) -> None:
    writes(1)

    text = client.get("/audit/", headers={"accept-language": "en"}).content.decode()

    assert "<h1>Audit chain</h1>" in text
    assert "How to verify" in text


def test_the_page_answers_304_until_the_next_write(client: Client) -> None:
    writes(1)
    first = client.get("/audit/")

    again = client.get("/audit/", headers={"if-none-match": first["ETag"]})
    writes(1)
    after_write = client.get("/audit/", headers={"if-none-match": first["ETag"]})

    assert again.status_code == 304
    assert after_write.status_code == 200
    assert after_write["ETag"] != first["ETag"]


def test_checkpoints_are_paged_and_a_page_past_the_end_is_a_404(client: Client, settings: Settings) -> None:
    settings.RULECENTER_AUDIT_PAGE_SIZE = 2
    writes(1)  # the first write makes a checkpoint: 1 + 4 = 5, three pages
    made = [services.audit_checkpoint_make() for _ in range(4)]

    last = client.get("/audit/?page=3").content.decode()

    assert "共5条 当前3/3页" in last
    assert f'id="checkpoint-{made[0].pk}"' not in last  # page 3 holds the oldest, the first write's
    assert client.get("/audit/?page=4").status_code == 404
    assert client.get("/audit/?page=x").status_code == 404


def test_the_page_costs_three_queries(client: Client, django_assert_num_queries: Any) -> None:
    writes(3)
    for _ in range(5):
        services.audit_checkpoint_make()

    with django_assert_num_queries(3):  # the head, its entry, a page of checkpoints
        client.get("/audit/")


def test_the_atom_feed_lists_checkpoints_newest_first_for_a_feed_reader(client: Client) -> None:
    writes(2)
    first = AuditCheckpoint.objects.get()
    manual = services.audit_checkpoint_make()

    response = client.get("/audit/checkpoints.atom")
    feed = feedparser.parse(response.content)

    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert not feed.bozo
    assert feed.feed.title == "规则中心审计链检查点"
    assert [entry.title for entry in feed.entries] == [
        f"检查点：第 {manual.seq} 条 {manual.hash}",
        f"检查点：第 {first.seq} 条 {first.hash}",
    ]
    assert f"--against {manual.seq}:{manual.hash}" in feed.entries[0].summary
    assert feed.entries[0].link.endswith(f"/audit/#checkpoint-{manual.pk}")
    assert (
        client.get("/audit/checkpoints.atom", headers={"if-none-match": response["ETag"]}).status_code == 304
    )


def test_the_json_lists_the_head_and_checkpoints_page_by_page(client: Client, settings: Settings) -> None:
    settings.RULECENTER_AUDIT_PAGE_SIZE = 1
    writes(2)
    manual = services.audit_checkpoint_make()

    first = client.get("/audit/checkpoints.json").json()
    second = client.get(first["next"]).json()

    seq, hash_ = head().split(":")
    assert first["head"] == {"seq": int(seq), "hash": hash_}
    assert first["total"] == 2
    assert first["pages"] == 2
    assert first["checkpoints"][0]["checkpoint"] == f"{manual.seq}:{manual.hash}"
    assert second["checkpoints"][0]["reason"] == "daily"
    assert second["next"] is None


def test_a_rule_versions_notice_makes_a_checkpoint_its_announcement_can_show() -> None:
    with time_machine.travel(shanghai(2025, 3, 1, 9), tick=False) as clock:
        rule = rule_create()
        version = scheduled_version(rule, notice_at=shanghai(2025, 3, 2, 10))
        assert selectors.checkpoint_at_notice([version.pk]) is None
        clock.move_to(shanghai(2025, 3, 2, 10, 0, 1))
        lifecycle.lifecycle_run_due()

    noticed = AuditEntry.objects.get(kind="rule_version", action="noticed")
    checkpoint = selectors.checkpoint_at_notice([version.pk])
    assert checkpoint is not None
    assert (checkpoint.seq, checkpoint.hash, checkpoint.reason) == (noticed.seq, noticed.hash, "notice")
    assert checkpoint.at == shanghai(2025, 3, 2, 10, 0, 1)

    footer = render_to_string("audit/checkpoint_notice.html", {"audit_checkpoint": checkpoint})
    assert f"{checkpoint.seq}:{checkpoint.hash}" in footer
    assert "2025-03-02 10:00:01" in footer
    assert render_to_string("audit/checkpoint_notice.html", {"audit_checkpoint": None}).strip() == ""


def test_a_bundles_notice_checkpoint_covers_all_its_versions_and_verifies() -> None:
    with time_machine.travel(shanghai(2025, 3, 1, 9), tick=False) as clock:
        versions = [
            rule_services.rule_version_create(
                actor=SYSTEM, rule=rule_create(slug=slug, title=title), text="第一条 新规则。"
            )
            for slug, title in (("shipping", "发货规范"), ("returns", "退货规范"))
        ]
        rule_services.change_bundle_schedule(
            actor=SYSTEM,
            title="发货和退货规则调整",
            versions=versions,
            notice_at=shanghai(2025, 3, 2, 10),
            effective_at=shanghai(2025, 3, 10),
        )
        clock.move_to(shanghai(2025, 3, 2, 10, 0, 1))
        lifecycle.lifecycle_run_due()

    last_notice = AuditEntry.objects.filter(action="noticed").order_by("-seq")[0]
    checkpoint = selectors.checkpoint_at_notice([v.pk for v in versions])
    assert checkpoint is not None
    assert checkpoint.seq == last_notice.seq
    assert selectors.audit_chain_verify(against=[(checkpoint.seq, checkpoint.hash)]).ok


def test_the_admin_lists_entries_read_only_and_finds_them_by_object(admin_client: Client) -> None:
    writes(3)
    target = AuditEntry.objects.get(seq=2)
    object_id = target.object_id_list[0]

    listing = admin_client.get("/admin/audit/auditentry/")
    found = admin_client.get("/admin/audit/auditentry/", {"q": f"announcement:{object_id}"})
    by_actor = admin_client.get("/admin/audit/auditentry/", {"actor": "system", "kind": "announcement"})

    assert listing.status_code == 200
    assert [e.seq for e in found.context["cl"].result_list] == [2]
    assert by_actor.context["cl"].result_count == 3
    assert admin_client.get("/admin/audit/auditentry/2/change/").status_code == 200
    assert admin_client.get("/admin/audit/auditentry/add/").status_code == 403
    assert admin_client.post("/admin/audit/auditentry/2/delete/").status_code == 403
    assert admin_client.get("/admin/audit/auditcheckpoint/").status_code == 200
