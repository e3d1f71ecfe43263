from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from rulecenter.accounts import services as account_services
from rulecenter.accounts.models import ApiToken, Member
from rulecenter.common.actors import SYSTEM
from rulecenter.consultations import services
from rulecenter.consultations.models import Consultation
from rulecenter.rules import services as rule_services
from rulecenter.rules.models import RuleVersion
from rulecenter.rules.tests.factories import NEW_TEXT, OLD_TEXT, rule_create, shanghai

OPENS = shanghai(2025, 1, 15, 10)
CLOSES = shanghai(2025, 1, 22, 18)
DURING = shanghai(2025, 1, 18, 12)
AFTER = shanghai(2025, 1, 23, 9)


def member_create(
    username: str = "merchant", *, verified: bool = True, joined_on: date | None = None
) -> Member:
    """A verified member who joined long before the test windows (eligible to vote)."""
    return account_services.member_create(
        actor=SYSTEM, username=username, verified=verified, joined_on=joined_on or date(2024, 1, 1)
    )


def members_with_tokens(count: int, *, prefix: str = "voter") -> list[tuple[Member, str]]:
    """`count` eligible members with an API token each, written in a few bulk inserts."""
    users = User.objects.bulk_create(User(username=f"{prefix}{i:04d}") for i in range(count))
    members = Member.objects.bulk_create(
        Member(user=user, joined_on=date(2024, 1, 1), verified=True) for user in users
    )
    tokens = [f"{account_services.TOKEN_PREFIX}{prefix}-token-{i:04d}-{'x' * 20}" for i in range(count)]
    ApiToken.objects.bulk_create(
        ApiToken(user=user, prefix=token[:10], key_hash=account_services.token_hash(token))
        for user, token in zip(users, tokens, strict=True)
    )
    return list(zip(members, tokens, strict=True))


def draft_version(slug: str = "shipping", title: str = "1688商家发货行为管理规范") -> RuleVersion:
    """A rule with a version in force since 2024 and a draft of its next version."""
    rule = rule_create(slug=slug, title=title)
    first = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT)
    rule_services.rule_version_schedule(
        actor=SYSTEM,
        version=first,
        notice_at=shanghai(2024, 1, 1, 10),
        effective_at=shanghai(2024, 1, 10),
        record_past=True,
    )
    return rule_services.rule_version_create(
        actor=SYSTEM, rule=rule, text=NEW_TEXT, summary="发货时限缩短为24小时"
    )


def consultation_create(
    *,
    versions: Sequence[RuleVersion] | None = None,
    opens_at: datetime = OPENS,
    closes_at: datetime = CLOSES,
    **fields: Any,
) -> Consultation:
    """A consultation on a draft, created before it opens (the clock is set back if need be)."""
    chosen = list(versions) if versions is not None else [draft_version()]
    now = timezone.now()
    return services.consultation_create(
        actor=fields.pop("actor", SYSTEM),
        title=fields.pop("title", "《1688商家发货行为管理规范》变更意见征集"),
        opens_at=opens_at,
        closes_at=closes_at,
        versions=chosen,
        record_past=opens_at < now - timedelta(minutes=1),
        **fields,
    )
