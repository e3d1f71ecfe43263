"""Reading a scraped listing page: the seed's format, and every way a file can fail to be one."""

import codecs

import pytest

from rulecenter.announcements.demo import SEED_FILE, seed_items
from rulecenter.ingest import listing
from rulecenter.ingest.listing import Footer, ListingError

SEED = SEED_FILE.read_bytes()


def test_the_seed_page_reads_as_12_items_and_its_footer() -> None:
    page = listing.read(SEED, name="listing-page-1.txt")
    assert page.heading == "新闻动态"
    assert page.footer == Footer(total=13, page=1, pages=2)
    assert [(item.title, item.excerpt) for item in page.items] == [
        (item.title, item.excerpt) for item in seed_items()
    ]
    assert page.items[0].line == 3


def test_excerpts_may_span_lines_and_bullets_vary() -> None:
    page = listing.parse(
        "新闻动态\n● 第一条\n第一行\n\n第二行\n· 第二条\n摘要\n共2条 当前1/1页", name="page.txt"
    )
    assert [(item.title, item.excerpt) for item in page.items] == [
        ("第一条", "第一行\n第二行"),
        ("第二条", "摘要"),
    ]
    assert page.footer == Footer(total=2, page=1, pages=1)


def test_a_page_without_footer_still_reads() -> None:
    page = listing.parse("• 标题\n摘要", name="page.txt")
    assert page.footer is None
    assert page.items[0].title == "标题"


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("utf-8", codecs.BOM_UTF8 + SEED),
        ("utf-8", SEED.replace(b"\n", b"\r\n")),
        ("utf-8", SEED.decode().encode("utf-16")),  # a BOM names its encoding
        ("gbk", SEED.decode().encode("gb18030")),
        ("gb18030", SEED.decode().encode("gb18030")),
    ],
)
def test_encodings_that_say_what_they_are_are_read(encoding: str, data: bytes) -> None:
    page = listing.read(data, name="page.txt", encoding=encoding)
    assert len(page.items) == 12
    assert page.items[0].title == "《1688指定渠道禁限售规则》和其相关规则的更新公示"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "文件“page.txt”是空的"),
        (b"  \n\n\t ", "文件“page.txt”是空的"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "不是文本文件"),
        (bytes(range(1, 32)) * 40, "不是文本文件"),
        (SEED.decode().encode("gb18030"), "看起来是 GBK/GB18030 编码"),
        (b"first line\nsecond \xfd\xfe plain \x80", "无法按 utf-8 编码读取（第 2 行附近"),
        ("一篇公告\n本次更新于2025年2月10日公示。".encode(), "不是新闻列表页"),
    ],
)
def test_bad_files_get_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(ListingError) as raised:
        listing.read(data, name="page.txt")
    assert message in str(raised.value)


def test_an_unknown_encoding_name_is_refused() -> None:
    with pytest.raises(ListingError, match="不认识的编码“klingon”"):
        listing.read(SEED, name="page.txt", encoding="klingon")


def test_a_title_longer_than_an_announcement_allows_is_refused_with_its_line() -> None:
    with pytest.raises(ListingError, match="第 2 行：标题有 201 个字符"):
        listing.parse("新闻动态\n• " + "长" * 201 + "\n摘要", name="page.txt")


def test_a_footer_past_the_last_page_is_refused() -> None:
    with pytest.raises(ListingError, match="页脚“共13条 当前3/2页”不合理"):
        listing.parse("• 标题\n摘要\n共13条 当前3/2页", name="page.txt")


def test_one_announcements_text_reads_as_a_page_of_one() -> None:
    page = listing.single(
        "\n  《某规则》更新公示 \n\n本次更新于2025年2月10日公示。\n详见附件。", name="粘贴的文本"
    )
    assert [(item.title, item.excerpt, item.line) for item in page.items] == [
        ("《某规则》更新公示", "本次更新于2025年2月10日公示。\n详见附件。", 2)
    ]
    with pytest.raises(ListingError, match="没有内容"):
        listing.single(" \n ", name="粘贴的文本")
    assert listing.is_listing("• 标题\n摘要")
    assert not listing.is_listing("标题\n摘要")
