"""When the window closes the worker drafts the 结果反馈 from the ledger; the demo's read like the seed's."""

import re

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command

from rulecenter.announcements import services as announcement_services
from rulecenter.announcements.demo import load_demo
from rulecenter.announcements.models import Announcement
from rulecenter.common.actors import SYSTEM
from rulecenter.consultations import selectors, services
from rulecenter.consultations.demo import load_demo_consultations
from rulecenter.consultations.models import Consultation, Opinion
from rulecenter.rules.demo import load_demo_rules
from rulecenter.rules.tests.factories import shanghai

from .factories import CLOSES, DURING, consultation_create, member_create

SEED_SENTENCE = "本次投票“可再评估”的意见反馈中，未收到关于此次规范变更的有效意见"
LETTER = "延迟发货的赔付从订单金额的5%提高到10%，对小商家负担太重，建议按订单金额分档赔付。"


def run_worker() -> None:
    """What `rulecenter db_worker` does in production, once: run every task whose time has come."""
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def shares_in(body: str) -> list[int]:
    return [int(share) for share in re.findall(r"(\d+)%的会员选择", body)]


@pytest.mark.django_db(transaction=True)
def test_the_worker_drafts_the_report_when_the_window_closes_and_it_is_redrafted_after_review() -> None:
    with time_machine.travel(shanghai(2025, 1, 10), tick=False) as clock:
        consultation = consultation_create()
        clock.move_to(DURING)
        for index, (choice, reason) in enumerate(
            [("support", ""), ("support", ""), ("reevaluate", LETTER), ("reevaluate", "我认为" + LETTER)]
        ):
            member = member_create(f"m{index}")
            services.vote_cast(consultation=consultation, user=member.user, choice=choice, reason=reason)
        run_worker()
        assert not Announcement.objects.exists()

        clock.move_to(CLOSES)
        run_worker()
        consultation.refresh_from_db()
        report = consultation.result_announcement
        assert report is not None
        assert report.status == Announcement.Status.DRAFT
        assert report.kind == Announcement.Kind.CONSULTATION_RESULT
        assert report.category.slug == "consultations"
        assert report.title == "关于《1688商家发货行为管理规范》调整的意见征集结果反馈"
        assert "我们于2025年1月15日至2025年1月22日进行了意见征集" in report.body
        assert "本次共有 4 位会员参与投票" in report.body
        assert shares_in(report.body) == [50, 50]
        assert SEED_SENTENCE in report.body  # nothing reviewed yet
        assert Opinion.objects.count() == 2

        (cluster,) = consultation.clusters.all()
        services.cluster_review(actor=SYSTEM, cluster=cluster, verdict="valid", code="substantive")
        services.cluster_respond(actor=SYSTEM, cluster=cluster, response="平台将按订单金额分档评估赔付标准。")
        redrafted = services.consultation_result_draft(actor=SYSTEM, consultation=consultation)
        assert redrafted.pk == report.pk
        assert "本次投票“可再评估”的50%意见反馈中，共收到有效意见 2 条，归纳为 1 类问题" in redrafted.body
        assert "（相似意见 2 条，其中有效 2 条）" in redrafted.body
        assert "平台回应：平台将按订单金额分档评估赔付标准。" in redrafted.body

        run_worker()  # already drafted: nothing happens twice
        assert Announcement.objects.count() == 1
        announcement_services.announcement_publish(actor=SYSTEM, announcement=redrafted)
        with pytest.raises(ValidationError, match="已发布，不能再重新生成"):
            services.consultation_result_draft(actor=SYSTEM, consultation=consultation)


@pytest.mark.django_db(transaction=True)
def test_the_run_due_consultations_command_does_what_the_worker_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with time_machine.travel(shanghai(2025, 1, 10), tick=False) as clock:
        consultation_create()
        clock.move_to(CLOSES)
        call_command("run_due_consultations")
        call_command("run_due_consultations")
    out = capsys.readouterr().out
    assert "结果反馈草稿“关于《1688商家发货行为管理规范》调整的意见征集结果反馈”待编辑发布" in out
    assert "共处理 1 个已截止的意见征集。" in out
    assert "共处理 0 个已截止的意见征集。" in out
    assert "本次意见征集期间未收到投票" in Announcement.objects.get().body


@pytest.fixture
def demo(db: None) -> list[Consultation]:
    load_demo()
    load_demo_rules()
    assert load_demo_consultations().consultations == 3
    return list(Consultation.objects.order_by("opens_at"))


def test_the_demo_reports_read_like_the_seeds(demo: list[Consultation]) -> None:
    shipping, prohibited, factoring = demo
    assert load_demo_consultations().consultations == 0  # idempotent

    report = prohibited.result_announcement
    assert report is not None
    assert report.title == "关于《1688指定渠道禁限售规则》和其相关规则调整的意见征集结果反馈"
    assert "针对平台《1688指定渠道禁限售规则》和《禁售商品规则-其他国家或地区禁售商品》的变更" in report.body
    assert "我们于2025年1月16日至2025年1月23日进行了意见征集" in report.body
    assert SEED_SENTENCE in report.body
    tally = selectors.consultation_tally(consultation=prohibited)
    assert f"本次共有 {tally.total} 位会员参与投票" in report.body
    assert sum(shares_in(report.body)) == 100
    assert shares_in(report.body) == list(tally.shares.values())

    report = shipping.result_announcement
    assert report is not None
    assert report.title == "关于《1688商家发货行为管理规范》调整的意见征集结果反馈"
    assert "我们于2025年1月15日至2025年1月22日进行了意见征集" in report.body
    assert sum(shares_in(report.body)) == 100
    assert "平台回应如下" in report.body
    for topic in ("欺诈发货的定义", "赔付从订单金额的5%提高到10%", "赔付评估标准"):
        assert topic in report.body
    assert report.body.count("平台回应：") == 3
    assert SEED_SENTENCE not in report.body
    assert report.status == Announcement.Status.DRAFT
    assert Announcement.objects.filter(kind="consultation_result", status="draft").count() == 2

    ledger = selectors.consultation_ledger(consultation=shipping)
    assert len(ledger.clusters) == 3
    assert ledger.valid == sum(cluster.valid for cluster in ledger.clusters)
    assert ledger.pending == 0
    # Every cluster the demo's operator judged is of one kind: the grouping did not mix topics.
    for cluster in shipping.clusters.all():
        assert cluster.opinions.values("verdict").distinct().count() == 1

    assert factoring.title == "《保理服务协议》修改意见征集"
    assert selectors.consultation_tally(consultation=factoring).total == 37
    assert factoring.result_announcement is None
