"""Filing, answering and reviewing a case through the services: the version in force at the instant is
pinned, every step is a line of the timeline and of the audit chain, and every refusal changes nothing."""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from pytest_django.fixtures import Settings

from rulecenter.accounts.roles import actor_for
from rulecenter.audit.models import AuditEntry
from rulecenter.cases import selectors, services
from rulecenter.cases.models import Case, CaseAttachment, CaseStep

from .factories import DURING_V1, DURING_V2, EXE, PDF, PNG, case_file, member, reviewer, shipping_rule, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def rule() -> None:
    shipping_rule()


def test_the_version_in_force_at_the_instant_is_pinned() -> None:
    shop = member()
    before, after = case_file(shop, at=DURING_V1), case_file(shop, at=DURING_V2, clause="article-4")
    assert (before.version.number, after.version.number) == (1, 2)
    assert before.number.startswith("SS")
    assert before.number != after.number
    assert before.status == "received"
    assert before.due_at - before.received_at == timedelta(days=7)
    assert [step.kind for step in before.steps.all()] == ["filed"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"at": DURING_V1.replace(year=2023)}, "at", "还没有生效的版本：第 1 版自 2024-01-10 00:00 起生效"),
        ({"rule_slug": "nope"}, "rule", "没有标识为“nope”的公开规则"),
        ({"clause": "article-4"}, "clause", "第 1 版没有条款“article-4”"),  # v2 added article 4, not v1
        ({"text": "   "}, "text", "请写明申诉的内容"),
        ({"text": "字" * 5001}, "text", "最多 5000 个字符"),
        ({"text": "控制\x00字符"}, "text", "U+0000"),
        ({"subject": "other"}, "subject", "申诉对象“other”无效"),
        ({"at": timezone.now() + timedelta(days=3)}, "at", "不能晚于现在"),
    ],
)
def test_bad_cases_are_refused_by_field_and_nothing_is_stored(
    fields: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        case_file(member(), **fields)
    assert message in " ".join(refused.value.message_dict[field])
    assert not Case.objects.exists()
    assert not AuditEntry.objects.filter(kind="case").exists()


def test_only_a_member_files_and_only_for_themselves() -> None:
    shop, other = member("shop"), member("other")
    with pytest.raises(PermissionDenied):
        services.case_file(
            actor=actor_for(other.user), member=shop.user, subject="rule", rule_slug="shipping", at=DURING_V1,
            text="x",
        )  # fmt: skip
    staff = reviewer()
    with pytest.raises(PermissionDenied, match="只有会员"):
        services.case_file(
            actor=actor_for(staff), member=staff, subject="rule", rule_slug="shipping", at=DURING_V1, text="x"
        )
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("invoice.pdf", EXE, "不是图片"),  # an executable named .pdf
        ("photo.png", PDF, "与文件扩展名不符"),  # a PDF named .png
        ("empty.pdf", b"", "是空文件"),
        ("page.html", b"<html><script>alert(1)</script>", "不是图片"),
    ],
)
def test_a_disguised_or_empty_attachment_is_refused_and_nothing_is_stored(
    name: str, content: bytes, message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        case_file(member(), uploads=[upload("ok.png", PNG), upload(name, content)])
    assert message in refused.value.message_dict["attachments"][0]
    assert not Case.objects.exists()
    assert not CaseAttachment.objects.exists()


def test_too_many_or_too_large_attachments_are_refused(settings: Settings) -> None:
    settings.RULECENTER_CASE_ATTACHMENT_MAX_BYTES = 1000
    with pytest.raises(ValidationError, match="超过"):
        case_file(member(), uploads=[upload("big.pdf", PDF + b"0" * 2000)])
    with pytest.raises(ValidationError, match="最多附 5 个文件"):
        case_file(member("other"), uploads=[upload(f"{n}.png", PNG) for n in range(6)])
    assert not Case.objects.exists()


def test_attachments_are_kept_as_sent_with_their_type_read_from_the_bytes() -> None:
    case = case_file(member(), uploads=[upload("截图 1.PNG", PNG), upload("../../etc/决定书.pdf", PDF)])
    files = list(case.attachments.order_by("id"))
    assert [(f.name, f.content_type, f.size) for f in files] == [
        ("截图 1.PNG", "image/png", len(PNG)),
        ("决定书.pdf", "application/pdf", len(PDF)),
    ]
    assert files[1].file.read() == PDF
    assert "etc" not in str(files[1].file.name)


def test_a_reviewer_takes_up_and_answers_and_each_step_is_recorded() -> None:
    case = case_file(member())
    rita = actor_for(reviewer())
    services.case_take(actor=rita, case=case)
    answered = services.case_answer(
        actor=rita, case=case, outcome="upheld", answer="当时适用第 1 版：48 小时内发货。"
    )
    assert (answered.status, answered.outcome, answered.answered_in_time) == ("answered", "upheld", True)
    assert [step.kind for step in answered.steps.all()] == ["filed", "taken", "answered"]
    recorded = list(AuditEntry.objects.filter(kind="case").values_list("action", flat=True))
    assert recorded == ["filed", "taken", "answered"]
    # Neither the member's text nor the answer is in the chain (their words, not "48": a timestamp may hold it).
    assert all("小时内发货" not in (entry.data or "") for entry in AuditEntry.objects.filter(kind="case"))
    closed = services.case_close(actor=actor_for(case.member), case=answered)
    assert closed.status == "closed"
    with pytest.raises(ValidationError, match="的状态是“已结案”，不能再答复"):
        services.case_answer(actor=rita, case=closed, outcome="rejected", answer="再答一次")


def test_only_reviewers_answer_and_an_answer_needs_a_conclusion_and_reasons() -> None:
    case = case_file(member())
    with pytest.raises(PermissionDenied):
        services.case_answer(actor=actor_for(case.member), case=case, outcome="upheld", answer="自己答复")
    rita = actor_for(reviewer())
    with pytest.raises(ValidationError, match="结论“maybe”无效"):
        services.case_answer(actor=rita, case=case, outcome="maybe", answer="理由")
    with pytest.raises(ValidationError, match="请写明答复和理由"):
        services.case_answer(actor=rita, case=case, outcome="rejected", answer=" ")
    case.refresh_from_db()
    assert case.status == "received"


def test_a_human_review_of_an_automated_decision_goes_to_another_person() -> None:
    case = case_file(member(), automated=True)
    rita, sam = actor_for(reviewer("rita")), actor_for(reviewer("sam"))
    services.case_answer(actor=rita, case=case, outcome="rejected", answer="系统判定无误。")
    escalated = services.case_escalate(actor=actor_for(case.member), case=case, reason="请人工看看物流记录。")
    assert (escalated.status, escalated.outcome, escalated.first_answered_by_id) == (
        "escalated",
        "",
        rita.user_id,
    )
    assert escalated.escalated_at is not None
    assert escalated.due_at - escalated.escalated_at == timedelta(days=15)
    with pytest.raises(PermissionDenied, match="首次答复以外"):
        services.case_take(actor=rita, case=escalated)
    with pytest.raises(PermissionDenied, match="首次答复以外"):
        services.case_answer(actor=rita, case=escalated, outcome="upheld", answer="改判")
    services.case_take(actor=sam, case=escalated)
    reviewed = services.case_answer(
        actor=sam, case=escalated, outcome="partly_upheld", answer="物流记录显示按时揽收。"
    )
    assert (reviewed.outcome, reviewed.answered_by_id) == ("partly_upheld", sam.user_id)
    with pytest.raises(ValidationError, match="已经过一次人工复核"):
        services.case_escalate(actor=actor_for(case.member), case=reviewed)
    steps = [(s.kind, s.outcome) for s in reviewed.steps.all()]
    assert steps == [
        ("filed", ""), ("answered", "rejected"), ("escalated", ""), ("taken", ""), ("answered", "partly_upheld")
    ]  # fmt: skip


def test_a_human_review_is_for_automated_decisions_and_within_its_window() -> None:
    rita = actor_for(reviewer())
    manual = case_file(member("manual"))
    services.case_answer(actor=rita, case=manual, outcome="rejected", answer="理由")
    with pytest.raises(ValidationError, match="自动化系统"):
        services.case_escalate(actor=actor_for(manual.member), case=manual)
    automated = case_file(member("auto"), automated=True)
    with pytest.raises(ValidationError, match="尚未答复"):
        services.case_escalate(actor=actor_for(automated.member), case=automated)
    services.case_answer(actor=rita, case=automated, outcome="rejected", answer="理由")
    late = time_machine.travel(timezone.now() + timedelta(days=16))
    with late, pytest.raises(ValidationError, match="答复后 15 日内"):
        services.case_escalate(actor=actor_for(automated.member), case=automated)


def test_an_overdue_case_is_found_and_an_answer_after_its_deadline_is_counted_late() -> None:
    case = case_file(member())
    later = timezone.now() + timedelta(days=8)
    assert not selectors.overdue().exists()
    with time_machine.travel(later):
        assert list(selectors.overdue()) == [case]
        answered = services.case_answer(
            actor=actor_for(reviewer()), case=case, outcome="rejected", answer="理由"
        )
        assert answered.answered_in_time is False
        assert not selectors.overdue().exists()


def test_no_one_else_s_case_is_found_by_its_member_lookup() -> None:
    case = case_file(member("shop"))
    other = member("other")
    assert selectors.case_of(member=other.user, number=case.number) is None
    assert selectors.case_of(member=case.member, number=case.number) == case
    assert selectors.case_of(member=case.member, number="../x") is None
    assert CaseStep.objects.filter(case=case).count() == 1
