"""The Jinja2 environment for public pages: Django's url/static helpers and gettext."""

from typing import Any

from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone, translation
from jinja2 import Environment


def url(name: str, *args: Any, **kwargs: Any) -> str:
    return reverse(name, args=args or None, kwargs=kwargs or None)


def localtime_format(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if value is None else timezone.localtime(value).strftime(fmt)


def environment(**options: Any) -> Environment:
    env = Environment(extensions=["jinja2.ext.i18n"], **options)  # noqa: S701 - autoescape is set by Django
    env.install_gettext_translations(translation, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update({"url": url, "static": static, "get_language": translation.get_language})
    env.filters["localtime"] = localtime_format
    return env
