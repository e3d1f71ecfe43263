"""The 结果反馈 news item, worded like the seed's and Taobao's reports, written from the public ledger.

"我们于2025年1月16日至2025年1月23日进行了意见征集 … 本次投票“可再评估”的意见反馈中，未收到关于此次规范变更的有效意见"
(the seed) and "62%的用户认为此次规则调整合理 … 本次投票'可再评估'的38%意见反馈中 … 平台回应如下" (Taobao).
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.utils import timezone

from .models import ConsultationOption
from .selectors import Ledger

if TYPE_CHECKING:
    from rulecenter.rules.models import RuleVersion

NO_VALID_OPINIONS = "本次投票{options}的意见反馈中，未收到关于此次规范变更的有效意见。"
RESPONSE_PENDING = "（平台回应待补充）"
# The marks that start a link, image, autolink, HTML, entity, emphasis, code, strikethrough or table, and
# the `:` and `.` that linkify needs to see a URL, a www. address or an e-mail. The opinion is quoted inside
# a line, so marks that only start a block (`-`, `+`, `1.`) cannot act; `%` and the like stay readable.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>!&~|#:.])")


@dataclass(frozen=True)
class ResultReport:
    title: str
    body: str


def chinese_date(at: datetime) -> str:
    local = timezone.localtime(at)
    return f"{local.year}年{local.month}月{local.day}日"


def window_text(opens_at: datetime, closes_at: datetime) -> str:
    """`2025年1月16日至2025年1月23日`; a window closing at midnight ended the day before."""
    return f"{chinese_date(opens_at)}至{chinese_date(closes_at - timedelta(microseconds=1))}"


def rule_names(versions: "list[RuleVersion]") -> str:
    return "和".join(f"《{version.rule.title}》" for version in versions)


def report_title(versions: "list[RuleVersion]") -> str:
    if not versions:
        return "意见征集结果反馈"
    if len(versions) == 1:
        return f"关于《{versions[0].rule.title}》调整的意见征集结果反馈"
    return f"关于《{versions[0].rule.title}》和其相关规则调整的意见征集结果反馈"


def _quoted(labels: list[str]) -> str:
    return "、".join(f"“{label}”" for label in labels)


def markdown_literal(text: str) -> str:
    """A member's words as Markdown that shows them as typed: no link, image, emphasis or HTML they planted.

    Escaping `:` and `.` also splits URLs (`https\\://evil\\.example`), so linkify finds none.
    """
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def _one_line(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def result_report(
    *, ledger: Ledger, versions: "list[RuleVersion]", options: list[ConsultationOption], site_url: str
) -> ResultReport:
    consultation = ledger.consultation
    tally = ledger.tally
    lines = [
        "各位亲爱的会员：",
        "",
        f"针对平台{rule_names(versions) or '规则'}的变更，我们于"
        f"{window_text(consultation.opens_at, consultation.closes_at)}进行了意见征集，"
        f"征集详情及完整计票见：{site_url}{consultation.get_absolute_url()}",
        "",
    ]
    if tally.total == 0:
        lines += ["本次意见征集期间未收到投票。", ""]
    else:
        turnout = f"本次共有 {tally.total} 位会员参与投票"
        if ledger.turnout_percent is not None:
            turnout += f"（符合条件的会员共 {ledger.eligible} 位，参与率 {ledger.turnout_percent:.1f}%）"
        shares = "，".join(
            f"{share}%的会员选择“{label}”（{count} 票）" for _key, label, count, share in tally.rows()
        )
        lines += [f"{turnout}。其中{shares}。", ""]

    reason_options = [option for option in options if option.requires_reason]
    labels = _quoted([option.label for option in reason_options])
    share_of_reasons = sum(tally.shares.get(option.key, 0) for option in reason_options)
    if ledger.valid == 0:
        if reason_options:
            lines.append(NO_VALID_OPINIONS.format(options=labels))
        else:
            lines.append("本次意见征集中，未收到关于此次规范变更的有效意见。")
    else:
        where = (
            f"本次投票{labels}的{share_of_reasons}%意见反馈中"
            if reason_options and tally.total
            else "本次意见征集中"
        )
        lines += [
            f"{where}，共收到有效意见 {ledger.valid} 条，归纳为 {len(ledger.clusters)} 类问题，"
            "针对大家意见征集期间主要提到的问题，平台回应如下：",
            "",
        ]
        for number, cluster in enumerate(ledger.clusters, start=1):
            similar = f"相似意见 {cluster.size} 条" if cluster.size > 1 else "1 条意见"
            lines += [
                f"{number}. 关于“{markdown_literal(_one_line(cluster.text))}”（{similar}，其中有效 {cluster.valid} 条）",
                "",
                f"   平台回应：{_one_line(cluster.response, 2000) if cluster.response.strip() else RESPONSE_PENDING}",
                "",
            ]
    lines += ["", "感谢各位会员的参与和反馈！本次变更涉及的规则："]
    lines += [
        f"- 《{version.rule.title}》：{site_url}{version.rule.get_absolute_url()}" for version in versions
    ]
    lines += ["", "变更将另行公示，公示期届满后生效；不接受修改的会员可在公示期内申请退出。"]
    return ResultReport(title=report_title(versions), body="\n".join(lines).rstrip() + "\n")
