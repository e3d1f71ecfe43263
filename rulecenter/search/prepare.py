"""Turning rows into index documents without the database — so worker processes can do it.

A rebuild of a big database runs `announcement_batch` in a pool of spawned processes (`indexer/build.py`);
they import this module, never Django's models.
"""

import html
import re
from datetime import UTC, datetime
from typing import Any

from rulecenter.common.text import markdown_to_text

from . import segmenter
from .backends.tantivy import SOURCE_ANNOUNCEMENT, IndexDocument

# Recency: a hit's score is multiplied by RECENCY_BASE ** (years since RECENCY_EPOCH), so at equal relevance
# an item a year newer ranks 8% higher, whenever the search runs (selectors.py re-ranks by it).
RECENCY_BASE = 1.08
RECENCY_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
RECENCY_MAX_YEARS = 100


def recency(at: datetime) -> float:
    years = min(max((at - RECENCY_EPOCH).days / 365.25, 0.0), RECENCY_MAX_YEARS)
    return float(RECENCY_BASE**years)


def announcement_key(pk: int) -> str:
    return f"a:{pk}"


def rule_key(pk: int) -> str:
    return f"r:{pk}"


# id, title, summary, body, body_html, kind, category_id, published_at
AnnouncementRow = tuple[int, str, str, str, str, str, int, datetime]


_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"</(?:p|li|h\d|tr|blockquote|pre)>|<br\s*/?>")


def stored_html_text(body_html: str) -> str:
    """The text of an announcement's stored HTML, which was sanitised when it was saved.

    A plain tag strip is enough here (and ~20× cheaper than sanitising again): the text is only indexed
    and shown escaped.
    """
    return " ".join(html.unescape(_TAG.sub("", _BREAK.sub(" ", body_html))).split())


def announcement_document(row: AnnouncementRow, categories: dict[int, tuple[str, str]]) -> IndexDocument:
    pk, title, summary, body, body_html, kind, category_id, published_at = row
    text = stored_html_text(body_html) if body_html else markdown_to_text(body)
    if summary and summary not in text:
        text = f"{summary} {text}"
    slug, name = categories.get(category_id, ("", ""))
    return IndexDocument(
        key=announcement_key(pk),
        pk=pk,
        source=SOURCE_ANNOUNCEMENT,
        type=kind,
        categories=(slug,) if slug else (),
        title=segmenter.index_text(title),
        body=segmenter.index_text(text),
        date=published_at,
        recency=recency(published_at),
        data={
            "id": pk,
            "t": title,
            "k": kind,
            "c": slug,
            "cn": name,
            "d": published_at.isoformat(),
            "x": text,
        },
    )


def announcement_batch(
    rows: list[AnnouncementRow], categories: dict[int, tuple[str, str]]
) -> list[dict[str, Any]]:
    """The documents of a batch of rows as `IndexDocument.fields()`; needs no database, so a worker
    process can run it (and plain values travel back cheaply)."""
    return [announcement_document(row, categories).fields() for row in rows]
