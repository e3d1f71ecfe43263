"""The Jinja2 environment for public pages: Django's url/static helpers and gettext.

Public pages are rendered on every uncached request, so the helpers a page calls many times remember their
answers (docs/performance.md): Django's `reverse()` and `static()` cost 30–90 µs a call, a translation
through Jinja's i18n wrappers ~15 µs. The answers depend only on the URLconf, the script prefix, the
static files storage and the language, which are part of the keys or clear the memory when they change.
"""

from functools import lru_cache
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags.static import static as django_static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone, translation
from jinja2 import Environment
from markupsafe import Markup

# A bound on the translations remembered, against templates that translate computed strings.
_TRANSLATIONS_MAX = 4096
_translations: dict[tuple[str | None, str], str] = {}
_labels: dict[tuple[str | None, str], Markup] = {}


@lru_cache(maxsize=2048)
def _reverse(
    urlconf: str | None, prefix: str, name: str, args: tuple[Any, ...], kwargs: frozenset[Any]
) -> str:
    return reverse(name, urlconf=urlconf, args=args or None, kwargs=dict(kwargs) or None)


def url(name: str, *args: Any, **kwargs: Any) -> str:
    try:
        return _reverse(get_urlconf(), get_script_prefix(), name, args, frozenset(kwargs.items()))
    except TypeError:  # an unhashable argument: ask Django every time
        return reverse(name, args=args or None, kwargs=kwargs or None)


@lru_cache(maxsize=512)
def static(path: str) -> str:
    return django_static(path)


def gettext(message: str) -> str:
    """Django's gettext, remembered per language: page templates translate the same few labels."""
    key = (translation.get_language(), message)
    try:
        return _translations[key]
    except KeyError:
        if len(_translations) >= _TRANSLATIONS_MAX:
            _translations.clear()
        translated = _translations[key] = translation.gettext(message)
        return translated


def template_gettext(message: str, **variables: Any) -> Markup:
    """`_()` in templates: what Jinja's newstyle gettext returns under autoescaping, without its wrappers.

    The translation is trusted markup; the variables formatted into it are escaped. A label without
    variables is remembered whole.
    """
    if variables:
        return Markup(gettext(message)) % variables
    key = (translation.get_language(), message)
    try:
        return _labels[key]
    except KeyError:
        if len(_labels) >= _TRANSLATIONS_MAX:
            _labels.clear()
        label = _labels[key] = Markup(gettext(message)) % {}
        return label


def localtime_format(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if value is None else timezone.localtime(value).strftime(fmt)


def localdate(value: Any) -> str:
    """The date (YYYY-MM-DD) of an aware datetime in the current time zone; cheaper than strftime."""
    return "" if value is None else timezone.localtime(value).date().isoformat()


def isoformat(value: Any) -> str:
    return "" if value is None else str(value.isoformat())


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
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=gettext,
        ngettext=translation.ngettext,
        pgettext=translation.pgettext,
        npgettext=translation.npgettext,
        newstyle=True,
    )
    env.globals.update({"url": url, "static": static, "get_language": translation.get_language})
    if env.autoescape is True:
        env.globals["_"] = template_gettext
    env.filters["localtime"] = localtime_format
    env.filters["localdate"] = localdate
    env.filters["isoformat"] = isoformat
    return env
