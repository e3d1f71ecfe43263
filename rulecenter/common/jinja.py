"""The Jinja2 environment for public pages: Django's url/static helpers, gettext and local times.

Public pages are rendered on every uncached request, so the helpers a page calls dozens of times are kept
cheap (docs/performance.md):

- the request's language, time zone, URLconf and script prefix are looked up once per render
  (`RenderEvalContext`), not at every call: each lookup goes through an asgiref `Local`, a few µs apiece.
  The helpers take Jinja's *evaluation* context, which a render shares throughout: a helper taking the
  template context would be handed a fresh copy of it at every call inside a loop (Jinja derives one to
  show the loop's variables), ~25 µs a call, and the remembered lookups with it;
- `url()`, `static()` and `_()` remember their answers, keyed by everything they depend on; Django's
  `reverse()` and `static()` cost 30–90 µs a call, a label through Jinja's i18n wrappers ~15 µs.
  Changing the settings they depend on (tests do) forgets what was remembered.
"""

import re
from datetime import datetime, tzinfo
from functools import cached_property, lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import QueryDict
from django.templatetags.static import static as django_static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import html, timezone, translation
from jinja2 import Environment, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from markupsafe import Markup

from .law import notice_days_required

# A bound on the translations remembered, against templates that translate computed strings.
_TRANSLATIONS_MAX = 4096
_translations: dict[tuple[str | None, str], str] = {}
_labels: dict[tuple[str | None, str], Markup] = {}


class RenderEvalContext(EvalContext):
    """A render's evaluation context that reads the request's language, time zone and URL set-up once."""

    @cached_property
    def language(self) -> str | None:
        return translation.get_language()

    @cached_property
    def time_zone(self) -> tzinfo:
        return timezone.get_current_timezone()

    @cached_property
    def url_base(self) -> tuple[str | None, str]:
        return get_urlconf(), get_script_prefix()


class RenderContext(Context):
    """A template's context whose evaluation context remembers the request's set-up for the render."""

    def __init__(
        self,
        environment: Environment,
        parent: dict[str, Any],
        name: str | None,
        blocks: Any,
        globals: Any = None,
    ) -> None:
        super().__init__(environment, parent, name, blocks, globals)
        self.eval_ctx = RenderEvalContext(environment, name)


@lru_cache(maxsize=2048)
def _reverse(
    urlconf: str | None, prefix: str, name: str, args: tuple[Any, ...], kwargs: frozenset[Any]
) -> str:
    return reverse(name, urlconf=urlconf, args=args or None, kwargs=dict(kwargs) or None)


@pass_eval_context
def url(context: RenderEvalContext, name: str, *args: Any, **kwargs: Any) -> str:
    try:
        return _reverse(*context.url_base, name, args, frozenset(kwargs.items()))
    except TypeError:  # an unhashable argument: ask Django every time
        return reverse(name, args=args or None, kwargs=kwargs or None)


@lru_cache(maxsize=512)
def static(path: str) -> str:
    return django_static(path)


def _translate(language: str | None, message: str) -> str:
    key = (language, message)
    try:
        return _translations[key]
    except KeyError:
        if len(_translations) >= _TRANSLATIONS_MAX:
            _translations.clear()
        translated = _translations[key] = translation.gettext(message)
        return translated


def gettext(message: str) -> str:
    """Django's gettext, remembered per language (for `{% trans %}` and Jinja's `gettext()`)."""
    return _translate(translation.get_language(), message)


def _trusted(text: str) -> Markup:
    # Our own message catalogue is trusted, exactly as Jinja's i18n extension trusts it.
    return Markup(text)  # noqa: S704


@pass_eval_context
def template_gettext(context: RenderEvalContext, message: str, **variables: Any) -> Markup:
    """`_()` in templates: what Jinja's newstyle gettext returns under autoescaping, without its wrappers.

    The translation is trusted markup; the variables formatted into it are escaped. A label without
    variables is remembered whole.
    """
    if variables:
        return _trusted(_translate(context.language, message)) % variables
    key = (context.language, message)
    try:
        return _labels[key]
    except KeyError:
        if len(_labels) >= _TRANSLATIONS_MAX:
            _labels.clear()
        label = _labels[key] = _trusted(_translate(context.language, message)) % {}
        return label


@pass_eval_context
def localtime_format(context: RenderEvalContext, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if value is None else timezone.localtime(value, context.time_zone).strftime(fmt)


@pass_eval_context
def localdate(context: RenderEvalContext, value: datetime | None) -> str:
    """The date (YYYY-MM-DD) of an aware datetime in the current time zone; cheaper than strftime."""
    return "" if value is None else timezone.localtime(value, context.time_zone).date().isoformat()


def isoformat(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    """Tests change settings at run time; what was remembered under the old ones must go."""
    if setting in {"ROOT_URLCONF", "FORCE_SCRIPT_NAME"}:
        _reverse.cache_clear()
    if setting in {"STATIC_URL", "STATIC_ROOT", "STORAGES", "STATICFILES_DIRS", "DEBUG", "INSTALLED_APPS"}:
        static.cache_clear()
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "INSTALLED_APPS"}:
        _translations.clear()
        _labels.clear()


def environment(**options: Any) -> Environment:
    env = Environment(extensions=["jinja2.ext.i18n"], **options)  # noqa: S701 - autoescape is set by Django
    env.context_class = RenderContext
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=gettext,
        ngettext=translation.ngettext,
        pgettext=translation.pgettext,
        npgettext=translation.npgettext,
        newstyle=True,
    )
    env.globals.update(
        {
            "url": url,
            "static": static,
            "get_language": translation.get_language,
            "notice_days": notice_days_required,
            "punct": punctuation,
            "site_url": site_url,
            "lang_of": written_language,
            "language_path": language_path,
        }
    )
    if env.autoescape is True:
        env.globals["_"] = template_gettext
    env.filters["localtime"] = localtime_format
    env.filters["localdate"] = localdate
    env.filters["isoformat"] = isoformat
    env.filters["linebreaks"] = paragraphs
    env.filters["zh"] = chinese
    return env


_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


def written_language(text: object) -> str:
    """The language a person wrote in (a member's case, a reviewer's answer), for its `lang` attribute:
    Chinese when it has a Chinese character, else English. Content the platform publishes is always
    Chinese (`|zh`)."""
    return "zh-Hans" if _CJK.search(str(text)) else "en"


def chinese(value: object) -> Markup:
    """Content as written — a title, a rule's or category's name, a text — marked as Chinese, so an English
    page says which words a screen reader must read as Chinese. Escaped, unless already markup."""
    return Markup('<span lang="zh-Hans">%s</span>') % (value,)


def paragraphs(value: object) -> Markup:
    """Plain text as paragraphs and line breaks, escaped (a member's or staff's own words)."""
    return Markup(html.linebreaks(str(value), autoescape=True))  # noqa: S704 - escaped by linebreaks


def punctuation(mark: str) -> str:
    """A Chinese punctuation mark written in a template outside a translated string (《title》, a label's
    ：), in the active language: “title” and ": " in English (msgctxt "punctuation")."""
    return translation.pgettext("punctuation", mark)


def language_path(path: str, language: str | None) -> str:
    """A page's path (with its query) in `language` (`?lang=`, the other parameters kept), or without one."""
    path, _sep, raw = path.partition("?")
    query = QueryDict(raw, mutable=True)
    query.pop("lang", None)
    if language:
        query["lang"] = language
    encoded = query.urlencode()
    return f"{path}?{encoded}" if encoded else path


def site_url(path: str) -> str:
    """The site's public address of a path (`RULECENTER_SITE_URL`), whatever Host the request came with."""
    return f"{settings.RULECENTER_SITE_URL.rstrip('/')}{path}"
