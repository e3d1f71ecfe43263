"""The member who filed a case is told of every step by e-mail — read from a real SMTP server, in the
language they chose on /me/, sent by the worker after the commit, never for a case that was not stored."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from rulecenter.accounts import services as account_services
from rulecenter.accounts.roles import actor_for
from rulecenter.cases import services as case_services
from rulecenter.cases.tests.factories import case_file, member, reviewer, shipping_rule

from .test_email import Mailbox, text_of, work
from .test_email import mailbox as mailbox  # the fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_member_is_told_of_each_step_of_their_case(mailbox: Mailbox) -> None:
    shipping_rule()
    shop = member("shop", email="shop@example.com")
    case = case_file(shop, automated=True)
    work()
    (filed,) = mailbox.to("shop@example.com")
    assert filed["Subject"] == f"[规则中心] 申诉 {case.number}：提交申诉"
    assert f"/me/cases/{case.number}/" in text_of(filed)
    assert "《发货规范》第 1 版" in text_of(filed)

    rita, sam = actor_for(reviewer("rita")), actor_for(reviewer("sam"))
    case_services.case_take(actor=rita, case=case)
    case_services.case_answer(actor=rita, case=case, outcome="rejected", answer="系统判定：延迟 30 小时。")
    work()
    subjects = [message["Subject"] for message in mailbox.to("shop@example.com")]
    assert subjects[1:] == [
        f"[规则中心] 申诉 {case.number}：开始审查",
        f"[规则中心] 申诉 {case.number}：作出答复",
    ]
    answered = mailbox.to("shop@example.com")[-1]
    assert "结论：不成立" in text_of(answered)
    assert "系统判定：延迟 30 小时。" in text_of(answered)

    account_services.member_language_set(actor=actor_for(shop.user), member=shop, language="en")
    case_services.case_escalate(actor=actor_for(shop.user), case=case)
    case_services.case_answer(actor=sam, case=case, outcome="upheld", answer="人工复核：按时发货。")
    work()
    last = mailbox.to("shop@example.com")[-2:]
    assert [message["Subject"] for message in last] == [
        f"[Rule Center] Case {case.number}: Human review asked",
        f"[Rule Center] Case {case.number}: Answered",
    ]
    assert "Outcome: Upheld" in text_of(last[-1])
    assert len({message["Message-ID"] for message in mailbox.to("shop@example.com")}) == 5


def test_a_refused_case_tells_no_one(mailbox: Mailbox) -> None:
    shipping_rule()
    shop = member("shop", email="shop@example.com")
    with pytest.raises(ValidationError):
        case_file(shop, clause="article-99")
    work()
    assert mailbox.count() == 0


def test_reviewers_are_told_when_a_case_passes_its_deadline_unanswered(mailbox: Mailbox) -> None:
    shipping_rule()
    for name in ("rita", "sam"):
        staff = reviewer(name)
        staff.email = f"{name}@platform.example"
        staff.save()
    waiting = case_file(member("waiting", email="waiting@example.com"))
    answered = case_file(member("answered", email="answered@example.com"))
    work()
    case_services.case_answer(
        actor=actor_for(reviewer("ann")), case=answered, outcome="upheld", answer="按时答复。"
    )
    with time_machine.travel(waiting.due_at + timedelta(seconds=1)):
        work()
        work()  # once, however many runs
    for address in ("rita@platform.example", "sam@platform.example"):
        (overdue,) = mailbox.to(address)
        assert overdue["Subject"] == f"[规则中心] 申诉 {waiting.number} 已逾期未答复"
        assert f"/admin/cases/case/{waiting.pk}/change/" in text_of(overdue)
    overdue_subjects = [
        message["Subject"] for _rcpt, message in mailbox.messages if "逾期" in message["Subject"]
    ]
    assert len(overdue_subjects) == 2  # the answered case is nobody's overdue work
    assert all(answered.number not in subject for subject in overdue_subjects)
