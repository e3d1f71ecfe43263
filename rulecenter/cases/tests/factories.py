"""A rule with two versions in force one after the other, members, reviewers and files for cases."""

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from rulecenter.accounts.models import Member, Role
from rulecenter.accounts.roles import actor_for
from rulecenter.accounts.tests.factories import user_create
from rulecenter.cases import services
from rulecenter.cases.models import Case
from rulecenter.common.actors import SYSTEM
from rulecenter.consultations.tests.factories import member_create
from rulecenter.rules import services as rule_services
from rulecenter.rules.models import Rule
from rulecenter.rules.tests.factories import NEW_TEXT, OLD_TEXT, rule_create, shanghai

V1_EFFECTIVE = shanghai(2024, 1, 10)
V2_EFFECTIVE = shanghai(2025, 6, 1)
DURING_V1 = shanghai(2025, 3, 15, 14, 30)  # a penalty under v1 (48 hours to ship)
DURING_V2 = shanghai(2025, 9, 1, 9)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64


def shipping_rule() -> Rule:
    """《发货规范》: v1 in force from 2024-01-10 (48 hours), v2 from 2025-06-01 (24 hours)."""
    rule = rule_create(slug="shipping", title="发货规范")
    for text, effective_at in ((OLD_TEXT, V1_EFFECTIVE), (NEW_TEXT, V2_EFFECTIVE)):
        version = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text=text)
        rule_services.rule_version_schedule(
            actor=SYSTEM, version=version, notice_at=effective_at - timedelta(days=20), effective_at=effective_at,
            record_past=True,
        )  # fmt: skip
    return rule


def member(username: str = "shop", email: str = "") -> Member:
    found = member_create(username)
    if email:
        found.user.email = email
        found.user.save()
    return found


def reviewer(username: str = "rita") -> User:
    return user_create(username, roles=(Role.REVIEWER,), is_staff=True)


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def case_file(who: Member, **fields: Any) -> Case:
    values: dict[str, Any] = {
        "subject": "application", "rule_slug": "shipping", "at": DURING_V1, "clause": "article-2",
        "text": "我在 2025-03-15 被判延迟发货，但当时的规则是48小时内发货，我在30小时内发出。",
    }  # fmt: skip
    values.update(fields)
    return services.case_file(actor=actor_for(who.user), member=who.user, **values)


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return shanghai(year, month, day, hour)
