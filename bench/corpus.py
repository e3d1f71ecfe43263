"""A corpus of realistic Chinese announcements for the benchmark: 100k by default, 1M with `--size 1000000`.

Rows are written with executemany in large transactions, oldest first (ids grow with time, as in real
use), then the listing counters are rebuilt the way `rulecenter recount_listing` does. Bodies are Markdown
written from a handful of templates; each template is rendered once through the service's own renderer
with placeholders, and the rule name, dates and ids are put in afterwards, so every row has a
`body_html` and an `excerpt` exactly like `services.announcement_render` makes, at a few µs a row.

    python -m bench.corpus --size 100000 --db var/bench/bench.sqlite3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "var" / "bench"
GENERATOR_VERSION = 1
BATCH = 5_000

SUBJECTS = [
    "商家发货行为管理规范", "指定渠道禁限售规则", "售后服务规范", "营销活动管理规则", "商品信息发布规范",
    "评价管理规则", "知识产权保护规则", "违规处理规则", "交易纠纷处理规则", "保证金管理规范",
    "店铺命名规范", "直播营销管理规范", "跨境进口商品管理规则", "价格行为管理规范", "虚假交易处理规则",
    "商家信用积分规则", "退换货服务规范", "商品质量抽检规则", "数据安全与个人信息保护规范", "广告发布规范",
]  # fmt: skip
SCOPES = ["", "平台", "1688", "供应链", "跨境专区", "源头工厂", "品牌站", "产业带"]
SERVICES = [
    "先采后付-提前回款", "诚信通服务", "极速收款服务", "买家保障服务", "融资服务技术服务", "保理服务",
    "物流服务", "跨境支付服务", "电子发票服务", "数字证书服务",
]  # fmt: skip
GUIDE_TOPICS = [
    "不当使用获取信息", "虚假发货", "盗用他人图片", "违规引流", "商品描述不符", "恶意拒绝退款",
    "刷单炒信", "滥用营销工具", "侵犯商标权", "违规收集个人信息",
]  # fmt: skip
COMPLIANCE_TOPICS = [
    "商品中文标识标签",
    "食品经营资质",
    "化妆品备案",
    "儿童用品警示标识",
    "电器3C认证",
    "医疗器械经营",
]
TOPIC_THEMES = [
    ("年前商家反诈重点专题", "提高反诈意识，让诈骗无处遁形"),
    ("618大促合规专题", "活动报名与价格合规要点"),
    ("双11备战专题", "发货时效与售后服务提醒"),
    ("新商入驻专题", "开店前必须知道的十条规则"),
    ("知识产权月专题", "原创保护与投诉处理"),
]
NEWS_TITLES = [
    "规则中心{year}年第{n}季度规则更新汇总", "平台{year}年度治理报告发布", "关于开展{subject}专项治理的通知",
    "{year}年第{n}期商家规则培训课程上线", "规则众议院第{n}期议题征集",
]  # fmt: skip
VOTES = ["支持", "可再评估"]

# Markdown templates; the @@…@@ placeholders survive rendering and are filled per row.
BODIES = {
    "rule_change": (
        "为了规范平台的市场管理秩序，保障商家的规范经营，为买家营造安全安心的网购环境，平台将对"
        "《@@RULE@@》及其相关规则进行更新。\n\n"
        "本次更新于@@NOTICE@@公示，@@EFFECTIVE@@生效。本次更新主要内容：\n\n"
        "1. 调整了部分违规情形的定义和认定标准；\n2. 明确了处罚的梯度与申诉的渠道；\n"
        "3. 补充了特殊类目的管理要求。\n\n"
        "具体内容见：https://rulechannel.example.com/?type=detail&ruleId=@@RULEID@@&cId=3045#/rule/detail"
        "?ruleId=@@RULEID@@\n\n如对本次变更有疑问，可在公示期内通过规则众议院提出意见。"
    ),
    "consultation_result": (
        "各位亲爱的会员：\n\n针对平台《@@RULE@@》变更，我们于@@OPENS@@至@@CLOSES@@进行了意见征集，"
        "共收到有效投票@@VOTES@@票，其中“支持”@@SUPPORT@@票，“可再评估”@@REEVALUATE@@票。"
        "https://rulechannel.example.com/?taskId=@@TASKID@@#/ruleHOR/detail\n\n"
        "本次投票“可再评估”的意见反馈中，主要集中在执行时间和认定标准两方面，针对大家意见征集期间主要"
        "提到的问题，特此说明：\n\n- 执行时间：新规则将于@@EFFECTIVE@@生效，给予商家充足的调整期；\n"
        "- 认定标准：平台将结合具体情形综合判断，不会一刀切。\n\n感谢各位会员的积极参与！"
    ),
    "agreement_change": (
        "尊敬的@@SERVICE@@用户：\n\n为了向您提供更加完善的服务，我们修改了《@@SERVICE@@协议》相关条款，"
        "修改后的协议于@@NOTICE@@公示，自@@EFFECTIVE@@起生效，具体如下："
        "https://rulechannel.example.com/?type=detail&ruleId=@@RULEID@@&cId=3044#/rules?cId=3044\n\n"
        "如您不同意修改后的协议，可在生效前停止使用相关服务并申请退出，退出前按原协议执行。"
    ),
    "guide": (
        "一、您的疑惑\n\n1. @@TOPIC@@的违规行为有哪些？\n2. 平台会怎么处罚，我该如何处理？\n\n"
        "二、@@TOPIC@@如何理解\n\n为了规范平台经营秩序，保障买家合法权益与购物体验的安全性，平台将依据"
        "《@@RULE@@》等法律法规、平台规则及相关协议开展严肃治理。如存在@@TOPIC@@的情形，将采取公示警告、"
        "限制发布商品、扣除信用积分等处理措施。\n\n三、如何避免\n\n请商家在@@EFFECTIVE@@前完成自查自纠。"
    ),
    "compliance": (
        "亲爱的商家：\n\n在追求卓越品质与消费安全的今天，我们深知@@TOPIC@@不仅是法律规范的基本要求，"
        "更是连接生产商与买家信任的桥梁。为了确保每一件商品的真实可靠，保障您的合法权益，请各位商家根据"
        "《中华人民共和国产品质量法》和《@@RULE@@》的要求自检自查，并于@@EFFECTIVE@@前完成整改。\n\n"
        "**自查要点**：名称、规格、生产者名称和地址、生产日期和安全使用期。"
    ),
    "topic": (
        "重点一：《反诈法》对“诈骗”的解读……\n\n重点二：真实诈骗案件解读……\n\n重点三：@@TOPIC@@……\n\n"
        "https://rulechannel.example.com/?type=detail&ruleId=@@RULEID@@&cId=3045#/rule/detail?ruleId=@@RULEID@@"
    ),
    "news": (
        "各位商家：\n\n规则中心@@NOTICE@@发布本期内容，涉及《@@RULE@@》等规则的解读与答疑。"
        "本期共收录规则变更@@VOTES@@项，其中重大变更已提前15日公示，一般变更已提前7日公示，"
        "将于@@EFFECTIVE@@前后陆续生效。\n\n欢迎通过规则众议院参与后续议题的讨论。"
    ),
}
KIND_WEIGHTS = {
    "rule_change": 30, "consultation_result": 20, "agreement_change": 15, "guide": 12, "compliance": 8,
    "topic": 5, "news": 10,
}  # fmt: skip
PLACEHOLDERS = [
    "@@RULE@@", "@@NOTICE@@", "@@EFFECTIVE@@", "@@RULEID@@", "@@OPENS@@", "@@CLOSES@@", "@@VOTES@@",
    "@@SUPPORT@@", "@@REEVALUATE@@", "@@TASKID@@", "@@SERVICE@@", "@@TOPIC@@",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rendered:
    body: str
    body_html: str
    text: str


def _cn_date(value: datetime) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(key, value)
    return template


def _title(kind: str, rng: random.Random, values: dict[str, str], at: datetime) -> str:
    rule = values["@@RULE@@"]
    if kind == "rule_change":
        return rng.choice(["《{r}》和其相关规则的更新公示", "《{r}》的更新公告", "《{r}》变更公示"]).format(
            r=rule
        )
    if kind == "consultation_result":
        return rng.choice(["关于《{r}》调整的意见征集结果反馈", "《{r}》变更的意见征集结果反馈"]).format(
            r=rule
        )
    if kind == "agreement_change":
        return rng.choice(["{s}协议升级公告", "《{s}协议》修改公告", "{s}相关协议变更公告"]).format(
            s=values["@@SERVICE@@"]
        )
    if kind == "guide":
        return f"【避坑指南】{values['@@TOPIC@@']}"
    if kind == "compliance":
        return f"{values['@@TOPIC@@']}合规指引"
    if kind == "topic":
        heading, theme = rng.choice(TOPIC_THEMES)
        return f"【{heading}】{theme}"
    return rng.choice(NEWS_TITLES).format(year=at.year, n=rng.randint(1, 4), subject=rule)


def generate(size: int, *, seed: int = 2, drafts: float = 0.03) -> int:
    """Replace the announcements of the configured database with `size` generated rows; returns published."""
    from django.conf import settings
    from django.db import connection, transaction

    from rulecenter.announcements import services
    from rulecenter.announcements.demo import CATEGORIES, KIND_CATEGORY
    from rulecenter.announcements.models import Announcement, Category, ListingCounter
    from rulecenter.common.text import excerpt, html_to_text, markdown_to_html
    from rulecenter.common.triggers import refusing_triggers

    rng = random.Random(seed)
    width = settings.RULECENTER_EXCERPT_WIDTH
    # Render each template once; the placeholders are plain text, so filling them later is exact.
    rendered = {}
    for kind, body in BODIES.items():
        body_html = markdown_to_html(body)
        rendered[kind] = Rendered(body=body, body_html=body_html, text=html_to_text(body_html))

    with transaction.atomic():
        # A corpus database is the benchmark's own: published rows are refused deletion by triggers (nothing
        # published is ever deleted), so they are lifted for the reset and put back as the migrations made them.
        triggers = refusing_triggers(connection)
        with connection.cursor() as cursor:
            for drop, _create in triggers:
                cursor.execute(drop)
        Announcement.objects.all().delete()
        ListingCounter.objects.all().delete()
        with connection.cursor() as cursor:
            for _drop, create in triggers:
                cursor.execute(create)
        categories = {}
        for slug, name, position in CATEGORIES:
            categories[slug], _ = Category.objects.get_or_create(
                slug=slug, defaults={"name": name, "position": position}
            )

    table = Announcement._meta.db_table
    columns = [
        "title", "body", "summary", "kind", "category_id", "source_url", "status", "published_at",
        "created_at", "updated_at", "body_html", "excerpt", "review_comment", "statutory", "withdrawn_reason",
    ]  # fmt: skip
    sql = (
        f"INSERT INTO {connection.ops.quote_name(table)} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    adapt = connection.ops.adapt_datetimefield_value
    kinds = list(KIND_WEIGHTS)
    weights = list(KIND_WEIGHTS.values())
    rules = [f"{scope}{subject}" for scope in SCOPES for subject in SUBJECTS]

    # Newest about an hour ago, going back ~half an hour per row on average; some share a minute.
    newest = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    stamps: list[datetime] = []
    at = newest
    for _ in range(size):
        stamps.append(at)
        if rng.random() > 0.05:
            at -= timedelta(minutes=rng.randint(1, 60))
    stamps.reverse()

    published = 0
    batch: list[tuple[object, ...]] = []
    started = time.perf_counter()
    for index, at in enumerate(stamps):
        kind = rng.choices(kinds, weights)[0]
        notice = at + timedelta(hours=8)
        effective = notice + timedelta(days=rng.choice([7, 7, 7, 15]))
        votes = rng.randint(20, 3000)
        support = rng.randint(0, votes)
        values = {
            "@@RULE@@": rng.choice(rules),
            "@@NOTICE@@": _cn_date(notice),
            "@@EFFECTIVE@@": _cn_date(effective),
            "@@RULEID@@": str(20000000 + rng.randint(0, 99999)),
            "@@OPENS@@": _cn_date(notice - timedelta(days=20)),
            "@@CLOSES@@": _cn_date(notice - timedelta(days=13)),
            "@@VOTES@@": str(votes),
            "@@SUPPORT@@": str(support),
            "@@REEVALUATE@@": str(votes - support),
            "@@TASKID@@": str(1000 + index),
            "@@SERVICE@@": rng.choice(SERVICES),
            "@@TOPIC@@": rng.choice(COMPLIANCE_TOPICS if kind == "compliance" else GUIDE_TOPICS),
        }
        template = rendered[kind]
        summary = ""
        if rng.random() < 0.1:
            summary = f"{_fill('《@@RULE@@》将于@@EFFECTIVE@@生效，请商家提前做好准备。', values)}"
        # excerpt() cuts within the first `width` characters (each takes ≥ 1 column) and needs a few more
        # to recognise a URL starting there, so this prefix gives the same result without measuring it all.
        excerpt_text = excerpt((summary or _fill(template.text, values))[: width + 16], width)
        is_draft = rng.random() < drafts
        status = "draft" if is_draft else "published"
        published += not is_draft
        batch.append(
            (
                _title(kind, rng, values, at),
                _fill(template.body, values),
                summary,
                kind,
                categories[KIND_CATEGORY[kind]].pk,
                f"https://rulechannel.example.com/?ruleId={values['@@RULEID@@']}"
                if rng.random() < 0.5
                else "",
                status,
                None if is_draft else adapt(at),
                adapt(at),
                adapt(at),
                _fill(template.body_html, values),
                excerpt_text,
                "",
                False,
                "",
            )
        )
        if len(batch) >= BATCH:
            _write(sql, batch)
            batch = []
            if (index + 1) % 100_000 == 0:
                rate = (index + 1) / (time.perf_counter() - started)
                print(f"  corpus: {index + 1:,} rows ({rate:,.0f}/s)", file=sys.stderr)
    if batch:
        _write(sql, batch)
    services.listing_counters_rebuild()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA optimize")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return published


def _write(sql: str, batch: list[tuple[object, ...]]) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, batch)


def ensure(db: Path, size: int, *, force: bool = False) -> dict[str, object]:
    """Build the corpus in `db` unless a matching one is there; returns its facts. Django must be set up
    with DATABASE_URL pointing at `db`."""
    from django.core.management import call_command

    meta_path = db.with_suffix(".json")
    wanted = {"size": size, "generator": GENERATOR_VERSION}
    if not force and db.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {key: meta.get(key) for key in wanted} == wanted:
            # The code may have gained migrations since the corpus was built; the rows stay.
            call_command("migrate", verbosity=0, interactive=False)
            return meta
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    meta_path.unlink(missing_ok=True)
    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    published = generate(size)
    seconds = time.perf_counter() - started
    meta = {
        **wanted,
        "published": published,
        "seconds": round(seconds, 1),
        "built_at": datetime.now(UTC).isoformat(),
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    return meta


def setup_django(db: Path, settings_module: str = "bench.settings") -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="SQLite file (default var/bench/bench-<size>.sqlite3)")
    parser.add_argument("--force", action="store_true", help="rebuild even if a matching corpus exists")
    args = parser.parse_args()
    db = (args.db or DEFAULT_DIR / f"bench-{args.size}.sqlite3").resolve()
    setup_django(db)
    meta = ensure(db, args.size, force=args.force)
    print(f"{db}: {json.dumps(meta)}")


if __name__ == "__main__":
    main()
