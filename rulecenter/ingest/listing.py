"""Scraped listing pages in the seed's format: bytes to text, then the items and the pager footer.

    新闻动态                          <- heading
    了解更多行业资讯
      • 《…》和其相关规则的更新公示     <- an item: `• title`
                                       <- (blank lines are ignored)
        为了规范1688平台的市场管理秩序…   <- its excerpt: every line up to the next item or the footer
    共13条 当前1/2页首页前一页12后一页尾页  <- footer: how many items the listing holds, this page / pages

Every failure is a `ListingError` with a message for the person who gave us the file.
"""

import codecs
import datetime
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

TITLE_MAX_LENGTH = 200  # Announcement.title

LISTING_EMPTY = "文件“{name}”是空的，没有可导入的内容。"
LISTING_BINARY = "文件“{name}”不是文本文件（含有二进制内容），无法导入。请提供抓取到的列表页文本（UTF-8）。"
LISTING_GBK = (
    "文件“{name}”不是 UTF-8 编码，看起来是 GBK/GB18030 编码的中文。"
    "请先转换为 UTF-8（例如 iconv -f GBK -t UTF-8），或指定 --encoding gbk 导入。"
)
LISTING_UNDECODABLE = (
    "文件“{name}”无法按 {encoding} 编码读取（第 {line} 行附近有无效字节），请确认文件的编码。"
)
LISTING_UNKNOWN_ENCODING = "不认识的编码“{encoding}”，请使用 utf-8、gbk、gb18030 等编码名称。"
LISTING_NO_ITEMS = (
    "文件“{name}”不是新闻列表页：没有找到列表项。列表页的每一条以“• 标题”开头，下一行是摘要，"
    "最后一行是“共N条 当前p/P页”。"
)
LISTING_TITLE_TOO_LONG = "文件“{name}”第 {line} 行：标题有 {length} 个字符，超过了 {limit} 个字符的上限。"
TEXT_NO_TITLE = "“{name}”里没有内容：第一行是标题，其后是正文。"
LISTING_FOOTER_INVALID = "文件“{name}”第 {line} 行：页脚“{footer}”不合理（当前页大于总页数）。"

_BULLETS = ("•", "●", "▪", "◦", "· ")
FOOTER = re.compile(r"共\s*(\d{1,9})\s*条\s*当前\s*(\d{1,9})\s*/\s*(\d{1,9})\s*页")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SPACE = re.compile(r"\s+")


class ListingError(ValueError):
    """A file that cannot be read as a listing page; str(error) is the message to show."""


@dataclass(frozen=True, slots=True)
class ListingItem:
    title: str
    excerpt: str
    line: int  # 1-based line of the `• title` in its file
    published: datetime.date | None = None  # the item's own date, when its page shows one


@dataclass(frozen=True, slots=True)
class Footer:
    total: int
    page: int
    pages: int


@dataclass(frozen=True, slots=True)
class ListingPage:
    name: str
    heading: str
    items: tuple[ListingItem, ...]
    footer: Footer | None


def decode(data: bytes, *, name: str, encoding: str = "utf-8") -> str:
    """The text of a file, or a ListingError saying why it is not a text we can read."""
    try:
        codec = codecs.lookup(encoding).name
    except (LookupError, ValueError):  # ValueError: a name with NUL in it
        raise ListingError(_(LISTING_UNKNOWN_ENCODING).format(encoding=encoding[:40])) from None
    if not data.strip():
        raise ListingError(_(LISTING_EMPTY).format(name=name))
    if codec in ("gbk", "gb2312", "hz"):
        codec = "gb18030"  # the superset: GBK files from Windows often hold characters only it has (•)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec = "utf-16"  # a BOM says which encoding it is; nothing to guess
    elif b"\x00" in data[:65536]:
        raise ListingError(_(LISTING_BINARY).format(name=name))
    try:
        text = data.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as error:
        if codec == "utf-8" and _looks_like_gbk(data):
            raise ListingError(_(LISTING_GBK).format(name=name)) from None
        line = data[: error.start].count(b"\n") + 1
        raise ListingError(_(LISTING_UNDECODABLE).format(name=name, encoding=encoding, line=line)) from None
    except (LookupError, UnicodeError):
        # A codec that is no text encoding (rot13, base64, zlib) or none at all ("undefined").
        raise ListingError(_(LISTING_UNKNOWN_ENCODING).format(encoding=encoding[:40])) from None
    if len(_CONTROL.findall(text[:65536])) > max(8, len(text[:65536]) // 100):
        raise ListingError(_(LISTING_BINARY).format(name=name))
    if not text.strip():
        raise ListingError(_(LISTING_EMPTY).format(name=name))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _looks_like_gbk(data: bytes) -> bool:
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return len(_CJK.findall(text)) >= max(1, len(text) // 20)


def _bullet_title(line: str) -> str | None:
    stripped = line.strip()
    for bullet in _BULLETS:
        if stripped.startswith(bullet):
            return _SPACE.sub(" ", stripped[len(bullet) :]).strip()
    return None


def parse(text: str, *, name: str) -> ListingPage:
    """The heading, items and footer of a listing page's text."""
    heading = ""
    items: list[ListingItem] = []
    footer: Footer | None = None
    title: str | None = None
    title_line = 0
    excerpt: list[str] = []

    def close() -> None:
        if title is not None and title:
            items.append(ListingItem(title=title, excerpt="\n".join(excerpt), line=title_line))

    for number, line in enumerate(text.split("\n"), start=1):
        found = FOOTER.search(line)
        if found:
            total, page, pages = (int(group) for group in found.groups())
            if page > pages or page < 1:
                raise ListingError(
                    _(LISTING_FOOTER_INVALID).format(name=name, line=number, footer=found.group(0))
                )
            footer = Footer(total=total, page=page, pages=pages)
            before = line[: found.start()].strip()
            if before and title is not None:
                excerpt.append(before)
            close()
            title = None
            continue
        bullet = _bullet_title(line)
        if bullet is not None:
            close()
            if len(bullet) > TITLE_MAX_LENGTH:
                raise ListingError(
                    _(LISTING_TITLE_TOO_LONG).format(
                        name=name, line=number, length=len(bullet), limit=TITLE_MAX_LENGTH
                    )
                )
            title, title_line, excerpt = bullet, number, []
        elif title is not None:
            if line.strip():
                excerpt.append(line.strip())
        elif not heading and line.strip():
            heading = line.strip()
    close()
    if not items:
        raise ListingError(_(LISTING_NO_ITEMS).format(name=name))
    return ListingPage(name=name, heading=heading, items=tuple(items), footer=footer)


def read(data: bytes, *, name: str, encoding: str = "utf-8") -> ListingPage:
    return parse(decode(data, name=name, encoding=encoding), name=name)


def single(text: str, *, name: str) -> ListingPage:
    """One announcement's text (first line the title, the rest its text) as a page of one item."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line]
    if not numbered:
        raise ListingError(_(TEXT_NO_TITLE).format(name=name))
    (line_number, title), rest = numbered[0], numbered[1:]
    title = _SPACE.sub(" ", title)
    if len(title) > TITLE_MAX_LENGTH:
        raise ListingError(
            _(LISTING_TITLE_TOO_LONG).format(
                name=name, line=line_number, length=len(title), limit=TITLE_MAX_LENGTH
            )
        )
    excerpt = "\n".join(line for _number, line in rest)
    return ListingPage(name=name, heading="", items=(ListingItem(title, excerpt, line_number),), footer=None)


def is_listing(text: str) -> bool:
    """Whether a text has listing items (`• title` lines)."""
    return any(_bullet_title(line) for line in text.split("\n"))
