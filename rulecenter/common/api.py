"""Pieces every router of the JSON API shares: ISO 8601 times, the page-size limit, the page count."""

from datetime import datetime
from typing import Annotated

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError

from .pagination import page_count
from .problems import VALIDATION, Problem, field_error
from .translations import ContentTranslation, TranslationText

PAGE_SIZE_TOO_LARGE = "每页最多 {limit} 条。"
PAGE_PAST_END = "页码 {page} 超出范围：共 {pages} 页。"


def _datetime_text(value: object) -> object:
    # pydantic would read a number as a Unix timestamp; the schema promises (and we want) ISO 8601 text.
    if value is not None and not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "Input should be an ISO 8601 date-time string")
    return value


IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_datetime_text)]


def page_size_checked(page_size: int | None, *, default: int) -> int:
    """The `page_size` query parameter, or `default` capped at RULECENTER_API_MAX_PAGE_SIZE; 422 above it."""
    limit = settings.RULECENTER_API_MAX_PAGE_SIZE
    size = page_size or min(default, limit)
    if size > limit:
        message = _(PAGE_SIZE_TOO_LARGE).format(limit=limit)
        raise Problem(
            VALIDATION, message, errors=[field_error(["query", "page_size"], message, "less_than_equal")]
        )
    return size


def page_or_404(page: int, *, total: int, size: int) -> None:
    """Nothing when `page` is a page of `total` items, `size` a page; a 404 saying how many there are if not."""
    pages = page_count(total, size)
    if page > pages:
        raise Http404(_(PAGE_PAST_END).format(page=page, pages=pages))


class TranslationIn(Schema):
    language: str = Field(default="en", description="译文的语言；目前只提供 en", max_length=16)
    title: str = Field(description="译文标题（必填，最多 200 字）", max_length=1000)
    summary: str = Field(default="", description="译文摘要（最多 2000 字）", max_length=10000)


class TranslationOut(Schema):
    language: str
    title: str
    summary: str
    translated_at: datetime


def translation_out(row: ContentTranslation | TranslationText) -> TranslationOut:
    """A translation (a row just written, or one a selector read), as the API shows it."""
    return TranslationOut(
        language=row.language,
        title=row.title,
        summary=row.summary,
        translated_at=timezone.localtime(row.translated_at),
    )


def translations_out(found: dict[str, TranslationText]) -> list[TranslationOut]:
    """An item's newest translation per language, as the API shows them (by language)."""
    return [translation_out(t) for _language, t in sorted(found.items())]
