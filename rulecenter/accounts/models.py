from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """Staff roles, each a Django group with its permissions (created by a data migration)."""

    EDITOR = "editor", _("编辑")
    REVIEWER = "reviewer", _("审核")
    PUBLISHER = "publisher", _("发布")


class Member(models.Model):
    """A merchant account on the platform (会员 / 商家).

    Its attributes — industry, region, membership type and shop age (from `joined_on`) — place it in the
    segments a change may target (`Segment`); the services set them (`member_attributes_set`).
    """

    class Membership(models.TextChoices):
        BASIC = "basic", _("普通会员")
        VERIFIED = "verified", _("诚信通")
        PREMIUM = "premium", _("实力商家")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="member"
    )
    shop_name = models.CharField(_("店铺名称"), max_length=100, blank=True)
    joined_on = models.DateField(_("入驻日期"))
    verified = models.BooleanField(_("已认证"), default=False)
    industry = models.CharField(
        _("行业类目"),
        max_length=64,
        blank=True,
        help_text=_("小写字母、数字、连字符或下划线，如 apparel、food-beverage；留空表示未填写。"),
    )
    region = models.CharField(
        _("地区"), max_length=64, blank=True, help_text=_("省份名称或行政区划代码，如 浙江省 或 330000。")
    )
    membership = models.CharField(
        _("会员类型"), max_length=16, choices=Membership.choices, default=Membership.BASIC
    )
    # The language the platform writes to the member in when no subscription says otherwise (requests to
    # acknowledge a change); the member chooses it on /me/.
    language = models.CharField(_("通知语言"), max_length=8, choices=settings.LANGUAGES, default="zh-hans")

    class Meta:
        verbose_name = _("会员")
        verbose_name_plural = _("会员")
        constraints = [
            models.CheckConstraint(
                condition=Q(membership__in=["basic", "verified", "premium"]), name="member_membership_known"
            ),
            models.CheckConstraint(condition=Q(language__in=["zh-hans", "en"]), name="member_language_known"),
        ]

    def __str__(self) -> str:
        return self.shop_name or self.user.get_username()


class Segment(models.Model):
    """A group of members a change mainly concerns (商家分群): an announcement or a rule version may target
    segments, and then its notifications and acknowledgment requests reach only their members.

    A member is in a segment when every criterion that is not empty matches: its industry is one of
    `industries`, its region one of `regions`, its membership type one of `memberships`, and its shop age
    (whole days since `joined_on`) lies within `min_shop_days`..`max_shop_days`, both ends included. A
    segment without any criterion holds every member. `accounts.selectors.segment_users` is the one
    definition of membership, as SQL.
    """

    slug = models.SlugField(
        _("标识"), max_length=64, unique=True, help_text=_("创建后不能修改：通知和 API 用它指称分群。")
    )
    name = models.CharField(_("名称"), max_length=100)
    description = models.TextField(_("说明"), blank=True)
    industries = models.JSONField(_("行业类目"), default=list, blank=True, help_text=_("留空表示不限。"))
    regions = models.JSONField(_("地区"), default=list, blank=True, help_text=_("留空表示不限。"))
    memberships = models.JSONField(_("会员类型"), default=list, blank=True, help_text=_("留空表示不限。"))
    min_shop_days = models.IntegerField(
        _("最少开店天数"), null=True, blank=True, help_text=_("含本数；留空表示不限。")
    )
    max_shop_days = models.IntegerField(
        _("最多开店天数"), null=True, blank=True, help_text=_("含本数；留空表示不限。")
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("商家分群")
        verbose_name_plural = _("商家分群")
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="segment_name_not_empty"),
            models.CheckConstraint(condition=~Q(slug=""), name="segment_slug_not_empty"),
            models.CheckConstraint(
                condition=(Q(min_shop_days__isnull=True) | Q(min_shop_days__gte=0))
                & (Q(max_shop_days__isnull=True) | Q(max_shop_days__gte=0)),
                name="segment_shop_days_not_negative",
                violation_error_message=_("开店天数不能为负数。"),
            ),
            models.CheckConstraint(
                condition=Q(min_shop_days__isnull=True)
                | Q(max_shop_days__isnull=True)
                | Q(min_shop_days__lte=F("max_shop_days")),
                name="segment_shop_days_ordered",
                violation_error_message=_("最少开店天数不能大于最多开店天数。"),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the token itself is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("名称"), max_length=100, blank=True)
    prefix = models.CharField(_("前缀"), max_length=12, help_text=_("令牌的前几位，便于辨认。"))
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    expires_at = models.DateTimeField(_("过期时间"), null=True, blank=True, help_text=_("留空表示永不过期。"))
    # The token's roles, a subset of its user's when issued: null acts in all of the user's roles (as they
    # are at each request), an empty list is read-only (a partner's token).
    roles = models.JSONField(
        _("角色"), null=True, blank=True, help_text=_("留空表示用户的全部角色；空列表表示只读。")
    )

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")
        constraints = [
            models.CheckConstraint(condition=~Q(key_hash=""), name="apitoken_hash_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired_at(timezone.now())

    @property
    def is_read_only(self) -> bool:
        return self.roles == []

    def is_expired_at(self, at: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= at


class GrantGeneration(models.Model):
    """One row: a number raised, in the change's own transaction, by every change that can take a token's
    grant or a signed-in user away (token_cache). Each process reads it at most once per
    RULECENTER_TOKEN_MEMO_SECONDS and forgets what it keeps when it has moved."""

    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("授权代次")
        verbose_name_plural = _("授权代次")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="grantgeneration_one_row")]

    def __str__(self) -> str:
        return str(self.value)
