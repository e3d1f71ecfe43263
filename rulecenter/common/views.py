"""Error pages in the user's language, rendered without touching the database."""

import logging

from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

NOT_FOUND = "页面不存在。"
SERVER_ERROR = "服务器出错了，我们已记录该问题，请稍后再试。"


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    # Our Http404s carry a message written for the user; Django's own (URL resolver) carry a dict.
    message = exception.args[0] if isinstance(exception, Http404) and exception.args else None
    if not isinstance(message, str):
        message = _(NOT_FOUND)
    body = render_to_string("error.html", {"heading": _("页面不存在"), "message": message}, request=request)
    return HttpResponse(body, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    heading, message = _("服务器错误"), _(SERVER_ERROR)
    try:
        body = render_to_string("error.html", {"heading": heading, "message": message})
    except Exception:
        # What broke the page may break the error page too (a missing static manifest, a template
        # error): the user still gets the message, in plain HTML, not a second exception.
        logger.exception("the error page could not be rendered")
        body = format_html(
            '<!doctype html><meta charset="utf-8"><title>{}</title><h1>{}</h1><p>{}</p>',
            heading,
            heading,
            message,
        )
    return HttpResponse(body, status=500)
