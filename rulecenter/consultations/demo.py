"""Demo consultations: the seed's two January 2025 windows, closed, with generated votes and reviewed
opinions, and one open consultation to try voting on.

The votes, reasons and responses are generated for the demo; they are not the platform's real ledger.
"""

import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from rulecenter.accounts import services as account_services
from rulecenter.common.actors import SYSTEM
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules import services as rule_services

from . import services
from .models import Consultation, Opinion, Vote, VoteHistory

if TYPE_CHECKING:
    from rulecenter.accounts.models import Member
    from rulecenter.rules.models import RuleVersion

SHANGHAI = ZoneInfo("Asia/Shanghai")
MEMBER_PREFIX = "demo-member-"
MEMBERS = 420
VOTER = "demo-voter"


def _at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Theme:
    """A kind of reason the demo generates, and how the demo's operator judges and answers it."""

    text: str
    verdict: Opinion.Verdict
    code: Opinion.Code
    response: str = ""


PROHIBITED_THEMES = [
    Theme(
        "物流发货太慢了，希望平台管一管快递公司的揽收时效。", Opinion.Verdict.INVALID, Opinion.Code.OFF_TOPIC
    ),
    Theme(
        "希望平台多给新开的店铺一些流量扶持，新商家太难了。", Opinion.Verdict.INVALID, Opinion.Code.OFF_TOPIC
    ),
    Theme("店铺保证金能不能降低一点，资金压力很大。", Opinion.Verdict.INVALID, Opinion.Code.OFF_TOPIC),
    Theme("再评估一下吧，暂时没想好。", Opinion.Verdict.INVALID, Opinion.Code.NO_CONTENT),
    Theme("不清楚具体改了什么，先选可再评估。", Opinion.Verdict.INVALID, Opinion.Code.NO_CONTENT),
]
SHIPPING_THEMES = [
    Theme(
        "欺诈发货的定义不够清楚，“与订单约定明显不符”具体怎么认定？希望平台给出明确的判定标准和典型示例。",
        Opinion.Verdict.VALID,
        Opinion.Code.CLARIFICATION,
        "第五条所称欺诈发货，是指商家发出的货物在商品、规格或数量上与订单约定明显不符且无正当理由的情形。"
        "平台将结合订单约定、物流信息和买卖双方的举证综合判定，判定前会通知商家并开放申诉通道；典型示例将在规则解读中公布。",
    ),
    Theme(
        "延迟发货的赔付从订单金额的5%提高到10%、上限从50元提高到100元，对小商家负担太重，建议按订单金额分档赔付。",
        Opinion.Verdict.VALID,
        Opinion.Code.SUBSTANTIVE,
        "赔付比例调整为订单金额的10%，同时保留100元的上限，小额订单的实际赔付金额有限；"
        "平台将在新规生效后持续评估赔付标准对中小商家的影响，必要时再行调整。",
    ),
    Theme(
        "延迟发货的赔付评估标准不明确，遇到物流揽收延误、恶劣天气等非商家原因时是否还要赔付？希望明确举证方式。",
        Opinion.Verdict.VALID,
        Opinion.Code.CLARIFICATION,
        "因物流揽收延误、不可抗力等非商家原因导致的延迟发货，商家提供揽收记录等凭证后可申请免除赔付；"
        "具体举证材料和申请入口将在规则解读中说明。",
    ),
    Theme("平台的退款审核太慢了，能不能先解决这个问题。", Opinion.Verdict.INVALID, Opinion.Code.OFF_TOPIC),
    Theme("没什么意见，再看看。", Opinion.Verdict.INVALID, Opinion.Code.NO_CONTENT),
]
PREFIXES = ["", "", "我认为", "建议：", "作为小商家，", "个人看法："]
SUFFIXES = ["", "", "谢谢！", "望采纳。", "辛苦了。"]

PROHIBITED_EXPLANATION = """为了规范1688平台的市场管理秩序，保障卖家在1688指定渠道的规范经营和为买家营造安全安心的网购环境，
平台拟对《1688指定渠道禁限售规则》和《禁售商品规则-其他国家或地区禁售商品》进行更新：

- 新增未取得必要资质的医疗器械及药品的禁售情形；
- 发布禁售商品信息的扣分由2分调整为4分，情节严重的限制发布商品7天；
- 新增未经认证的无线电发射设备为其他国家或地区禁售商品。

请选择“支持”或“可再评估”；选择“可再评估”时请写明理由。"""

SHIPPING_EXPLANATION = """为了持续保障买家体验，为商家创造更好的营商环境，平台拟变更《1688商家发货行为管理规范》：
调整延迟发货的赔付比例和上限，对虚假发货增加下架相关商品的处理，并新增欺诈发货的定义。

请选择“支持”或“可再评估”；选择“可再评估”时请写明理由。"""

FACTORING_EXPLANATION = """为了向卖家提供更加完善的服务，平台拟修改《保理服务协议》：发生退款时归还提前回款款项的期限由5日延长至7日，
并明确卖家可随时申请关闭提前回款服务。欢迎会员投票并提出意见。"""


@dataclass(frozen=True)
class DemoResult:
    consultations: int
    voter: str = ""
    password: str = ""
    token: str = ""


def _reason(theme: Theme, rng: random.Random) -> str:
    return f"{rng.choice(PREFIXES)}{theme.text}{rng.choice(SUFFIXES)}"


def _members() -> "list[Member]":
    """The demo's merchants: mostly verified, all long enough on the platform to vote in 2025."""
    return [
        account_services.member_create(
            actor=SYSTEM,
            username=f"{MEMBER_PREFIX}{i:03d}",
            shop_name=f"示例商家{i:03d}",
            joined_on=date(2023, 1, 1) + timedelta(days=i),
            verified=i % 10 != 0,
        )
        for i in range(1, MEMBERS + 1)
    ]


def _ballots(
    consultation: Consultation,
    voters: "list[Member]",
    *,
    support: float,
    themes: list[Theme],
    until: datetime,
    rng: random.Random,
) -> dict[str, Theme]:
    """Generated votes within the window (some members change their vote); returns each reason's theme."""
    span = (until - consultation.opens_at).total_seconds()
    labels: dict[str, Theme] = {}
    votes: list[Vote] = []
    history: list[VoteHistory] = []
    for member in voters:
        moments = sorted(consultation.opens_at + timedelta(seconds=rng.uniform(0, span)) for _ in range(2))
        submissions: list[tuple[str, str]] = []
        if rng.random() < 0.06:  # a first vote, changed later
            submissions.append(
                ("support", "") if rng.random() < 0.5 else ("reevaluate", _reason(themes[-1], rng))
            )
        if rng.random() < support:
            submissions.append(("support", ""))
        else:
            theme = rng.choice(themes)
            reason = _reason(theme, rng)
            labels[reason] = theme
            submissions.append(("reevaluate", reason))
        for (choice, reason), at in zip(submissions, moments[-len(submissions) :], strict=True):
            history.append(
                VoteHistory(
                    consultation=consultation, member=member, choice=choice, reason=reason, cast_at=at
                )
            )
        choice, reason = submissions[-1]
        votes.append(
            Vote(
                consultation=consultation,
                member=member,
                choice=choice,
                reason=reason,
                cast_at=moments[-len(submissions)],
                updated_at=moments[-1],
            )
        )
    Vote.objects.bulk_create(votes, batch_size=500)
    VoteHistory.objects.bulk_create(history, batch_size=500)
    return labels


def _review(consultation: Consultation, labels: dict[str, Theme]) -> None:
    """The demo operator: group the opinions, judge each cluster by its representative, answer the valid."""
    services.opinions_collect(consultation=consultation)
    for cluster in services.opinions_cluster(consultation=consultation):
        assert cluster.representative is not None
        theme = labels.get(cluster.representative.text)
        if theme is None:
            continue
        services.cluster_review(actor=SYSTEM, cluster=cluster, verdict=theme.verdict, code=theme.code)
        if theme.response:
            services.cluster_respond(actor=SYSTEM, cluster=cluster, response=theme.response)


def _closed(
    *,
    title: str,
    explanation: str,
    opens_at: datetime,
    closes_at: datetime,
    versions: "list[RuleVersion]",
    members: "list[Member]",
    turnout: int,
    support: float,
    themes: list[Theme],
    seed: int,
) -> Consultation:
    rng = random.Random(seed)
    bundle = versions[0].bundle if len(versions) > 1 else None
    consultation = services.consultation_create(
        actor=SYSTEM,
        title=title,
        explanation=explanation,
        opens_at=opens_at,
        closes_at=closes_at,
        versions=versions,
        bundle=bundle,
        record_past=True,
    )
    eligible = [member for member in members if member.verified]
    labels = _ballots(
        consultation, rng.sample(eligible, turnout), support=support, themes=themes, until=closes_at, rng=rng
    )
    _review(consultation, labels)
    services.consultation_result_draft(actor=SYSTEM, consultation=consultation)
    return consultation


def _draft_factoring(now: datetime) -> "RuleVersion | None":
    rule = rule_selectors.rule_by_slug("factoring-agreement")
    current = rule_selectors.version_in_force(rule=rule, at=now) if rule else None
    if rule is None or current is None:
        return None
    text = current.text.replace("5日内归还", "7日内归还").rstrip()
    text += "\n（三）卖家可在服务页面随时申请关闭提前回款服务，关闭前已提前回款的款项按原约定处理。\n"
    return rule_services.rule_version_create(
        actor=SYSTEM, rule=rule, text=text, summary="退款归还期限延长至7日，明确可随时关闭服务。"
    )


def _voter() -> tuple[str, str, str]:
    """A verified member to try voting with: a password for the site and a token for the API."""
    member = account_services.member_create(
        actor=SYSTEM, username=VOTER, joined_on=date(2024, 1, 1), verified=True, shop_name="演示商家"
    )
    password = secrets.token_urlsafe(9)
    member.user.set_password(password)
    member.user.save(update_fields=["password"])
    _record, token = account_services.api_token_create(actor=SYSTEM, user=member.user, name="演示投票")
    return VOTER, password, token


@transaction.atomic
def load_demo_consultations() -> DemoResult:
    """Create the demo consultations unless some exist (needs the demo rules); returns what was created."""
    if Consultation.objects.exists():
        return DemoResult(consultations=0)
    prohibited = rule_selectors.version_by_slug_and_number(slug="prohibited-goods", number=2)
    shipping = rule_selectors.version_by_slug_and_number(slug="shipping-conduct", number=2)
    if prohibited is None or shipping is None or prohibited.bundle_id is None:
        return DemoResult(consultations=0)
    members = _members()
    voter, password, token = _voter()  # before the reports, so their turnout counts the same members
    bundle_versions = rule_selectors.bundle_versions(bundle_id=prohibited.bundle_id)
    _closed(
        title="《1688指定渠道禁限售规则》和其相关规则变更意见征集",
        explanation=PROHIBITED_EXPLANATION,
        opens_at=_at(2025, 1, 16, 10),
        closes_at=_at(2025, 1, 23, 18),
        versions=bundle_versions,
        members=members,
        turnout=312,
        support=0.82,
        themes=PROHIBITED_THEMES,
        seed=20250116,
    )
    _closed(
        title="《1688商家发货行为管理规范》变更意见征集",
        explanation=SHIPPING_EXPLANATION,
        opens_at=_at(2025, 1, 15, 10),
        closes_at=_at(2025, 1, 22, 18),
        versions=[shipping],
        members=members,
        turnout=268,
        support=0.66,
        themes=SHIPPING_THEMES,
        seed=20250115,
    )
    created = 2
    now = timezone.now().astimezone(SHANGHAI).replace(minute=0, second=0, microsecond=0)
    draft = _draft_factoring(now)
    if draft is not None:
        open_one = services.consultation_create(
            actor=SYSTEM,
            title="《保理服务协议》修改意见征集",
            explanation=FACTORING_EXPLANATION,
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=9),
            versions=[draft],
            record_past=True,
        )
        rng = random.Random(20250301)
        eligible = [member for member in members if member.verified]
        _ballots(
            open_one, rng.sample(eligible, 37), support=0.7, themes=SHIPPING_THEMES[3:], until=now, rng=rng
        )
        created += 1
    return DemoResult(consultations=created, voter=voter, password=password, token=token)
