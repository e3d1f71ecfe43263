"""Acknowledgments in the API: a member (or the partner tool holding their token) acknowledges a change
that asks for it and lists what is pending; staff read a change's ledger (docs/acknowledgments.md)."""

from datetime import datetime

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from rulecenter.accounts.auth import BearerTokenAuth
from rulecenter.accounts.models import Role
from rulecenter.accounts.roles import request_actor, role_require_any
from rulecenter.common.problems import problems

from . import selectors, services
from .models import Acknowledgment, RuleVersion

router = Router(tags=["acknowledgments"])
rule_router = Router(tags=["acknowledgments"])

VERSION_UNKNOWN = "《{slug}》没有已公示的第 {number} 版。"
LEDGER_PAGE_MAX = 500


class AcknowledgmentOut(Schema):
    rule: str
    title: str
    version: int
    acknowledged_at: datetime
    url: str = Field(description="这一版的页面")


class PendingOut(Schema):
    rule: str
    title: str
    version: int
    summary: str
    notice_at: datetime | None
    effective_at: datetime | None
    url: str
    acknowledge_url: str = Field(description="POST 这个地址即确认（API）；页面上的确认地址见 page_url")
    page_url: str


class MyAcknowledgments(Schema):
    pending: list[PendingOut]
    done: list[AcknowledgmentOut]


class LedgerEntry(Schema):
    member: str = Field(description="会员的用户名")
    acknowledged_at: datetime


class LedgerOut(Schema):
    rule: str
    version: int
    count: int
    items: list[LedgerEntry]


class LedgerQuery(Schema):
    offset: int = Field(default=0, ge=0, le=10_000_000)
    limit: int = Field(default=100, ge=1, le=LEDGER_PAGE_MAX)


def _noticed_version_or_404(slug: str, number: int) -> RuleVersion:
    version = selectors.version_by_slug_and_number(slug=slug[:100], number=number)
    if version is None or not version.is_noticed_at(timezone.now()):
        raise Http404(_(VERSION_UNKNOWN).format(slug=slug[:100], number=number))
    return version


def _acknowledgment_out(request: HttpRequest, acknowledgment: Acknowledgment) -> AcknowledgmentOut:
    version = acknowledgment.version
    return AcknowledgmentOut(
        rule=version.rule.slug,
        title=version.rule.title,
        version=version.number,
        acknowledged_at=timezone.localtime(acknowledgment.acknowledged_at),
        url=request.build_absolute_uri(version.get_absolute_url()),
    )


@router.get(
    "",
    response={200: MyAcknowledgments, **problems(401)},
    auth=BearerTokenAuth(),
    url_name="acknowledgment_list",
    operation_id="acknowledgment_list",
    summary="我的确认：待确认的变更和已确认的记录",
)
def acknowledgment_list(request: HttpRequest) -> MyAcknowledgments:
    user: User = request.auth  # type: ignore[attr-defined]
    pending = selectors.acknowledgments_pending(user_id=user.pk, at=timezone.now())
    return MyAcknowledgments(
        pending=[
            PendingOut(
                rule=version.rule.slug,
                title=version.rule.title,
                version=version.number,
                summary=version.summary,
                notice_at=timezone.localtime(version.notice_at) if version.notice_at else None,
                effective_at=timezone.localtime(version.effective_at) if version.effective_at else None,
                url=request.build_absolute_uri(version.get_absolute_url()),
                acknowledge_url=request.build_absolute_uri(
                    reverse("api:acknowledgment_create", args=[version.rule.slug, version.number])
                ),
                page_url=request.build_absolute_uri(
                    reverse("rules:acknowledge", args=[version.rule.slug, version.number])
                ),
            )
            for version in pending
        ],
        done=[_acknowledgment_out(request, a) for a in selectors.acknowledgments_of(user_id=user.pk)],
    )


@rule_router.post(
    "/{slug}/versions/{int:number}/acknowledgment",
    response={200: AcknowledgmentOut, 201: AcknowledgmentOut, **problems(401, 403, 404, 422)},
    auth=BearerTokenAuth(),
    url_name="acknowledgment_create",
    operation_id="acknowledgment_create",
    summary="确认“我已阅读并知悉”（会员令牌）",
    description="只有要求确认的已公示版本可以确认，只有会员本人（或持其令牌的工具）可以确认；"
    "第一次确认返回 201，之后再确认返回 200 和第一次的时间，不重复记录。",
)
def acknowledgment_create(request: HttpRequest, slug: str, number: int) -> Status[AcknowledgmentOut]:
    version = _noticed_version_or_404(slug, number)
    user: User = request.auth  # type: ignore[attr-defined]
    acknowledgment, created = services.acknowledgment_record(
        actor=request_actor(request), user=user, version=version
    )
    return Status(201 if created else 200, _acknowledgment_out(request, acknowledgment))


@rule_router.get(
    "/{slug}/versions/{int:number}/acknowledgments",
    response={200: LedgerOut, **problems(401, 403, 404, 422)},
    auth=BearerTokenAuth(),
    url_name="acknowledgment_ledger",
    operation_id="acknowledgment_ledger",
    summary="一版的确认记录（编辑、审核或发布角色）",
    description="谁在何时确认了这一版，按时间先后；offset / limit 分页（limit 最多 500）。",
)
def acknowledgment_ledger(
    request: HttpRequest, slug: str, number: int, query: Query[LedgerQuery]
) -> LedgerOut:
    role_require_any(request_actor(request), Role.EDITOR, Role.REVIEWER, Role.PUBLISHER)
    version = _noticed_version_or_404(slug, number)
    ledger = selectors.acknowledgment_ledger(version=version)
    items = ledger[query.offset : query.offset + query.limit]
    return LedgerOut(
        rule=version.rule.slug,
        version=version.number,
        count=ledger.count(),
        items=[
            LedgerEntry(
                member=entry.user.get_username(), acknowledged_at=timezone.localtime(entry.acknowledged_at)
            )
            for entry in items
        ],
    )
