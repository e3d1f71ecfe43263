"""The consultations API's request and response bodies. Their class names are the OpenAPI component names."""

from datetime import datetime
from typing import Literal

from ninja import Field, Schema

from rulecenter.common.api import IsoDatetime

from .models import OPTION_KEY_PATTERN

# A Literal, not Consultation.Status: OpenAPI names an enum after its class and "Status" is taken.
ConsultationStatus = Literal["scheduled", "open", "closed"]


class OptionOut(Schema):
    key: str = Field(examples=["reevaluate"])
    label: str = Field(examples=["可再评估"])
    requires_reason: bool = Field(description="选此项须填写理由")


class RuleRef(Schema):
    slug: str = Field(examples=["prohibited-goods"])
    title: str = Field(examples=["1688指定渠道禁限售规则"])
    number: int = Field(description="草案的版本号")
    url: str = Field(description="规则在网站上的地址")


class ConsultationListItem(Schema):
    id: int
    title: str
    status: ConsultationStatus = Field(
        description="按当前时间推算：scheduled 未开始 / open 征集中 / closed 已结束"
    )
    opens_at: datetime
    closes_at: datetime
    rules: list[RuleRef]
    url: str = Field(description="意见征集在网站上的地址（含投票表单）")
    tally_url: str


class ConsultationPage(Schema):
    items: list[ConsultationListItem]
    count: int


class ClauseChangeOut(Schema):
    anchor: str
    label: str
    status: str = Field(description="added / removed / changed / moved")
    old_text: str
    new_text: str


class DraftOut(Schema):
    rule: RuleRef
    text: str = Field(description="草案全文（Markdown）")
    base_version: int | None = Field(description="对比的现行版本号（征集开始时有效的版本）；新规则为空")
    changes: list[ClauseChangeOut] = Field(description="与现行版本相比改动的条款")


class TallyOut(Schema):
    counts: dict[str, int] = Field(description="每个选项的票数（每位会员以最后一次投票为准）")
    total: int
    shares: dict[str, int] = Field(description="各选项占比（整数百分比，按最大余数法分配，合计恰为 100）")
    labels: dict[str, str] = Field(description="选项名称")
    final: bool = Field(description="征集已截止，结果不再变化")
    as_of: datetime


class ClusterOut(Schema):
    text: str = Field(description="代表意见（不含投票人身份）")
    size: int = Field(description="该组相似意见条数")
    valid: int = Field(description="其中有效意见条数")
    response: str = Field(description="平台回应")


class LedgerOut(Schema):
    submissions: int = Field(description="提交次数（含改票）")
    eligible: int = Field(description="截止时符合投票条件的会员数")
    opinions: int
    valid: int
    invalid: int
    pending: int = Field(description="待审核的意见")
    clusters: list[ClusterOut] = Field(description="含有效意见的相似意见组及平台回应")


class ConsultationOut(ConsultationListItem):
    explanation: str = Field(description="说明（Markdown）")
    explanation_html: str
    bundle: int | None = Field(description="变更包编号")
    options: list[OptionOut]
    drafts: list[DraftOut]
    tally: TallyOut | None = Field(description="实时计票；设置为截止前隐藏时为空")
    ledger: LedgerOut | None = Field(description="截止后的意见汇总")
    result_url: str | None = Field(description="已发布的结果反馈公告地址")


class OptionIn(Schema):
    key: str = Field(pattern=OPTION_KEY_PATTERN, examples=["support"])
    label: str = Field(min_length=1, max_length=32, examples=["支持"])
    requires_reason: bool = False


class VersionRefIn(Schema):
    rule: str = Field(
        min_length=1, max_length=100, description="规则标识（slug）", examples=["shipping-conduct"]
    )
    number: int = Field(ge=1, le=1_000_000_000, description="版本号（草案）")


class ConsultationIn(Schema):
    title: str = Field(min_length=1, max_length=200, examples=["《1688商家发货行为管理规范》变更意见征集"])
    explanation: str = Field(default="", max_length=20_000, description="说明（Markdown）")
    opens_at: IsoDatetime = Field(description="开始时间；不早于当前时间")
    closes_at: IsoDatetime = Field(description="截止时间；征集期至少 RULECENTER_CONSULTATION_MIN_DAYS 日")
    versions: list[VersionRefIn] = Field(default=[], max_length=50, description="征集意见的规则版本（草案）")
    bundle: int | None = Field(default=None, ge=1, description="或：变更包编号，征集其全部版本")
    options: list[OptionIn] | None = Field(
        default=None,
        max_length=10,
        description="投票选项；默认 支持（support）和 可再评估（reevaluate，须填理由）",
    )


class VoteIn(Schema):
    choice: str = Field(min_length=1, max_length=32, examples=["reevaluate"], description="选项标识")
    reason: str = Field(
        default="",
        max_length=100_000,
        description="理由（纯文本），最多 RULECENTER_CONSULTATION_REASON_MAX_CHARS 字；选项要求时必填",
        examples=["赔付金额标准过高，建议按订单金额分档。"],
    )


class VoteOut(Schema):
    consultation: int
    choice: str
    label: str
    reason: str
    submitted_at: datetime
    tally_url: str
