"""Numbered pages like the seed's pager: `共{N}条 当前{p}/{P}页 首页 前一页 1 2 后一页 尾页`.

The total comes from the caller (a maintained counter), never from a COUNT(*) here.
"""

from dataclasses import dataclass
from functools import lru_cache

from django.http import Http404
from django.utils.translation import gettext as _

PAGE_INVALID = "页码“{value}”无效：页码必须是 1 到 {last} 之间的整数。"


class PageNotFound(Http404):
    """A page number that is not a page of this listing: text, zero, negative or past the end."""


def page_count(total: int, size: int) -> int:
    """How many pages `total` items fill, `size` a page; an empty listing still has its first page."""
    return max(1, -(-total // size))


@dataclass(frozen=True, slots=True)
class Pager:
    total: int
    number: int
    size: int
    window: tuple[int, ...]

    @property
    def page_count(self) -> int:
        return page_count(self.total, self.size)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.page_count


def page_window(number: int, page_count: int, width: int) -> tuple[int, ...]:
    """Up to `width` consecutive page numbers around `number`, shifted to stay within 1..page_count."""
    width = max(1, width)
    start = max(1, min(number - width // 2, page_count - width + 1))
    return tuple(range(start, min(page_count, start + width - 1) + 1))


@lru_cache(maxsize=1024)
def pager_for(*, raw_page: str | None, total: int, size: int, window: int) -> Pager:
    """Parse a user-supplied page number and build the pager, or raise PageNotFound with a clear message.

    Remembered: the same few pages are asked for again and again (a refusal is not remembered).
    """
    last = page_count(total, size)
    value = "1" if raw_page is None else raw_page
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= last:
        raise PageNotFound(_(PAGE_INVALID).format(value=value[:20], last=last))
    number = int(value)
    return Pager(total=total, number=number, size=size, window=page_window(number, last, window))
