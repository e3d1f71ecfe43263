from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from rulecenter.accounts.tests.factories import user_create
from rulecenter.common.actors import SYSTEM
from rulecenter.consultations import selectors, services
from rulecenter.consultations.models import Consultation, Opinion, Vote, VoteHistory
from rulecenter.consultations.services import OptionSpec, VoteRefused
from rulecenter.rules import services as rule_services
from rulecenter.rules.tests.factories import shanghai

from .factories import AFTER, CLOSES, DURING, OPENS, consultation_create, draft_version, member_create

pytestmark = pytest.mark.django_db


def messages(error: ValidationError) -> str:
    return " ".join(error.messages)


# --- the window --------------------------------------------------------------------------------------


@time_machine.travel(shanghai(2025, 1, 10), tick=False)
def test_a_consultation_opens_with_the_default_options_and_its_status_follows_the_clock() -> None:
    consultation = consultation_create()
    options = selectors.options_of(consultation)
    assert [(o.key, o.label, o.requires_reason) for o in options] == [
        ("support", "支持", False),
        ("reevaluate", "可再评估", True),
    ]
    assert consultation.status_at(OPENS - timedelta(seconds=1)) == Consultation.Status.SCHEDULED
    assert consultation.status_at(OPENS) == Consultation.Status.OPEN
    assert consultation.status_at(CLOSES - timedelta(seconds=1)) == Consultation.Status.OPEN
    assert consultation.status_at(CLOSES) == Consultation.Status.CLOSED


@time_machine.travel(shanghai(2025, 1, 10), tick=False)
def test_a_window_shorter_than_the_minimum_is_refused_with_the_earliest_close() -> None:
    with pytest.raises(ValidationError) as refused:
        consultation_create(closes_at=OPENS + timedelta(days=6, hours=23))
    assert "至少需要 7 日" in messages(refused.value)
    assert "最早可于 2025-01-22 10:00 截止" in messages(refused.value)
    assert not Consultation.objects.exists()


@time_machine.travel(shanghai(2025, 1, 10), tick=False)
def test_the_minimum_window_is_a_setting(settings) -> None:
    settings.RULECENTER_CONSULTATION_MIN_DAYS = 3
    consultation = consultation_create(closes_at=OPENS + timedelta(days=3))
    assert consultation.closes_at - consultation.opens_at == timedelta(days=3)


@time_machine.travel(shanghai(2025, 1, 20), tick=False)
def test_a_window_cannot_open_in_the_past() -> None:
    with pytest.raises(ValidationError) as refused:
        services.consultation_create(
            actor=SYSTEM,
            title="征集",
            opens_at=OPENS,
            closes_at=CLOSES + timedelta(days=7),
            versions=[draft_version()],
        )
    assert "开始时间不能早于当前时间" in messages(refused.value)


@time_machine.travel(shanghai(2025, 1, 10), tick=False)
def test_noticed_versions_and_notices_before_the_close_are_refused() -> None:
    draft = draft_version()
    noticed = rule_services.rule_version_schedule(
        actor=SYSTEM, version=draft, notice_at=shanghai(2025, 1, 20, 10), effective_at=shanghai(2025, 2, 1)
    )
    with pytest.raises(ValidationError) as refused:
        consultation_create(versions=[noticed])
    assert "排定于 2025-01-20 10:00 公示，意见征集必须在公示之前结束" in messages(refused.value)
    with time_machine.travel(shanghai(2025, 1, 21), tick=False), pytest.raises(ValidationError) as refused:
        consultation_create(
            versions=[noticed], opens_at=shanghai(2025, 1, 22), closes_at=shanghai(2025, 1, 30)
        )
    assert "已于 2025-01-20 10:00 公示，不能再就它征集意见" in messages(refused.value)


@time_machine.travel(shanghai(2025, 1, 10), tick=False)
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([OptionSpec("support", "支持")], "至少需要两个投票选项"),
        ([OptionSpec("support", "支持"), OptionSpec("support", "赞成")], "选项“support”重复"),
        ([OptionSpec("Support!", "支持"), OptionSpec("no", "反对")], "选项标识“Support!”无效"),
        ([OptionSpec("yes", ""), OptionSpec("no", "反对")], "名称须为 1 到 32 个字符"),
    ],
)
def test_bad_options_are_refused(options: list[OptionSpec], expected: str) -> None:
    with pytest.raises(ValidationError) as refused:
        consultation_create(options=options)
    assert expected in messages(refused.value)
    assert not Consultation.objects.exists()


@time_machine.travel(shanghai(2025, 1, 10), tick=False)
def test_options_are_configurable() -> None:
    consultation = consultation_create(
        options=[
            OptionSpec("support", "支持"),
            OptionSpec("oppose", "反对", True),
            OptionSpec("abstain", "弃权"),
        ]
    )
    assert [o.key for o in selectors.options_of(consultation)] == ["support", "oppose", "abstain"]


@time_machine.travel(shanghai(2025, 1, 10), tick=False)
def test_once_open_the_window_can_only_be_extended() -> None:
    consultation = consultation_create()
    with time_machine.travel(DURING, tick=False):
        with pytest.raises(ValidationError) as refused:
            services.consultation_update(
                actor=SYSTEM,
                consultation=consultation,
                title=consultation.title,
                explanation="",
                opens_at=consultation.opens_at,
                closes_at=CLOSES - timedelta(hours=1),
            )
        assert "只能推迟，不能提前" in messages(refused.value)
        later = services.consultation_update(
            actor=SYSTEM,
            consultation=consultation,
            title="新标题",
            explanation="说明",
            opens_at=consultation.opens_at,
            closes_at=CLOSES + timedelta(days=2),
        )
    assert later.closes_at == CLOSES + timedelta(days=2)
    assert later.title == "新标题"


# --- votes -----------------------------------------------------------------------------------------------


@pytest.fixture
def consultation() -> Consultation:
    with time_machine.travel(shanghai(2025, 1, 10), tick=False):
        return consultation_create()


@time_machine.travel(DURING, tick=False)
def test_a_second_vote_replaces_the_first_and_both_stay_in_the_history(consultation: Consultation) -> None:
    member = member_create()
    services.vote_cast(consultation=consultation, user=member.user, choice="support")
    with time_machine.travel(DURING + timedelta(hours=1), tick=False):
        services.vote_cast(
            consultation=consultation, user=member.user, choice="reevaluate", reason="赔付标准过高"
        )
    vote = Vote.objects.get(consultation=consultation, member=member)
    assert (vote.choice, vote.reason) == ("reevaluate", "赔付标准过高")
    assert (vote.cast_at, vote.updated_at) == (DURING, DURING + timedelta(hours=1))  # the first time stays
    assert list(VoteHistory.objects.values_list("choice", flat=True)) == ["support", "reevaluate"]
    assert selectors.consultation_tally(consultation=consultation).counts == {"support": 0, "reevaluate": 1}


def assert_nothing_stored() -> None:
    assert not Vote.objects.exists()
    assert not VoteHistory.objects.exists()


@pytest.mark.parametrize(
    ("at", "kind", "expected"),
    [
        (OPENS - timedelta(seconds=1), "not_open", "意见征集尚未开始，将于 2025-01-15 10:00 开始"),
        (CLOSES, "closed", "意见征集已于 2025-01-22 18:00 截止，不再接受投票"),
        (AFTER, "closed", "意见征集已于 2025-01-22 18:00 截止"),
    ],
)
def test_votes_outside_the_window_are_refused(
    consultation: Consultation, at, kind: str, expected: str
) -> None:
    member = member_create()
    with time_machine.travel(at, tick=False), pytest.raises(VoteRefused) as refused:
        services.vote_cast(consultation=consultation, user=member.user, choice="support")
    assert refused.value.kind == kind
    assert expected in messages(refused.value)
    assert_nothing_stored()


@time_machine.travel(DURING, tick=False)
def test_anonymous_users_non_members_unverified_and_new_members_cannot_vote(
    consultation: Consultation,
) -> None:
    cases: list[tuple[Any, str]] = [
        (AnonymousUser(), "请先登录会员账户再投票"),
        (user_create("staff-only"), "当前账户没有会员资料"),
        (member_create("unverified", verified=False).user, "只有已认证的会员可以投票"),
        (
            member_create("newcomer", joined_on=date(2025, 1, 1)).user,
            "入驻满 30 日的会员才可以投票：您的入驻日期为 2025-01-01，自 2025-01-31 起可以投票",
        ),
    ]
    for user, expected in cases:
        with pytest.raises(VoteRefused) as refused:
            services.vote_cast(consultation=consultation, user=user, choice="support")
        assert expected in messages(refused.value)
    assert_nothing_stored()


@time_machine.travel(DURING, tick=False)
def test_the_minimum_membership_age_is_a_setting(consultation: Consultation, settings) -> None:
    settings.RULECENTER_CONSULTATION_MIN_MEMBERSHIP_DAYS = 0
    member = member_create("newcomer", joined_on=date(2025, 1, 18))
    services.vote_cast(consultation=consultation, user=member.user, choice="support")
    assert Vote.objects.count() == 1


@time_machine.travel(DURING, tick=False)
def test_a_reason_is_required_where_the_option_says_so_and_is_bounded(
    consultation: Consultation, settings
) -> None:
    member = member_create()
    with pytest.raises(ValidationError) as refused:
        services.vote_cast(
            consultation=consultation, user=member.user, choice="reevaluate", reason=" \n\u200b "
        )
    assert refused.value.message_dict == {"reason": ["选择“可再评估”须填写理由。"]}
    settings.RULECENTER_CONSULTATION_REASON_MAX_CHARS = 10
    with pytest.raises(ValidationError) as refused:
        services.vote_cast(consultation=consultation, user=member.user, choice="reevaluate", reason="太" * 11)
    assert refused.value.message_dict == {"reason": ["理由最多 10 个字，当前为 11 个字。"]}
    with pytest.raises(ValidationError) as refused:
        services.vote_cast(consultation=consultation, user=member.user, choice="abstain")
    assert "选项“abstain”不存在；可选：support（支持）、reevaluate（可再评估）" in messages(refused.value)
    assert_nothing_stored()


@time_machine.travel(DURING, tick=False)
def test_reasons_are_stored_as_plain_text(consultation: Consultation) -> None:
    member = member_create()
    raw = "\ufeff<b>赔付</b>\u202e标准\r\n\r\n\r\n\r\n过高\x00\t！  "
    vote = services.vote_cast(consultation=consultation, user=member.user, choice="reevaluate", reason=raw)
    assert vote.reason == "<b>赔付</b>标准\n\n过高 ！"
    assert Vote.objects.get().reason == "<b>赔付</b>标准\n\n过高 ！"


# --- opinions --------------------------------------------------------------------------------------------

FORM_LETTER = "延迟发货的赔付从订单金额的5%提高到10%，对小商家负担太重，建议按订单金额分档赔付。"


def vote_many(consultation: Consultation, reasons: list[str]) -> None:
    with time_machine.travel(DURING, tick=False):
        for index, reason in enumerate(reasons):
            member = member_create(f"m{index}")
            choice = "reevaluate" if reason else "support"
            services.vote_cast(consultation=consultation, user=member.user, choice=choice, reason=reason)


def test_near_duplicate_opinions_are_grouped_with_a_count_and_a_representative(
    consultation: Consultation,
) -> None:
    vote_many(
        consultation,
        [
            FORM_LETTER,
            "我认为" + FORM_LETTER,
            FORM_LETTER + "望采纳。",
            FORM_LETTER.replace("，", ","),
            "欺诈发货的定义不清楚，希望给出判定标准。",
            "",
        ],
    )
    assert services.opinions_collect(consultation=consultation) == 5
    clusters = services.opinions_cluster(consultation=consultation)
    assert [cluster.size for cluster in clusters] == [4, 1]
    assert clusters[0].representative is not None
    assert clusters[0].representative.text == FORM_LETTER


def test_a_cluster_keeps_its_response_when_opinions_are_regrouped(consultation: Consultation) -> None:
    vote_many(consultation, [FORM_LETTER, "我认为" + FORM_LETTER])
    services.opinions_collect(consultation=consultation)
    (cluster,) = services.opinions_cluster(consultation=consultation)
    services.cluster_respond(actor=SYSTEM, cluster=cluster, response="将按订单金额分档评估。")
    with time_machine.travel(DURING, tick=False):
        member = member_create("late")
        services.vote_cast(
            consultation=consultation, user=member.user, choice="reevaluate", reason=FORM_LETTER + "谢谢"
        )
    services.opinions_collect(consultation=consultation)
    (regrouped,) = services.opinions_cluster(consultation=consultation)
    assert regrouped.pk == cluster.pk
    assert regrouped.size == 3
    assert regrouped.response == "将按订单金额分档评估。"


def test_review_needs_a_code_of_the_verdicts_kind_and_a_changed_reason_is_reviewed_again(
    consultation: Consultation,
) -> None:
    vote_many(consultation, [FORM_LETTER])
    services.opinions_collect(consultation=consultation)
    opinion = Opinion.objects.get()
    with pytest.raises(ValidationError) as refused:
        services.opinion_review(actor=SYSTEM, opinion=opinion, verdict="valid", code="off_topic")
    assert "不能用于“有效”的结论" in messages(refused.value)
    reviewed = services.opinion_review(actor=SYSTEM, opinion=opinion, verdict="valid", code="substantive")
    assert reviewed.verdict == Opinion.Verdict.VALID
    with time_machine.travel(DURING, tick=False):
        services.vote_cast(
            consultation=consultation, user=opinion.vote.member.user, choice="reevaluate", reason="改了理由"
        )
    services.opinions_collect(consultation=consultation)
    again = Opinion.objects.get()
    assert (again.text, again.verdict, again.code) == ("改了理由", Opinion.Verdict.PENDING, "")


def test_a_withdrawn_reason_removes_its_opinion(consultation: Consultation) -> None:
    vote_many(consultation, [FORM_LETTER])
    services.opinions_collect(consultation=consultation)
    member = Vote.objects.get().member
    with time_machine.travel(DURING, tick=False):
        services.vote_cast(consultation=consultation, user=member.user, choice="support")
    assert services.opinions_collect(consultation=consultation) == 0
    assert not Opinion.objects.exists()


def test_the_result_cannot_be_drafted_before_the_close(consultation: Consultation) -> None:
    with pytest.raises(ValidationError) as refused:
        services.consultation_result_draft(actor=SYSTEM, consultation=consultation, now=DURING)
    assert "将于 2025-01-22 18:00 截止，截止后才能起草结果反馈" in messages(refused.value)
