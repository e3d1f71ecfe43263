"""Demo rules. The texts are illustrative sample text written for the demo, not the platform's real rules."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from rulecenter.common.actors import SYSTEM

from . import services
from .models import Rule, RuleCategory

SHANGHAI = ZoneInfo("Asia/Shanghai")
SAMPLE_NOTE = "> 示例文本：本规则全文为演示而撰写，并非平台真实规则。\n\n"

CATEGORIES = [
    ("market", "市场管理", None, 1),
    ("prohibited", "禁限售", "market", 1),
    ("trade", "交易规则", None, 2),
    ("agreements", "协议", None, 3),
    ("marketing", "营销", None, 4),
    ("industry", "行业标准", None, 5),
]

PROHIBITED_V1 = """## 第一章 总则

第一条 为规范1688指定渠道的市场管理秩序，保障买卖双方合法权益，根据国家法律法规及平台协议，制定本规则。

第二条 本规则适用于在1688指定渠道发布商品信息的全体会员。

## 第二章 禁售商品

第三条 会员不得发布下列商品信息：
1. 法律法规禁止生产、销售的商品；
2. 假冒伪劣商品；
3. 其他国家或地区禁止销售的商品，详见《禁售商品规则-其他国家或地区禁售商品》。

第四条 发布禁售商品信息的，平台将删除该信息，并视情节扣除2分。

## 第三章 附则

第五条 本规则自生效之日起施行。
"""

PROHIBITED_V2 = """## 第一章 总则

第一条 为规范1688指定渠道的市场管理秩序，保障卖家规范经营，为买家营造安全安心的网购环境，根据国家法律法规及平台协议，制定本规则。

第二条 本规则适用于在1688指定渠道发布商品信息的全体会员。

## 第二章 禁售商品

第三条 会员不得发布下列商品信息：
1. 法律法规禁止生产、销售的商品；
2. 假冒伪劣商品；
3. 其他国家或地区禁止销售的商品，详见《禁售商品规则-其他国家或地区禁售商品》；
4. 未取得必要资质的医疗器械及药品。

第四条 发布禁售商品信息的，平台将删除该信息，并视情节扣除4分；情节严重的，限制发布商品7天。

## 第三章 附则

第五条 本规则自生效之日起施行。
"""

ABROAD_V1 = """第一条 为遵守商品销往地的法律法规，制定本规则。

第二条 会员不得向禁止进口相关商品的国家或地区销售下列商品：
1. 电子烟及其配件；
2. 含有濒危物种成分的商品。

第三条 违反本规则的，平台将删除相关商品信息。
"""

ABROAD_V2 = """第一条 为遵守商品销往地的法律法规，制定本规则。

第二条 会员不得向禁止进口相关商品的国家或地区销售下列商品：
1. 电子烟及其配件；
2. 含有濒危物种成分的商品；
3. 未经认证的无线电发射设备。

第三条 违反本规则的，平台将删除相关商品信息，并视情节扣除2分。
"""

SHIPPING_V1 = """第一条 为保障买家体验，规范商家发货行为，制定本规范。

第二条 商家应在买家付款后48小时内发货，另有约定的除外。

第三条 商家延迟发货的，应向买家赔付订单金额的5%，最高不超过50元。

第四条 商家虚假发货的，平台将扣除6分。
"""

SHIPPING_V2 = """第一条 为持续保障买家体验，为商家创造更好的营商环境，制定本规范。

第二条 商家应在买家付款后48小时内发货，另有约定的除外。

第三条 商家延迟发货的，应向买家赔付订单金额的10%，最高不超过100元。

第四条 商家虚假发货的，平台将扣除6分，并下架相关商品。

第五条 欺诈发货是指商家发出的货物与订单约定明显不符，且无正当理由的情形。
"""

SHIPPING_V3 = """第一条 为持续保障买家体验，为商家创造更好的营商环境，制定本规范。

第二条 商家应在买家付款后24小时内发货，另有约定的除外。

第三条 商家延迟发货的，应向买家赔付订单金额的10%，最高不超过100元。

第四条 商家虚假发货的，平台将扣除6分，并下架相关商品。

第五条 欺诈发货是指商家发出的货物与订单约定明显不符，且无正当理由的情形。
"""

FACTORING_V1 = """一、服务内容
（一）提前回款服务由保理服务商向卖家提供，卖家在买家确认收货前即可获得货款。
（二）服务费率以页面展示为准。

二、双方责任
（一）卖家应保证交易真实。
（二）发生退款的，卖家应在3日内归还已提前回款的款项。
"""

FACTORING_V2 = """一、服务内容
（一）提前回款服务由保理服务商向卖家提供，卖家在买家确认收货前即可获得货款。
（二）服务费率以页面展示为准，费率调整将提前15日公示。

二、双方责任
（一）卖家应保证交易真实。
（二）发生退款的，卖家应在5日内归还已提前回款的款项。
"""

TRUSTPASS_V1 = """第一条 诚信通服务是平台向会员提供的付费会员服务。

第二条 服务期内，会员享有店铺装修、优先展示等权益。

第三条 会员违反平台规则被关闭店铺的，剩余服务费不予退还。
"""

TRUSTPASS_V2 = """第一条 诚信通服务是平台向会员提供的付费会员服务。

第二条 服务期内，会员享有店铺装修、优先展示、经营数据分析等权益。

第三条 会员违反平台规则被关闭店铺的，按剩余服务天数折算退还服务费，但存在欺诈行为的除外。
"""


def _at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def _version(
    rule: Rule, text: str, summary: str, notice_at: datetime, effective_at: datetime, *, major: bool = False
) -> None:
    version = services.rule_version_create(
        actor=SYSTEM, rule=rule, text=SAMPLE_NOTE + text, summary=summary, major=major
    )
    services.rule_version_schedule(
        actor=SYSTEM, version=version, notice_at=notice_at, effective_at=effective_at, record_past=True
    )


@transaction.atomic
def load_demo_rules() -> int:
    """Create the demo rule library unless it exists; returns how many rules were created."""
    if Rule.objects.exists():
        return 0
    categories: dict[str, RuleCategory] = {}
    for slug, name, parent, position in CATEGORIES:
        categories[slug] = services.rule_category_create(
            actor=SYSTEM,
            slug=slug,
            name=name,
            parent=categories[parent] if parent else None,
            position=position,
        )

    prohibited = services.rule_create(
        actor=SYSTEM,
        slug="prohibited-goods",
        title="1688指定渠道禁限售规则",
        category=categories["prohibited"],
    )
    abroad = services.rule_create(
        actor=SYSTEM,
        slug="prohibited-goods-abroad",
        title="禁售商品规则-其他国家或地区禁售商品",
        category=categories["prohibited"],
    )
    shipping = services.rule_create(
        actor=SYSTEM, slug="shipping-conduct", title="1688商家发货行为管理规范", category=categories["trade"]
    )
    factoring = services.rule_create(
        actor=SYSTEM,
        slug="factoring-agreement",
        title="保理服务协议",
        category=categories["agreements"],
        kind=Rule.Kind.AGREEMENT,
    )
    trustpass = services.rule_create(
        actor=SYSTEM,
        slug="trustpass-agreement",
        title="诚信通服务协议",
        category=categories["agreements"],
        kind=Rule.Kind.AGREEMENT,
    )

    _version(prohibited, PROHIBITED_V1, "首次发布。", _at(2024, 5, 20, 10), _at(2024, 6, 1))
    _version(abroad, ABROAD_V1, "首次发布。", _at(2024, 5, 20, 10), _at(2024, 6, 1))
    bundle_versions = [
        services.rule_version_create(
            actor=SYSTEM,
            rule=prohibited,
            text=SAMPLE_NOTE + PROHIBITED_V2,
            summary="新增医疗器械及药品的禁售情形，提高扣分标准。",
        ),
        services.rule_version_create(
            actor=SYSTEM, rule=abroad, text=SAMPLE_NOTE + ABROAD_V2, summary="新增无线电发射设备，明确扣分。"
        ),
    ]
    services.change_bundle_schedule(
        actor=SYSTEM,
        title="《1688指定渠道禁限售规则》和其相关规则的更新",
        versions=bundle_versions,
        notice_at=_at(2025, 2, 10, 10),
        effective_at=_at(2025, 2, 18),
        record_past=True,
    )
    _version(shipping, SHIPPING_V1, "首次发布。", _at(2024, 2, 20, 10), _at(2024, 3, 1))
    _version(
        shipping,
        SHIPPING_V2,
        "调整延迟发货赔付标准，新增欺诈发货定义。",
        _at(2025, 2, 10, 10),
        _at(2025, 2, 18),
    )
    # An editor's English for the shipping rule's versions: English readers see it marked as a translation.
    for version, summary in zip(
        shipping.versions.order_by("number"),
        ("First version.", "Late-shipping compensation adjusted; fraudulent shipping defined."),
        strict=True,
    ):
        services.rule_version_translate(
            actor=SYSTEM,
            version=version,
            language="en",
            title="1688 Merchant Shipping Conduct Rules",
            summary=summary,
        )
    _version(factoring, FACTORING_V1, "首次发布。", _at(2024, 9, 1, 10), _at(2024, 9, 10))
    _version(
        factoring,
        FACTORING_V2,
        "延长退款归还期限，明确费率调整公示期。",
        _at(2024, 12, 20, 10),
        _at(2024, 12, 28),
    )

    # One change in its notice period at load time, to show the banner, the countdown and the exit request.
    now = timezone.now().astimezone(SHANGHAI).replace(minute=0, second=0, microsecond=0)
    _version(trustpass, TRUSTPASS_V1, "首次发布。", _at(2024, 1, 1, 10), _at(2024, 1, 10))
    upcoming = services.rule_version_create(
        actor=SYSTEM,
        rule=trustpass,
        text=SAMPLE_NOTE + TRUSTPASS_V2,
        summary="新增经营数据分析权益，关店按剩余天数折算退费。",
        major=True,
        acknowledgment_required=True,
    )
    services.change_bundle_schedule(
        actor=SYSTEM,
        title="诚信通服务协议变更",
        versions=[upcoming],
        notice_at=now - timedelta(days=2),
        effective_at=now + timedelta(days=14),
        record_past=True,
    )
    # One change still to be noticed, RULECENTER_DEMO_NOTICE_SECONDS after loading: `make run`'s worker
    # notices it on time and the subscribers hear of it (docs/notifications.md).
    notice_at = timezone.now().replace(microsecond=0) + timedelta(
        seconds=settings.RULECENTER_DEMO_NOTICE_SECONDS
    )
    coming = services.rule_version_create(
        actor=SYSTEM, rule=shipping, text=SAMPLE_NOTE + SHIPPING_V3, summary="发货时限由48小时缩短为24小时。"
    )
    services.rule_version_schedule(
        actor=SYSTEM, version=coming, notice_at=notice_at, effective_at=notice_at + timedelta(days=8)
    )
    return 5
