"""A change's record: once noticed, anyone can fetch who proposed, approved and scheduled it, the dates, the
consultation's tally, the exits and the audit entries with their hashes; before its notice it does not exist.
"""

import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import translation

from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.tests.factories import user_create
from rulecenter.audit import selectors as audit_selectors
from rulecenter.common.actors import SYSTEM
from rulecenter.common.changes import ChangeAction
from rulecenter.consultations.services import vote_cast
from rulecenter.consultations.tests.factories import consultation_create, member_create
from rulecenter.rules import services as rule_services
from rulecenter.rules.lifecycle import lifecycle_run_due
from rulecenter.rules.models import ChangeBundle, Rule
from rulecenter.rules.tests.factories import NEW_TEXT, OLD_TEXT, rule_create, shanghai
from rulecenter.site import record

pytestmark = pytest.mark.django_db

START = shanghai(2026, 3, 2, 10)
OPENS, CLOSES = START + timedelta(hours=1), START + timedelta(days=8)
APPROVED = START + timedelta(days=9)
NOTICE = START + timedelta(days=10)
EFFECTIVE = NOTICE + timedelta(days=8)
RETURNS_TEXT = "第一条 为规范退货行为，制定本规范。\n\n第二条 商家应在7日内处理退货申请。"


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def rule_in_force(slug: str, title: str) -> Rule:
    """A rule whose first version the platform recorded from history (in force since 2024)."""
    rule = rule_create(slug=slug, title=title)
    first = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT)
    rule_services.rule_version_schedule(
        actor=SYSTEM,
        version=first,
        notice_at=shanghai(2024, 1, 1, 10),
        effective_at=shanghai(2024, 1, 10),
        record_past=True,
    )
    return rule


@pytest.fixture
def change() -> dict[str, Any]:
    """Two rules' drafts by an editor, consulted on, approved by a reviewer, bundled by a publisher."""
    editor = user_create("zhang-editor", roles=(Role.EDITOR,), is_staff=True)
    reviewer = user_create("li-reviewer", roles=(Role.REVIEWER,), is_staff=True)
    publisher = user_create("wang-publisher", roles=(Role.PUBLISHER,), is_staff=True)
    with time_machine.travel(START, tick=False):
        shipping = rule_services.rule_version_create(
            actor=actor_for(editor),
            rule=rule_in_force("shipping", "1688商家发货行为管理规范"),
            text=NEW_TEXT,
            summary="24小时发货",
        )
        returns = rule_services.rule_version_create(
            actor=actor_for(editor), rule=rule_in_force("returns", "1688退货规范"), text=RETURNS_TEXT
        )
        consultation = consultation_create(
            versions=[shipping, returns], opens_at=OPENS, closes_at=CLOSES, actor=actor_for(editor)
        )
    voters = [member_create(f"shop{i}") for i in range(3)]
    with time_machine.travel(START + timedelta(days=2), tick=False):
        vote_cast(consultation=consultation, user=voters[0].user, choice="support")
        vote_cast(consultation=consultation, user=voters[1].user, choice="support")
        vote_cast(consultation=consultation, user=voters[2].user, choice="reevaluate", reason="24小时太紧")
    with time_machine.travel(APPROVED, tick=False):
        for version in (shipping, returns):
            rule_services.rule_version_approve(actor=actor_for(reviewer), version=version)
        bundle = rule_services.change_bundle_schedule(
            actor=actor_for(publisher),
            title="发货与退货规则调整",
            versions=[shipping, returns],
            notice_at=NOTICE,
            effective_at=EFFECTIVE,
        )
    return {"bundle": bundle, "shipping": shipping, "returns": returns, "voters": voters}


def notice_and_exit(change: dict[str, Any]) -> None:
    """The notice time comes (the lifecycle runs) and one member refuses the change and exits."""
    with time_machine.travel(NOTICE + timedelta(minutes=1), tick=False):
        lifecycle_run_due()
        rule_services.exit_request_create(
            actor=actor_for(change["voters"][2].user), bundle=change["bundle"], user=change["voters"][2].user
        )


def test_before_its_notice_a_change_has_no_public_record(client: Client, change: dict[str, Any]) -> None:
    bundle: ChangeBundle = change["bundle"]
    with time_machine.travel(NOTICE - timedelta(seconds=1), tick=False):
        for path in (
            f"/rules/bundles/{bundle.pk}/record",
            f"/rules/bundles/{bundle.pk}/record.json",
            "/rules/shipping/versions/2/record",
            "/rules/shipping/versions/2/record.json",
        ):
            assert client.get(path).status_code == 404, path


def test_the_record_json_names_the_people_dates_tally_exits_and_entries(
    client: Client, change: dict[str, Any]
) -> None:
    bundle: ChangeBundle = change["bundle"]
    notice_and_exit(change)
    with time_machine.travel(NOTICE + timedelta(hours=1), tick=False):
        response = client.get(f"/rules/bundles/{bundle.pk}/record.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert instant(body["generated_at"]) == (NOTICE + timedelta(hours=1))
    assert body["change"] == {
        "kind": "bundle",
        "id": bundle.pk,
        "title": "发货与退货规则调整",
        "url": f"http://testserver/rules/bundles/{bundle.pk}/",
        "record_url": f"http://testserver/rules/bundles/{bundle.pk}/record",
    }
    assert instant(body["notice_at"]) == NOTICE
    assert instant(body["effective_at"]) == EFFECTIVE
    assert body["scheduled"]["by"] == "wang-publisher"
    assert body["scheduled"]["roles"] == ["publisher"]
    assert instant(body["scheduled"]["at"]) == APPROVED
    by_rule = {v["rule"]["slug"]: v for v in body["versions"]}
    assert set(by_rule) == {"shipping", "returns"}
    shipping = by_rule["shipping"]
    assert shipping["number"] == 2
    assert shipping["url"] == "http://testserver/rules/shipping/versions/2/"
    assert shipping["text_sha256"] == hashlib.sha256(NEW_TEXT.encode()).hexdigest()
    assert by_rule["returns"]["text_sha256"] == hashlib.sha256(RETURNS_TEXT.encode()).hexdigest()
    assert shipping["proposed_by"] == "zhang-editor"
    assert shipping["approved_by"] == "li-reviewer"
    assert instant(shipping["approved_at"]) == APPROVED
    assert shipping["scheduled"]["by"] == "wang-publisher"
    [consultation] = body["consultations"]
    assert instant(consultation["opens_at"]) == OPENS
    assert instant(consultation["closes_at"]) == CLOSES
    assert consultation["status"] == "closed"
    assert consultation["tally"]["total"] == 3
    assert [(o["key"], o["votes"], o["share"]) for o in consultation["tally"]["options"]] == [
        ("support", 2, 67),
        ("reevaluate", 1, 33),
    ]
    assert body["exit_requests"] == 1

    entries = body["audit"]["entries"]
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs)
    steps = {(e["actor"], e["kind"], e["action"]) for e in entries}
    assert ("zhang-editor", "rule_version", "created") in steps
    assert ("zhang-editor", "consultation", "created") in steps
    assert ("li-reviewer", "rule_version", "approved") in steps
    assert ("wang-publisher", "change_bundle", "scheduled") in steps
    assert ("wang-publisher", "rule_version", "scheduled") in steps
    assert ("system", "rule_version", "noticed") in steps
    stored = {e.seq: e for e in audit_selectors.audit_entries_for(objects=[("change_bundle", bundle.pk)])}
    for entry in entries:
        assert len(entry["hash"]) == len(entry["prev_hash"]) == len(entry["data_sha256"]) == 64
        if entry["seq"] in stored:
            assert entry["hash"] == stored[entry["seq"]].hash
    last = entries[-1]
    assert body["audit"]["last"] == {"seq": last["seq"], "hash": last["hash"]}
    assert body["audit"]["verify"] == f"rulecenter audit verify --against {last['seq']}:{last['hash']}"


def test_the_printable_page_shows_the_same_record(client: Client, change: dict[str, Any]) -> None:
    bundle: ChangeBundle = change["bundle"]
    notice_and_exit(change)
    with time_machine.travel(NOTICE + timedelta(hours=1), tick=False):
        html = client.get(f"/rules/bundles/{bundle.pk}/record").content.decode()
        body = client.get(f"/rules/bundles/{bundle.pk}/record.json").json()
    assert "变更记录：发货与退货规则调整" in html
    # Its print styles live in the site's stylesheet (the CSP allows no inline style), the button in the page.
    assert "data-print" in html
    assert "@media print" in (Path(__file__).parents[2] / "common/static/rulecenter/site.css").read_text()
    for name in ("zhang-editor", "li-reviewer", "wang-publisher"):
        assert name in html
    assert "2026-03-12 10:00" in html  # the notice, in Shanghai time
    assert "2026-03-20 10:00" in html  # taking effect
    assert hashlib.sha256(NEW_TEXT.encode()).hexdigest() in html
    assert "1 位会员不接受本次修改并申请退出" in html
    assert "<td>支持</td><td>2</td><td>67%</td>" in html
    assert body["audit"]["verify"] in html
    for entry in body["audit"]["entries"]:
        assert f'id="seq-{entry["seq"]}"' in html
        assert entry["hash"] in html


def test_a_version_outside_a_bundle_has_its_own_record_and_one_in_a_bundle_leads_to_the_bundles(
    client: Client, change: dict[str, Any]
) -> None:
    notice_and_exit(change)
    bundle: ChangeBundle = change["bundle"]
    response = client.get("/rules/shipping/versions/2/record.json")
    assert response.status_code == 302
    assert response["Location"] == f"/rules/bundles/{bundle.pk}/record.json"
    assert client.get("/rules/shipping/versions/2/record")["Location"] == f"/rules/bundles/{bundle.pk}/record"
    # Version 1 was recorded from history by the platform itself: no bundle, no consultation, no people.
    single = client.get("/rules/shipping/versions/1/record.json").json()
    assert single["change"]["kind"] == "version"
    assert single["change"]["title"] == "《1688商家发货行为管理规范》第 1 版"
    assert single["exit_requests"] is None
    assert single["consultations"] == []
    [version] = single["versions"]
    assert version["proposed_by"] is None
    assert version["approved_by"] is None
    assert version["scheduled"]["by"] == "system"
    assert version["text_sha256"] == hashlib.sha256(OLD_TEXT.encode()).hexdigest()
    html = client.get("/rules/shipping/versions/1/record").content.decode()
    assert "本次变更未进行意见征集" in html


def test_unknown_changes_are_404(client: Client) -> None:
    assert client.get("/rules/bundles/999/record").status_code == 404
    assert client.get("/rules/bundles/999/record.json").status_code == 404
    assert client.get("/rules/nope/versions/1/record").status_code == 404
    rule_create(slug="lonely")
    assert client.get("/rules/lonely/versions/1/record.json").status_code == 404


def test_the_record_reads_in_english(client: Client, change: dict[str, Any]) -> None:
    notice_and_exit(change)
    bundle: ChangeBundle = change["bundle"]
    html = client.get(
        f"/rules/bundles/{bundle.pk}/record", headers={"Accept-Language": "en"}
    ).content.decode()
    assert "Change record" in html
    assert "Proposed by" in html
    assert "1 member(s) refused the change and exited" in html
    assert "scheduled (notice and effective times set)" in html
    assert "审计记录" not in html


def test_every_action_the_chain_can_record_has_a_label_on_the_record_page() -> None:
    assert set(record.ACTION_LABELS) == set(ChangeAction)


def test_every_label_of_the_record_page_has_its_english() -> None:
    template = Path(record.__file__).parent / "jinja2" / "site" / "record.html"
    labels = set(re.findall(r'_\("([^"]+)"', template.read_text(encoding="utf-8")))
    labels |= {record.BUNDLE_UNKNOWN, record.VERSION_UNKNOWN}
    with translation.override("en"):
        missing = sorted(label for label in labels if translation.gettext(label) == label)
        contexts = [
            *(("audit action", label) for label in record.ACTION_LABELS.values()),
            *(("audit object", label) for label in record.KIND_LABELS.values()),
        ]
        missing += [label for context, label in contexts if translation.pgettext(context, label) == label]
    assert not missing


def test_the_record_costs_a_fixed_number_of_queries(
    client: Client, change: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    """Versions, people, entries are each read in one query, not one per row: 11 whatever the change's size.

    (bundle, its versions, authors, approvers, consultations, options, tally, entries, checkpoint ×2, exits)
    """
    notice_and_exit(change)
    bundle: ChangeBundle = change["bundle"]
    with django_assert_max_num_queries(11):
        assert client.get(f"/rules/bundles/{bundle.pk}/record.json").status_code == 200
