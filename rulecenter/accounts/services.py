"""Writes to accounts: members (and their attributes), segments and API tokens."""

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from rulecenter.common.actors import Actor
from rulecenter.common.changes import ChangeAction, ContentKind, content_changed_announce
from rulecenter.common.text import control_characters_refuse

from .models import ApiToken, GrantGeneration, Member, Role, Segment
from .roles import STAFF_ROLES, role_require, user_roles

TOKEN_NOT_YOURS = "只能签发或吊销自己的 API 令牌。"  # noqa: S105 - a message, not a secret
TOKEN_PREFIX = "rc_"  # noqa: S105 - a label, not a secret
# A token's last use is recorded at most this often, so a busy client does not write on every request.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
USER_UNKNOWN = "用户“{username}”不存在。"
USER_EXISTS = "用户“{username}”已存在。"
USERNAME_EMPTY = "用户名不能为空。"
JOINED_IN_FUTURE = "入驻日期 {joined_on:%Y-%m-%d} 晚于今天。"
TOKEN_ROLE_NOT_HELD = "用户“{username}”没有“{role}”角色，令牌不能带有该角色。"  # noqa: S105 - a message
TOKEN_EXPIRES_IN_PAST = "过期时间 {expires_at} 已经过去：令牌的过期时间必须晚于现在。"  # noqa: S105 - a message
ROLE_UNKNOWN = "没有“{role}”这个角色；可用的角色：editor（编辑）、reviewer（审核）、publisher（发布）。"
STAFF_ROLES_EMPTY = "请至少指定一个角色（editor、reviewer 或 publisher）。"
STAFF_CREATE_FORBIDDEN = "只有超级管理员可以创建后台人员账户。"
# Segments (issue 13) and the member attributes they select by.
MEMBER_ATTRIBUTES_FORBIDDEN = "只有平台或超级管理员可以修改会员的行业类目、地区和会员类型。"
MEMBER_LANGUAGE_FORBIDDEN = "只有会员本人可以选择自己的通知语言。"
LANGUAGE_UNKNOWN = "不支持的语言“{language}”：可选 zh-hans（中文）或 en（English）。"
INDUSTRY_INVALID = "行业类目“{value}”无效：只能用小写字母、数字、连字符和下划线，最多 64 个字符，如 apparel。"
REGION_INVALID = "地区“{value}”无效：须是一行文字，最多 64 个字符，如 浙江省 或 330000。"
MEMBERSHIP_UNKNOWN = (
    "没有“{value}”这种会员类型；可用的类型：basic（普通会员）、verified（诚信通）、premium（实力商家）。"
)
SEGMENT_SLUG_INVALID = "分群标识“{slug}”无效：只能用字母、数字、连字符和下划线，最多 64 个字符。"
SEGMENT_SLUG_TAKEN = "已有标识为“{slug}”的商家分群。"
SEGMENT_NAME_EMPTY = "分群名称不能为空。"
SEGMENT_NAME_TOO_LONG = "分群名称最多 100 个字符（现有 {length} 个）。"
SEGMENT_SHOP_DAYS_NEGATIVE = "开店天数不能为负数（现为 {days}）。"
SEGMENT_SHOP_DAYS_ORDER = "最少开店天数（{min}）不能大于最多开店天数（{max}）。"
SEGMENT_UNKNOWN = "没有标识为“{slug}”的商家分群。"
SEGMENT_CRITERIA_MAX = 200  # values per criterion: a segment names a few industries or provinces, not a list
SEGMENT_CRITERIA_TOO_MANY = "每项条件最多 {max} 个值（现有 {count} 个）。"
_INDUSTRY_RE = re.compile(r"[-a-z0-9_]{1,64}")
_SEGMENT_SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,64}")


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough (unlike a password, nothing to brute-force).
    return hashlib.sha256(token.encode()).hexdigest()


def _refuse_unless_own(actor: Actor, user_id: int) -> None:
    if not (actor.is_system or actor.superuser) and actor.user_id != user_id:
        raise PermissionDenied(_(TOKEN_NOT_YOURS))


def roles_clean(roles: Iterable[str]) -> list[str]:
    """Role values, known ones only, without repeats, in the roles' own order (editor, reviewer, publisher)."""
    wanted = set()
    for role in roles:
        value = role.strip()
        if value not in STAFF_ROLES:
            raise ValidationError(_(ROLE_UNKNOWN).format(role=value[:40]))
        wanted.add(value)
    return [role.value for role in Role if role.value in wanted]


def api_token_scope_clean(
    *, user: User, roles: Iterable[str] | None, expires_at: datetime | None
) -> list[str] | None:
    """The token's roles as stored (None: all of the user's; []: read-only), refused unless the user holds
    each of them now; and an expiry, refused unless it lies in the future. Errors name their field.
    """
    scope = None if roles is None else roles_clean(roles)
    if scope:
        held = user_roles(user)
        for role in Role:
            if role.value in scope and role.value not in held:
                raise ValidationError(
                    {"roles": _(TOKEN_ROLE_NOT_HELD).format(username=user.get_username(), role=role.label)}
                )
    if expires_at is not None and expires_at <= timezone.now():
        shown = timezone.localtime(expires_at).strftime("%Y-%m-%d %H:%M")
        raise ValidationError({"expires_at": _(TOKEN_EXPIRES_IN_PAST).format(expires_at=shown)})
    return scope


@transaction.atomic
def api_token_create(
    *,
    actor: Actor,
    user: User,
    name: str = "",
    roles: Iterable[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns the record and the token, which is never stored.

    `roles` narrows the token to some of the user's roles (None: all of them, an empty list: read-only);
    each must be one the user holds now. `expires_at`, when given, must lie in the future.
    """
    _refuse_unless_own(actor, user.pk)
    scope = api_token_scope_clean(user=user, roles=roles, expires_at=expires_at)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user=user,
        name=name.strip(),
        prefix=token[:10],
        key_hash=token_hash(token),
        roles=scope,
        expires_at=expires_at,
    )
    record.full_clean()
    record.save()
    content_changed_announce(
        kind=ContentKind.API_TOKEN,
        ids=[record.pk],
        action=ChangeAction.ISSUED,
        actor=actor,
        data={
            "user": user.get_username(),
            "name": record.name,
            "prefix": record.prefix,
            "roles": scope,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return record, token


@transaction.atomic
def api_token_issue(
    *,
    actor: Actor,
    username: str,
    name: str = "",
    roles: Iterable[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for the user called `username` (the `issue_token` command)."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError(_(USER_UNKNOWN).format(username=username))
    return api_token_create(actor=actor, user=user, name=name, roles=roles, expires_at=expires_at)


@transaction.atomic
def api_token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    _refuse_unless_own(actor, token.user_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        content_changed_announce(
            kind=ContentKind.API_TOKEN,
            ids=[token.pk],
            action=ChangeAction.REVOKED,
            actor=actor,
            data={"prefix": token.prefix},
        )
    return token


def api_token_touch(*, token_id: int, used_at: datetime) -> bool:
    """Record that the token was used at `used_at`, unless a use less than a minute before it is recorded.

    One guarded UPDATE, no read: several processes recording the same minute's use write the row once.
    Run by the `api_token_use_record` task, never inside a request. True if it wrote.
    """
    recorded_long_ago = Q(last_used_at__isnull=True) | Q(last_used_at__lte=used_at - TOKEN_TOUCH_INTERVAL)
    return bool(ApiToken.objects.filter(recorded_long_ago, pk=token_id).update(last_used_at=used_at))


def grant_generation_raise() -> None:
    """Raise the grants' generation by one (creating its row if a flush took it), in the caller's transaction.

    One statement, no read: concurrent changes each add one. Called by `token_cache.grants_forget` for every
    change that can take a token's grant or a signed-in user away; processes see it within a second.
    """
    table = connection.ops.quote_name(GrantGeneration._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, value) VALUES (1, 1) "  # noqa: S608 - the table's name from the model
            f"ON CONFLICT (id) DO UPDATE SET value = {table}.value + 1"
        )


def industry_clean(value: str) -> str:
    """An industry as stored: lower case, slug-like; empty for none."""
    industry = value.strip().lower()
    if industry and not _INDUSTRY_RE.fullmatch(industry):
        raise ValidationError({"industry": _(INDUSTRY_INVALID).format(value=value[:40])})
    return industry


def region_clean(value: str) -> str:
    """A region as stored: one line of at most 64 characters, spaces trimmed; empty for none."""
    region = value.strip()
    if len(region) > 64 or any(ord(c) < 32 or ord(c) == 127 for c in region):
        shown = "".join(c for c in region[:40] if ord(c) >= 32 and ord(c) != 127)
        raise ValidationError({"region": _(REGION_INVALID).format(value=shown)})
    return region


def membership_clean(value: str) -> str:
    membership = value.strip()
    if membership not in Member.Membership.values:
        raise ValidationError({"membership": _(MEMBERSHIP_UNKNOWN).format(value=membership[:40])})
    return membership


@transaction.atomic
def member_create(
    *,
    actor: Actor,
    username: str,
    joined_on: date | None = None,
    verified: bool = False,
    shop_name: str = "",
    industry: str = "",
    region: str = "",
    membership: str = Member.Membership.BASIC,
) -> Member:
    username = username.strip()
    if not username:
        raise ValidationError(_(USERNAME_EMPTY))
    if joined_on is not None and joined_on > timezone.localdate():
        raise ValidationError({"joined_on": _(JOINED_IN_FUTURE).format(joined_on=joined_on)})
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValidationError(_(USER_EXISTS).format(username=username))
    user: User = user_model(username=username)
    user.set_unusable_password()
    user.full_clean()
    user.save()
    member = Member(
        user=user,
        joined_on=joined_on or timezone.localdate(),
        verified=verified,
        shop_name=shop_name.strip(),
        industry=industry_clean(industry),
        region=region_clean(region),
        membership=membership_clean(membership),
    )
    member.full_clean()
    member.save()
    content_changed_announce(
        kind=ContentKind.USER,
        ids=[user.pk],
        action=ChangeAction.CREATED,
        actor=actor,
        data={
            "username": username,
            "member": True,
            "verified": verified,
            "industry": member.industry,
            "region": member.region,
            "membership": member.membership,
        },
    )
    return member


@transaction.atomic
def member_attributes_set(
    *, actor: Actor, member: Member, industry: str, region: str, membership: str
) -> Member:
    """Set what places a member in segments: its industry, region and membership type (shop age follows
    from `joined_on`). The platform's own data about a merchant: only the platform itself (imports) or a
    superuser sets it. Nothing is written when nothing changes."""
    if not (actor.is_system or actor.superuser):
        raise PermissionDenied(_(MEMBER_ATTRIBUTES_FORBIDDEN))
    wanted = {
        "industry": industry_clean(industry),
        "region": region_clean(region),
        "membership": membership_clean(membership),
    }
    stored = Member.objects.select_for_update().get(pk=member.pk)
    for name, value in wanted.items():
        setattr(member, name, value)  # the caller's instance shows what is stored, written or not
    if all(getattr(stored, name) == value for name, value in wanted.items()):
        return stored
    for name, value in wanted.items():
        setattr(stored, name, value)
    stored.full_clean()
    stored.save(update_fields=list(wanted))
    content_changed_announce(
        kind=ContentKind.USER,
        ids=[stored.user_id],
        action=ChangeAction.UPDATED,
        actor=actor,
        data={"member": stored.pk, **wanted},
    )
    return stored


@transaction.atomic
def member_language_set(*, actor: Actor, member: Member, language: str) -> Member:
    """The language the platform writes to a member in (its own choice, on /me/; or the platform's).
    Nothing is written when it is the same."""
    if not (actor.is_system or actor.superuser or actor.user_id == member.user_id):
        raise PermissionDenied(_(MEMBER_LANGUAGE_FORBIDDEN))
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _(LANGUAGE_UNKNOWN).format(language=language[:10])})
    stored = Member.objects.select_for_update().get(pk=member.pk)
    member.language = language
    if stored.language == language:
        return stored
    stored.language = language
    stored.save(update_fields=["language"])
    content_changed_announce(
        kind=ContentKind.USER,
        ids=[stored.user_id],
        action=ChangeAction.UPDATED,
        actor=actor,
        data={"member": stored.pk, "language": language},
    )
    return stored


def _criteria_clean(values: Iterable[str], clean: Callable[[str], str], field: str) -> list[str]:
    """A criterion's values as stored: each cleaned, blanks dropped, without repeats, sorted."""
    if isinstance(values, str):
        values = [values]  # one value given as a string, not its characters
    cleaned: set[str] = set()
    for value in values:
        try:
            one = clean(str(value))
        except ValidationError as error:
            raise ValidationError({field: error.messages}) from None
        if one:
            cleaned.add(one)
    if len(cleaned) > SEGMENT_CRITERIA_MAX:
        message = _(SEGMENT_CRITERIA_TOO_MANY).format(max=SEGMENT_CRITERIA_MAX, count=len(cleaned))
        raise ValidationError({field: message})
    return sorted(cleaned)


def _shop_days_clean(min_shop_days: int | None, max_shop_days: int | None) -> None:
    for field, days in (("min_shop_days", min_shop_days), ("max_shop_days", max_shop_days)):
        if days is not None and days < 0:
            raise ValidationError({field: _(SEGMENT_SHOP_DAYS_NEGATIVE).format(days=days)})
    if min_shop_days is not None and max_shop_days is not None and min_shop_days > max_shop_days:
        message = _(SEGMENT_SHOP_DAYS_ORDER).format(min=min_shop_days, max=max_shop_days)
        raise ValidationError({"min_shop_days": message})


def _segment_fill(
    segment: Segment,
    *,
    name: str,
    description: str,
    industries: Iterable[str],
    regions: Iterable[str],
    memberships: Iterable[str],
    min_shop_days: int | None,
    max_shop_days: int | None,
) -> None:
    name = name.strip()
    if not name:
        raise ValidationError({"name": _(SEGMENT_NAME_EMPTY)})
    if len(name) > 100:
        raise ValidationError({"name": _(SEGMENT_NAME_TOO_LONG).format(length=len(name))})
    control_characters_refuse({"name": name, "description": description}, one_line=["name"])
    _shop_days_clean(min_shop_days, max_shop_days)
    segment.name, segment.description = name, description.strip()
    segment.industries = _criteria_clean(industries, industry_clean, "industries")
    segment.regions = _criteria_clean(regions, region_clean, "regions")
    segment.memberships = _criteria_clean(memberships, membership_clean, "memberships")
    segment.min_shop_days, segment.max_shop_days = min_shop_days, max_shop_days


def _segment_data(segment: Segment) -> dict[str, object]:
    """What a segment's write set, as the audit chain records it."""
    return {
        "slug": segment.slug,
        "name": segment.name,
        "description": segment.description,
        "industries": segment.industries,
        "regions": segment.regions,
        "memberships": segment.memberships,
        "min_shop_days": segment.min_shop_days,
        "max_shop_days": segment.max_shop_days,
    }


@transaction.atomic
def segment_create(
    *,
    actor: Actor,
    slug: str,
    name: str,
    description: str = "",
    industries: Iterable[str] = (),
    regions: Iterable[str] = (),
    memberships: Iterable[str] = (),
    min_shop_days: int | None = None,
    max_shop_days: int | None = None,
) -> Segment:
    """A segment of members, for editors to target changes at. Every criterion left empty admits anyone."""
    role_require(actor, Role.EDITOR)
    slug = slug.strip()
    if not _SEGMENT_SLUG_RE.fullmatch(slug):
        raise ValidationError({"slug": _(SEGMENT_SLUG_INVALID).format(slug=slug[:64])})
    segment = Segment(slug=slug)
    _segment_fill(
        segment,
        name=name,
        description=description,
        industries=industries,
        regions=regions,
        memberships=memberships,
        min_shop_days=min_shop_days,
        max_shop_days=max_shop_days,
    )
    if Segment.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": _(SEGMENT_SLUG_TAKEN).format(slug=slug)})
    segment.full_clean()
    segment.save()
    content_changed_announce(
        kind=ContentKind.SEGMENT,
        ids=[segment.pk],
        action=ChangeAction.CREATED,
        actor=actor,
        data=_segment_data(segment),
    )
    return segment


@transaction.atomic
def segment_update(
    *,
    actor: Actor,
    segment: Segment,
    name: str,
    description: str = "",
    industries: Iterable[str] = (),
    regions: Iterable[str] = (),
    memberships: Iterable[str] = (),
    min_shop_days: int | None = None,
    max_shop_days: int | None = None,
) -> Segment:
    """Change a segment's name and criteria (its slug stays: events and the API name it by that).

    Who is in a segment is judged when it is asked (a notification's fan-out, a reminder, the pending
    list), so a change of criteria applies from then on; the audit chain records it.
    """
    role_require(actor, Role.EDITOR)
    stored = Segment.objects.select_for_update().get(pk=segment.pk)
    before = _segment_data(stored)
    _segment_fill(
        stored,
        name=name,
        description=description,
        industries=industries,
        regions=regions,
        memberships=memberships,
        min_shop_days=min_shop_days,
        max_shop_days=max_shop_days,
    )
    if _segment_data(stored) == before:
        return stored
    stored.full_clean()
    stored.save()
    content_changed_announce(
        kind=ContentKind.SEGMENT,
        ids=[stored.pk],
        action=ChangeAction.UPDATED,
        actor=actor,
        data={**_segment_data(stored), "before": before},
    )
    return stored


def segments_resolve(*, slugs: Iterable[str]) -> list[Segment]:
    """The segments named by `slugs`, by name; an unknown slug is refused, naming it (field `segments`).

    For the services that set a change's segments: they resolve before they write anything.
    """
    if isinstance(slugs, str):
        slugs = [slugs]
    wanted = list(dict.fromkeys(slug.strip() for slug in slugs))
    found = {s.slug: s for s in Segment.objects.filter(slug__in=wanted)} if wanted else {}
    for slug in wanted:
        if slug not in found:
            raise ValidationError({"segments": _(SEGMENT_UNKNOWN).format(slug=slug[:64])})
    return sorted(found.values(), key=lambda s: (s.name, s.pk))


@transaction.atomic
def staff_create(*, actor: Actor, username: str, password: str, roles: Iterable[str]) -> User:
    """A staff user (may sign in to the admin) in the given role groups, its password checked by Django's
    password validators (AUTH_PASSWORD_VALIDATORS) and stored hashed. Only the platform itself or a
    superuser may create one. The change announced carries the roles, never the password or its hash.
    """
    if not (actor.is_system or actor.superuser):
        raise PermissionDenied(_(STAFF_CREATE_FORBIDDEN))
    username = username.strip()
    if not username:
        raise ValidationError(_(USERNAME_EMPTY))
    wanted = roles_clean(roles)
    if not wanted:
        raise ValidationError(_(STAFF_ROLES_EMPTY))
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValidationError(_(USER_EXISTS).format(username=username))
    user: User = user_model(username=username, is_staff=True)
    user.full_clean(exclude=["password"])
    # Validated against the new user, so a password close to the username is refused too.
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.save()
    user.groups.set(Group.objects.filter(name__in=wanted))
    content_changed_announce(
        kind=ContentKind.USER,
        ids=[user.pk],
        action=ChangeAction.CREATED,
        actor=actor,
        data={"username": username, "staff": True, "roles": wanted},
    )
    return user
