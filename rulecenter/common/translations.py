"""Translations of content (issue 15): an editor's English title and summary for an announcement or a rule
version, shown to readers of that language and marked as a translation — the Chinese text alone binds.

A translation is written once and never changed: a better one is a new row, the newest is shown and the
earlier ones are kept (the database refuses UPDATE and DELETE), so what readers were shown on any day can
be told. Each app has its own table (`AnnouncementTranslation`, `RuleVersionTranslation`) on this base;
their services check the role, lock the content, write the row and announce the change in one transaction.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .actors import Actor
from .text import control_characters_refuse

TITLE_MAX_CHARS = 200
SUMMARY_MAX_CHARS = 2000
TITLE_REQUIRED = "译文标题不能为空。"
TEXT_TOO_LONG = "最多 {max} 个字符（现有 {length} 个）。"
LANGUAGE_NOT_OFFERED = "不提供“{language}”的译文：可选 {choices}。"


class TranslationLanguage(models.TextChoices):
    """The languages content may be translated into: the site's languages but its own (Chinese)."""

    EN = "en", "English"


class ContentTranslation(models.Model):
    language = models.CharField(
        gettext_lazy("语言"),
        max_length=8,
        choices=TranslationLanguage.choices,
        default=TranslationLanguage.EN,
    )
    title = models.CharField(gettext_lazy("译文标题"), max_length=TITLE_MAX_CHARS)
    summary = models.TextField(gettext_lazy("译文摘要"), blank=True, max_length=SUMMARY_MAX_CHARS)
    translated_at = models.DateTimeField(gettext_lazy("翻译时间"))
    translated_by_user_id = models.BigIntegerField(gettext_lazy("翻译人 ID"), null=True, blank=True)
    translated_by_name = models.CharField(gettext_lazy("翻译人"), max_length=150)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.language}: {self.title}"


@dataclass(frozen=True, slots=True)
class TranslationText:
    """What a reader of another language is shown instead of the Chinese title and summary."""

    language: str
    title: str
    summary: str
    translated_at: datetime


def translation_checked(*, language: str, title: str, summary: str) -> tuple[str, str, str]:
    """The language, title and summary, trimmed; or a ValidationError naming each field that is wrong."""
    title, summary = (title or "").strip(), (summary or "").strip()
    errors: dict[str, ValidationError] = {}
    if language not in TranslationLanguage.values:
        message = _(LANGUAGE_NOT_OFFERED).format(
            language=language[:16], choices=", ".join(TranslationLanguage.values)
        )
        errors["language"] = ValidationError(message, code="language")
    if not title:
        errors["title"] = ValidationError(_(TITLE_REQUIRED), code="required")
    for field, text, limit in (("title", title, TITLE_MAX_CHARS), ("summary", summary, SUMMARY_MAX_CHARS)):
        if len(text) > limit and field not in errors:
            errors[field] = ValidationError(
                _(TEXT_TOO_LONG).format(max=limit, length=len(text)), code="max_length"
            )
    if errors:
        raise ValidationError(errors)
    control_characters_refuse({"title": title, "summary": summary}, one_line=["title"])
    return language, title, summary


def newest_by_language(
    rows: Iterable[tuple[int, str, str, str, datetime]],
) -> dict[int, dict[str, TranslationText]]:
    """(owner id, language, title, summary, translated_at) rows, newest first per owner and language, as each
    owner's newest translation per language (the selectors' one query, read once)."""
    found: dict[int, dict[str, TranslationText]] = {}
    for owner, language, title, summary, translated_at in rows:
        found.setdefault(owner, {}).setdefault(
            language, TranslationText(language, title, summary, translated_at)
        )
    return found


def translation_fields(actor: Actor, *, at: datetime) -> dict[str, object]:
    """Who wrote a translation and when, as values (the record outlives the account)."""
    return {
        "translated_at": at,
        "translated_by_user_id": actor.user_id,
        "translated_by_name": actor.name[:150],
    }


def reader_language() -> str | None:
    """The language a translation would be shown in to this reader: the active one, unless it is the
    content's own (Chinese) or no translation language."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    return language if language in TranslationLanguage.values else None


def for_reader(
    found: Callable[[], dict[int, dict[str, TranslationText]]],
) -> dict[int, TranslationText]:
    """Each item's translation into this reader's language, by item id; `found` (a selector's one query) is
    not run at all for a reader of the content's own language."""
    language = reader_language()
    if language is None:
        return {}
    return {owner: by_language[language] for owner, by_language in found().items() if language in by_language}


def language_constraint(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=models.Q(language__in=TranslationLanguage.values), name=name)


def title_constraint(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=~models.Q(title=""), name=name)
