"""What page tests read: the words as a reader sees them, without the marks that only say their language."""

import re

_MARKED = re.compile(r'<span lang="zh-Hans">([^<]*)</span>')


def unmarked(html: str) -> str:
    """The page with each `<span lang="zh-Hans">title</span>` (a content's words marked as Chinese for
    screen readers on English pages) replaced by its words: `《title》第 2 版` reads as one phrase again."""
    return _MARKED.sub(r"\1", html)
