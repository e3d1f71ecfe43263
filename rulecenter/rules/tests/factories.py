from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rulecenter.common.actors import SYSTEM
from rulecenter.rules import services
from rulecenter.rules.models import Rule, RuleCategory, RuleVersion

SHANGHAI = ZoneInfo("Asia/Shanghai")
OLD_TEXT = "第一条 为规范发货行为，制定本规范。\n\n第二条 商家应在48小时内发货。\n\n第三条 延迟发货的，赔付金额为订单金额的10%。"
NEW_TEXT = "第一条 为规范发货行为，制定本规范。\n\n第二条 商家应在24小时内发货。\n\n第三条 延迟发货的，赔付金额为订单金额的30%。\n\n第四条 本规范自生效之日起施行。"


def shanghai(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def category_create(slug: str = "market", name: str = "市场管理") -> RuleCategory:
    found = RuleCategory.objects.filter(slug=slug).first()
    return found or services.rule_category_create(actor=SYSTEM, slug=slug, name=name)


def rule_create(slug: str = "shipping", title: str = "1688商家发货行为管理规范", **fields: Any) -> Rule:
    return services.rule_create(
        actor=SYSTEM,
        slug=slug,
        title=title,
        category=fields.pop("category", None) or category_create(),
        **fields,
    )


def scheduled_version(
    rule: Rule,
    *,
    text: str = OLD_TEXT,
    notice_at: datetime,
    days: int = 8,
    major: bool = False,
    summary: str = "",
) -> RuleVersion:
    version = services.rule_version_create(actor=SYSTEM, rule=rule, text=text, major=major, summary=summary)
    return services.rule_version_schedule(
        actor=SYSTEM, version=version, notice_at=notice_at, effective_at=notice_at + timedelta(days=days)
    )
