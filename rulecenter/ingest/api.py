"""Followed channels in the API (/api/v1/channels): staff inspect them; publishers add, change, pause and
resume them; anyone of the staff asks for a fetch now. docs/ingest.md#channels."""

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.responses import Status

from rulecenter.accounts.auth import BearerTokenAuth
from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import request_actor, role_require_any
from rulecenter.common.idempotency import IdempotencyKeyHeader, idempotent_write
from rulecenter.common.problems import problems

from . import services
from .models import Channel, ChannelFetch

router = Router(tags=["channels"])

CHANNEL_UNKNOWN = "没有编号为 {pk} 的频道。"
RECENT_FETCHES = 20
Adapter = Literal["auto", "list", "cards", "table", "definition-list", "selectors"]
PageFormat = Literal["auto", "html", "text"]


class Selectors(Schema):
    item: str = Field(default="", max_length=300, description="每个条目的元素，如 ul.news > li")
    title: str = Field(default="", max_length=300, description="条目内的标题元素")
    link: str = Field(default="", max_length=300, description="条目内的链接（默认 a[href]）")
    date: str = Field(default="", max_length=300, description="条目内的日期元素")
    excerpt: str = Field(default="", max_length=300, description="条目内的摘要元素")


class ChannelIn(Schema):
    name: str = Field(min_length=1, max_length=100, examples=["1688 规则频道"])
    urls: list[str] = Field(min_length=1, max_length=10, description="列表页网址（http/https），最多 10 个")
    adapter: Adapter = Field(
        default="auto", description="auto 自动识别；list/cards/table/definition-list 预设；selectors 自定义"
    )
    selectors: Selectors | None = Field(default=None, description="adapter 为 selectors 时必填 item 和 title")
    format: PageFormat = "auto"
    interval_minutes: int = Field(default=60, ge=5, le=10080, description="抓取间隔（分钟），5 到 10080")
    source: str = Field(
        default="", max_length=100, description="导入的公告记在这个来源下；默认第一页的主机名"
    )
    paused: bool = False


class ChannelPatch(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    urls: list[str] | None = Field(default=None, min_length=1, max_length=10)
    adapter: Adapter | None = None
    selectors: Selectors | None = None
    format: PageFormat | None = None
    interval_minutes: int | None = Field(default=None, ge=5, le=10080)
    paused: bool | None = Field(default=None, description="true 暂停；false 恢复（立即抓取一次）")


class PageOut(Schema):
    url: str
    fetched_at: datetime | None
    etag: str
    last_modified: str


class FetchOut(Schema):
    started_at: datetime
    outcome: str = Field(description="not_modified / imported / failed")
    repeats: int = Field(description="连续几次同样的结果：未变化的抓取连在一起记为一条")
    last_at: datetime | None = Field(description="其中最近一次的时间")
    status: int | None = Field(description="HTTP 状态；没有回应为 null")
    elapsed_ms: int
    bytes: int
    items: int
    new: int
    updated: int
    unsure: int = Field(description="读取程序不确定、没有导入的条目")
    error: str


class ChannelOut(Schema):
    id: int
    name: str
    urls: list[str]
    source: str
    adapter: str
    selectors: dict[str, str]
    format: str
    interval_minutes: int
    paused: bool
    health: str = Field(description="new 尚未抓取 / ok 最近一次成功 / failing 最近一次失败 / paused 已暂停")
    next_fetch_at: datetime
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str
    failures: int = Field(
        description="连续失败次数（退避：间隔 × 2^(n-1)，上限 RULECENTER_CHANNEL_BACKOFF_MAX_MINUTES）"
    )
    items_seen: int


class ChannelDetail(ChannelOut):
    pages: list[PageOut]
    fetches: list[FetchOut] = Field(description=f"最近 {RECENT_FETCHES} 次抓取，新的在前")


class ChannelList(Schema):
    count: int
    items: list[ChannelOut]


def _out(channel: Channel) -> dict[str, object]:
    pages = list(channel.pages.all())
    return {
        **{field: getattr(channel, field) for field in ChannelOut.model_fields if hasattr(channel, field)},
        "urls": [page.url for page in pages],
        "health": channel.health,
    }


def _detail(channel: Channel) -> ChannelDetail:
    fetches = ChannelFetch.objects.filter(channel=channel).order_by("-started_at", "-id")[:RECENT_FETCHES]
    return ChannelDetail.model_validate(
        {
            **_out(channel),
            "pages": [PageOut.model_validate(page, from_attributes=True) for page in channel.pages.all()],
            "fetches": [FetchOut.model_validate(fetch, from_attributes=True) for fetch in fetches],
        }
    )


def _staff(request: HttpRequest) -> None:
    role_require_any(request_actor(request), Role.EDITOR, Role.REVIEWER, Role.PUBLISHER)


def _channel(channel_id: int) -> Channel:
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        raise Http404(_(CHANNEL_UNKNOWN).format(pk=channel_id))
    return channel


@router.get(
    "",
    response={200: ChannelList, **problems(401, 403)},
    auth=BearerTokenAuth(),
    url_name="channel-list",
    operation_id="channel_list",
    summary="关注的频道及其状态（员工）",
)
def channel_list(request: HttpRequest) -> ChannelList:
    _staff(request)
    channels = list(Channel.objects.prefetch_related("pages").order_by("name"))
    return ChannelList(count=len(channels), items=[ChannelOut.model_validate(_out(c)) for c in channels])


@router.get(
    "/{int:channel_id}",
    response={200: ChannelDetail, **problems(401, 403, 404)},
    auth=BearerTokenAuth(),
    url_name="channel-detail",
    operation_id="channel_detail",
    summary="一个频道：页面、状态和最近的抓取（员工）",
)
def channel_detail(request: HttpRequest, channel_id: int) -> ChannelDetail:
    _staff(request)
    return _detail(_channel(channel_id))


def _fields(payload: ChannelIn | ChannelPatch) -> dict[str, Any]:
    """The payload as the services take it: only what was given (None leaves a field as it is on PATCH)."""
    fields = payload.model_dump(exclude={"selectors"})
    given = payload.selectors
    fields["selectors"] = (
        None if given is None else {key: value for key, value in given.model_dump().items() if value}
    )
    return fields


def _write(
    request: HttpRequest,
    key: str | None,
    operation: str,
    payload: Schema,
    write: Callable[[], ChannelDetail],
    *,
    status: int,
) -> Status[ChannelDetail] | HttpResponse:
    user: User = request.auth  # type: ignore[attr-defined]
    return idempotent_write(
        request, user=user, key=key, operation=operation, payload=payload, status=status, write=write
    )


@router.post(
    "",
    response={201: ChannelDetail, **problems(400, 401, 403, 422)},
    auth=BearerTokenAuth(),
    url_name="channel-create",
    operation_id="channel_create",
    summary="关注一个频道（发布角色）",
    description="频道的新条目以已发布公告导入（它们已由原平台发布），所以需要发布角色。首次抓取立即排队。"
    "网址必须指向公网地址。任何一处输入有误都返回 422，不会写入任何内容。可带 Idempotency-Key 头安全地重试。",
)
def channel_create(
    request: HttpRequest, payload: ChannelIn, idempotency_key: IdempotencyKeyHeader = None
) -> Status[ChannelDetail] | HttpResponse:
    actor = request_actor(request)
    return _write(
        request,
        idempotency_key,
        "channel_create",
        payload,
        lambda: _detail(services.channel_create(actor=actor, **_fields(payload))),
        status=201,
    )


@router.patch(
    "/{int:channel_id}",
    response={200: ChannelDetail, **problems(400, 401, 403, 404, 422)},
    auth=BearerTokenAuth(),
    url_name="channel-update",
    operation_id="channel_update",
    summary="修改、暂停或恢复一个频道（发布角色）",
    description="只改给出的字段。换了页面或读取方式，下次抓取重新读取全部页面；恢复时立即抓取一次。"
    "来源（source）创建后不能更改：它和标题一起是已导入条目的身份。",
)
def channel_update(
    request: HttpRequest, channel_id: int, payload: ChannelPatch, idempotency_key: IdempotencyKeyHeader = None
) -> Status[ChannelDetail] | HttpResponse:
    actor = request_actor(request)
    channel = _channel(channel_id)
    return _write(
        request,
        idempotency_key,
        "channel_update",
        payload,
        lambda: _detail(services.channel_update(actor=actor, channel=channel, **_fields(payload))),
        status=200,
    )


@router.post(
    "/{int:channel_id}/fetch",
    response={202: ChannelDetail, **problems(401, 403, 404)},
    auth=BearerTokenAuth(),
    url_name="channel-fetch",
    operation_id="channel_fetch",
    summary="立即抓取一个频道（编辑或发布角色）",
    description="把频道的下次抓取提前到现在并排队；抓取由后台任务完成，结果见 GET 的 fetches。已暂停的频道不抓取。",
)
def channel_fetch(request: HttpRequest, channel_id: int) -> Status[ChannelDetail]:
    channel = services.channel_fetch_soon(actor=request_actor(request), channel=_channel(channel_id))
    return Status(202, _detail(channel))
