from datetime import datetime
from typing import Literal

from ninja import Field, Schema


class SubscriptionIn(Schema):
    channel: Literal["webhook", "email", "dingtalk", "wecom", "feishu"] = Field(
        description="渠道；目前开放 webhook", examples=["webhook"]
    )
    target: str = Field(
        min_length=1,
        max_length=2000,
        description="接收地址（webhook 为 https 网址）",
        examples=["https://erp.example.com/hooks/rules"],
    )
    topic: str = Field(
        min_length=1,
        max_length=80,
        description="all、category:<标识> 或 rule:<标识>",
        examples=["all", "rule:shipping-conduct"],
    )
    frequency: Literal["immediate", "daily", "weekly"] = Field(
        default="immediate", description="webhook 只能 immediate"
    )


class SubscriptionOut(Schema):
    id: int
    channel: str
    target: str
    topic: str
    frequency: str
    active: bool
    created_at: datetime
    disabled_at: datetime | None = None
    disabled_reason: str = ""
    deliveries_url: str


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="签名密钥（whsec_…）：只在创建时返回这一次，请妥善保存")


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
