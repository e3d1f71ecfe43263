from datetime import datetime
from typing import Literal

from ninja import Field, Schema


class SubscriptionIn(Schema):
    channel: Literal["webhook", "email", "dingtalk", "wecom", "feishu"] = Field(
        description="渠道：webhook、email（先发确认邮件，确认后生效）、dingtalk、wecom、feishu",
        examples=["webhook"],
    )
    target: str = Field(
        min_length=1,
        max_length=2000,
        description="接收地址：webhook 与机器人为网址（钉钉 https://oapi.dingtalk.com/robot/send?access_token=…，"
        "企业微信 https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…，飞书 https://open.feishu.cn/open-apis/bot/v2/hook/…），"
        "email 为电子邮件地址",
        examples=["https://erp.example.com/hooks/rules"],
    )
    topic: str = Field(
        min_length=1,
        max_length=200,
        description="all、category:<标识>、rule:<标识>、consultation:<编号> 或 search:<检索词>"
        "（保存的搜索：标题或摘要含全部检索词的变更），或带 /search/ 筛选条件的 search:?q=<检索词>&kind=<announcement|rule>"
        "&type=<细分类型>&category=<栏目或分类>",
        examples=["all", "rule:shipping-conduct", "search:发货", "search:?q=发货&kind=rule"],
    )
    frequency: Literal["immediate", "daily", "weekly"] = Field(
        default="immediate", description="email 可选 daily、weekly 汇总；webhook 与机器人只能 immediate"
    )
    robot_secret: str = Field(
        default="",
        max_length=200,
        description="钉钉机器人“加签”的密钥（SEC…）或飞书机器人的签名校验密钥；不设则不签",
    )


class SubscriptionOut(Schema):
    id: int
    channel: str
    target: str
    topic: str
    frequency: str
    language: str = Field(description="通知所用的语言（订阅时请求的语言）")
    confirmed: bool = Field(description="email 订阅在地址的主人点击确认邮件里的链接后才生效")
    active: bool
    created_at: datetime
    disabled_at: datetime | None = None
    disabled_reason: str = ""
    deliveries_url: str


class SubscriptionCreated(SubscriptionOut):
    secret: str | None = Field(
        description="webhook 与机器人的签名密钥（whsec_…，Standard Webhooks）：只在创建时返回这一次，请妥善保存；email 为 null"
    )


class SubscriptionList(Schema):
    count: int
    items: list[SubscriptionOut]


class DeliveryOut(Schema):
    message_id: str = Field(description="webhook-id 请求头：每次重试都相同")
    event: str = Field(description="事件类型，如 announcement.published")
    occurred_at: datetime
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    response_status: int | None = None
    latency_ms: int | None = None
    error: str = ""
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None


class DeliveryList(Schema):
    count: int
    items: list[DeliveryOut]
