"""The extractor on the forms issue 6 lists, one behaviour per test; the corpus tests check whole texts."""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rulecenter.ingest.extract import FIELDS, Facts, Kind, Link, extract, find_links, is_rule_name


def dates(facts: Facts) -> tuple[date | None, date | None, date | None, date | None]:
    return facts.notice_date, facts.effective_date, facts.comment_start, facts.comment_end


D = date


@pytest.mark.parametrize(
    ("text", "notice", "effective"),
    [
        ("本次更新于2025年2月10日公示,2025年2月18日生效。", D(2025, 2, 10), D(2025, 2, 18)),
        (
            "此次规则变更于2025年3月3日进行公示通知，将于2025年3月11日正式生效。",
            D(2025, 3, 3),
            D(2025, 3, 11),
        ),
        ("于2024年07月08日公示,2024年07月16日逐步生效。", D(2024, 7, 8), D(2024, 7, 16)),
        ("于2025年5月22日公示，新规则将于2025年6月1日起逐步灰度生效。", D(2025, 5, 22), D(2025, 6, 1)),
        ("公示日期：2025-07-10；生效日期：2025-07-18。", D(2025, 7, 10), D(2025, 7, 18)),
        ("公示时间：2025/2/10\n生效时间：2025/2/18", D(2025, 2, 10), D(2025, 2, 18)),
        ("本次更新于 2025 年 3 月 1 日公示，2025 年 3 月 9 日生效。", D(2025, 3, 1), D(2025, 3, 9)),
        ("于2025.8.22公示，2025.9.1生效。", D(2025, 8, 22), D(2025, 9, 1)),
        ("于2025年2月20日公示，将于2025年3月1日00:00:00起生效。", D(2025, 2, 20), D(2025, 3, 1)),
        ("于2025年8月22日公示，将于2025年9月1日（含）起正式实施。", D(2025, 8, 22), D(2025, 9, 1)),
        ("本规范自2025年1月1日起施行。", None, D(2025, 1, 1)),
        ("本办法于2025年5月10日发布，自2025年6月1日起实施。", D(2025, 5, 10), D(2025, 6, 1)),
    ],
)
def test_notice_and_effective_wordings(text: str, notice: date | None, effective: date | None) -> None:
    facts = extract(text)
    assert (facts.notice_date, facts.effective_date) == (notice, effective)


def test_full_width_digits_read_as_digits() -> None:
    facts = extract("本次更新于２０２５年３月１０日公示，２０２５年３月１８日生效。")
    assert (facts.notice_date, facts.effective_date) == (D(2025, 3, 10), D(2025, 3, 18))


def test_chinese_numeral_dates() -> None:
    facts = extract("本次修订于二〇二五年二月十日公示，二〇二五年二月十八日起正式生效。")
    assert (facts.notice_date, facts.effective_date) == (D(2025, 2, 10), D(2025, 2, 18))
    assert extract("自三月三十一日起施行。\n\n二零二五年三月一日").effective_date == D(2025, 3, 31)


def test_traditional_characters() -> None:
    facts = extract("本次規則變更於2025年2月10日公示，2025年2月18日起正式實施。")
    assert (facts.notice_date, facts.effective_date) == (D(2025, 2, 10), D(2025, 2, 18))
    window = extract("意見徵集時間：2025年3月1日至3月7日。")
    assert (window.comment_start, window.comment_end) == (D(2025, 3, 1), D(2025, 3, 7))


@pytest.mark.parametrize(
    "text",
    [
        "我们于2025年1月16日至2025年1月23日进行了意见征集。",
        "我们于2025年1月16日至23日进行了意见征集。",
        "意见征集时间：2025/01/16~2025/01/23。",
        "征求意见时间为2025年1月16日到1月23日。",
        "投票时间2025年1月16日10:00-2025年1月23日18:00。",
        "征求意见时间自2025年1月16日起至2025年1月23日止。",
        "2025.01.16-2025.01.23期间，我们就该规则公开征求了意见。",
    ],
)
def test_consultation_windows_with_every_range_form(text: str) -> None:
    assert dates(extract(text)) == (None, None, D(2025, 1, 16), D(2025, 1, 23))


def test_a_deadline_alone_closes_the_window() -> None:
    facts = extract("现公开征求意见，请于2025年3月20日前通过商家后台提交您的意见。")
    assert (facts.comment_start, facts.comment_end) == (None, D(2025, 3, 20))
    assert extract("意见反馈截止时间：2025年6月30日。").comment_end == D(2025, 6, 30)


def test_from_today_takes_the_dateline() -> None:
    facts = extract("即日起至2025年2月28日，欢迎参与投票。\n\n1688规则中心\n2025年2月20日")
    assert (facts.comment_start, facts.comment_end) == (D(2025, 2, 20), D(2025, 2, 28))


@pytest.mark.parametrize(
    ("text", "effective"),
    [
        ("本次调整自即日起生效。\n\n快手电商\n2025年4月1日", D(2025, 4, 1)),
        ("发布时间：2025-05-06 14:30\n本次修订即时生效。", D(2025, 5, 6)),
        ("本次调整即时生效。", None),  # nothing in the text says which day that is
        ("本次变更于2025年3月1日公示，自公示之日起满7日后生效。", D(2025, 3, 8)),
        ("本次变更于2025年3月1日公示，自公示之日起生效。", D(2025, 3, 1)),
    ],
)
def test_relative_effective_dates(text: str, effective: date | None) -> None:
    assert extract(text).effective_date == effective


def test_a_yearless_date_takes_its_siblings_year() -> None:
    facts = extract("本次更新于2025年2月10日公示，2月18日生效。")
    assert facts.effective_date == D(2025, 2, 18)


def test_a_yearless_date_crosses_the_new_year_after_december() -> None:
    facts = extract("本次更新于2024年12月25日公示，1月3日生效。")
    assert (facts.notice_date, facts.effective_date) == (D(2024, 12, 25), D(2025, 1, 3))


def test_a_dateline_fixes_the_year() -> None:
    facts = extract("调整后的条款将于3月1日起正式实施。\n\n淘宝网\n2025年2月20日")
    assert facts.effective_date == D(2025, 3, 1)
    assert facts.notice_date is None  # the signature's date is not a notice


def test_a_yearless_date_stays_unknown_when_nothing_fixes_the_year() -> None:
    facts = extract("本次调整于2月20日公示，3月1日生效。")
    assert dates(facts) == (None, None, None, None)


@pytest.mark.parametrize(
    "text",
    [
        "如有异议，可于2025年3月1日至2025年3月7日期间提交申诉。",
        "请商家于2025年5月1日至5月15日完成店铺商品的自查自纠。",
        "活动报名时间：2025年5月20日-5月25日。",
        "快递公司将于2025年1月25日至2月5日期间暂停揽收。",
        "过渡期至2025年7月31日，过渡期内不做处罚。",
        "支持7天无理由退货，买家签收后15日内可申请退款。",
        "2025-03-05 10:00 来源：京东商家规则中心",
        "平台将依据规则对违规行为采取公示警告等措施。",
        "新规生效后，已入驻商家需于2025年6月1日至6月30日期间补充授权材料。",
    ],
)
def test_distractor_dates_fill_no_field(text: str) -> None:
    assert dates(extract(text)) == (None, None, None, None)


def test_a_distractor_beside_real_dates_leaves_them_alone() -> None:
    facts = extract(
        "本次变更于2025年2月24日公示，2025年3月4日生效。"
        "对于2025年2月1日至2025年2月20日期间被处理的订单，可于2025年3月1日至2025年3月7日期间提交申诉。"
    )
    assert dates(facts) == (D(2025, 2, 24), D(2025, 3, 4), None, None)


def test_impossible_dates_are_ignored() -> None:
    assert extract("本次更新于2025年2月30日公示，2025年13月1日生效。").notice_date is None


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("《1688指定渠道禁限售规则》和其相关规则的更新公示", Kind.RULE_CHANGE_NOTICE),
        ("关于《1688指定渠道禁限售规则》调整的意见征集结果反馈", Kind.CONSULTATION_RESULT),
        ("关于《天猫商品发布规范》变更的众议结果公告", Kind.CONSULTATION_RESULT),
        ("《1688买家保障服务规则》变更意见征集", Kind.CONSULTATION),
        ("关于《淘宝网评价规范》修订的公开征求意见公告", Kind.CONSULTATION),
        ("《融资服务技术服务协议》修改公告", Kind.AGREEMENT_CHANGE),
        ("1688先采后付-提前回款协议升级公告", Kind.AGREEMENT_CHANGE),
        ("《闲鱼隐私政策》更新公告", Kind.AGREEMENT_CHANGE),
        ("【避坑指南】不当使用获取信息", Kind.GUIDE),
        ("商品中文标识标签合规指引", Kind.GUIDE),
        ("违禁信息发布行为处理规则—虚拟类", Kind.GUIDE),
        ("【年前商家反诈重点专题】提高反诈意识 ,让诈骗无处遁形", Kind.OTHER),
        ("2025年春节物流停运通知", Kind.OTHER),
    ],
)
def test_kind_from_the_title(title: str, kind: Kind) -> None:
    assert extract("", title=title).kind is kind


def test_kind_from_the_facts_when_the_title_says_nothing() -> None:
    assert (
        extract("拼多多规则中心\n本次修订于2025年5月6日公示，2025年5月14日生效。").kind
        is Kind.RULE_CHANGE_NOTICE
    )


@pytest.mark.parametrize(
    ("name", "is_rule"),
    [
        ("1688指定渠道禁限售规则", True),
        ("禁售商品规则-其他国家或地区禁售商品", True),
        ("保理服务协议", True),
        ("京东开放平台商家积分管理规则", True),
        ("天猫保证金管理办法", True),  # 办法 ends in 法 but is a platform's measures
        ("淘宝网七天无理由退货规范", True),
        ("蝦皮購物賣家違規計分規則", True),
        ("个人信息保护法", False),  # laws are cited, not changed, by a platform
        ("中华人民共和国电子商务法", False),
        ("反诈法", False),
        ("网络交易监督管理办法", False),  # a state regulation
        ("食品安全国家标准 预包装食品标签通则", False),
        ("关于调整店铺保证金标准的公告", False),  # a notice's title
        ("中国人民银行 工业和信息化部 中国银行业监督管理委员会关于防范比特币风险的通知", False),
    ],
)
def test_which_names_are_rules(name: str, is_rule: bool) -> None:
    assert is_rule_name(name) is is_rule


def test_rule_names_in_order_once_without_draft_markers() -> None:
    facts = extract(
        "依据《中华人民共和国电子商务法》和《淘宝网评价规范》，平台起草了《淘宝网评价规范（征求意见稿）》"
        "和《淘宝网评价实施细则》，详见《关于修订评价规则的公告》。"
    )
    assert facts.rule_names == ("淘宝网评价规范", "淘宝网评价实施细则")


def test_rule_names_from_the_title_count_too() -> None:
    facts = extract(
        "平台就发货规范的升级进行了意见征集。", title="《1688商家发货行为管理规范》变更的意见征集结果反馈"
    )
    assert facts.rule_names == ("1688商家发货行为管理规范",)


def test_links_carry_the_rule_channels_ids() -> None:
    links = find_links(
        "详见：https://rulechannel.1688.com/?spm=a2638g&type=detail&ruleId=20004608&cId=3045#/rule/detail?ruleId=20004608&cId=3045，"
        "投票：https://rulechannel.1688.com/?taskId=1188#/ruleHOR/detail 以及 "
        "https://rulechannel.1688.com/#/rules?cId=3044。"
    )
    assert [(link.rule_id, link.category_id, link.task_id) for link in links] == [
        (20004608, 3045, None),
        (None, None, 1188),
        (None, 3044, None),
    ]
    assert links[2].url == "https://rulechannel.1688.com/#/rules?cId=3044"


def test_a_links_digits_are_never_a_date() -> None:
    facts = extract("本次更新于2025年2月10日公示。全文：https://example.com/2025-02-18/生效，请查看")
    assert facts.effective_date is None


def test_non_numeric_ids_are_null() -> None:
    assert find_links("https://x.example/?ruleId=abc") == (Link(url="https://x.example/?ruleId=abc"),)


def test_the_json_has_the_issues_shape() -> None:
    payload = extract("本次更新于2025年2月10日公示,2025年2月18日生效。https://r.example/?ruleId=1").as_json()
    assert list(payload) == list(FIELDS)
    assert payload["notice_date"] == "2025-02-10"
    assert payload["comment_start"] is None
    assert payload["links"] == [
        {"url": "https://r.example/?ruleId=1", "rule_id": 1, "category_id": None, "task_id": None}
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet="2025年月日至到-~/.:：公示生效实施征集意见投票《》规则协议一二三十〇即起于\n ,，。",
        max_size=120,
    )
)
def test_any_text_gives_facts_never_an_error(text: str) -> None:
    facts = extract(text)
    assert facts.kind in Kind
    assert all(value is None or isinstance(value, date) for value in dates(facts))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_unicode_never_breaks_the_extractor(text: str) -> None:
    extract(text)
    extract(text, title=text[:20])
