"""The demo's case: the demo member has appealed a penalty under 《1688商家发货行为管理规范》 as it stood
when its first version was in force, so `make run` shows /me/cases/, the admin's queue and the rule's
statistics with something in them."""

from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction

from rulecenter.accounts.roles import actor_for
from rulecenter.consultations.demo import VOTER
from rulecenter.rules import selectors as rule_selectors
from rulecenter.rules.clauses import parse_clauses

from . import services
from .models import Case

DEMO_RULE = "shipping-conduct"
DEMO_TEXT = (
    "平台以“延迟发货”对我店订单扣分并赔付，但订单付款时适用的规则要求 48 小时内发货，"
    "我们在 30 小时内已交付物流揽收（附物流记录）。请按当时有效的规则版本复核并撤销处罚。"
)


@transaction.atomic
def load_demo_cases() -> int:
    """The demo member's case, unless they have one: how many made (0 or 1)."""
    user = User.objects.filter(username=VOTER).first()
    rule = rule_selectors.public_rule_by_slug(DEMO_RULE)
    if user is None or rule is None or Case.objects.filter(member=user).exists():
        return 0
    first = (
        rule_selectors.public_versions()
        .filter(rule=rule, effective_at__isnull=False)
        .order_by("effective_at")
        .first()
    )
    if first is None or first.effective_at is None:
        return 0
    clauses = [clause.anchor for clause in parse_clauses(first.text) if clause.anchor.startswith("article")]
    services.case_file(
        actor=actor_for(user),
        member=user,
        subject="application",
        rule_slug=DEMO_RULE,
        at=first.effective_at + timedelta(days=3),
        clause=clauses[1] if len(clauses) > 1 else "",
        penalty_reference="CF-DEMO-0001",
        automated=True,
        text=DEMO_TEXT,
    )
    return 1
