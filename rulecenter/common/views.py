"""Error pages in the user's language, rendered without touching the database."""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from . import replicas
from .problems import (
    BODY_TOO_LARGE_DETAIL,
    UNAVAILABLE_RETRY_SECONDS,
    body_limit_text,
    body_too_large_response,
    unavailable_detail,
)

logger = logging.getLogger(__name__)

NOT_FOUND = "页面不存在。"
BAD_REQUEST = "请求无效，请检查后重试。"
SERVER_ERROR = "服务器出错了，我们已记录该问题，请稍后再试。"


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    # Our Http404s carry a message written for the user; Django's own (URL resolver) carry a dict.
    message = exception.args[0] if isinstance(exception, Http404) and exception.args else None
    if not isinstance(message, str):
        message = _(NOT_FOUND)
    body = render_to_string("error.html", {"heading": _("页面不存在"), "message": message}, request=request)
    return HttpResponse(body, status=404)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400, or 413 when the body was over DATA_UPLOAD_MAX_MEMORY_SIZE (a problem under /api/, a page elsewhere)."""
    if isinstance(exception, RequestDataTooBig):
        if request.path.startswith("/api/"):
            return body_too_large_response(request)
        heading, message, status = (
            _("请求内容过大"),
            _(BODY_TOO_LARGE_DETAIL).format(limit=body_limit_text()),
            413,
        )
    else:
        heading, message, status = _("请求无效"), _(BAD_REQUEST), 400
    try:
        body = render_to_string("error.html", {"heading": heading, "message": message}, request=request)
    except Exception:
        # A request refused for its host or headers may fail the page's context too: answer it plainly.
        logger.exception("the error page could not be rendered")
        body = _plain_page(heading, message)
    return HttpResponse(body, status=status)


def _plain_page(heading: str, message: str) -> SafeString:
    return format_html(
        '<!doctype html><meta charset="utf-8"><title>{}</title><h1>{}</h1><p>{}</p>',
        heading,
        heading,
        message,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    heading, message = _("服务器错误"), _(SERVER_ERROR)
    try:
        body = render_to_string("error.html", {"heading": heading, "message": message})
    except Exception:
        # What broke the page may break the error page too (a missing static manifest, a template
        # error): the user still gets the message, in plain HTML, not a second exception.
        logger.exception("the error page could not be rendered")
        body = _plain_page(heading, message)
    return HttpResponse(body, status=500)


def database_unavailable(request: HttpRequest, exception: Exception) -> HttpResponse:
    """503 with when to come back (`Retry-After`): the page cannot reach its database, nothing was written."""
    logger.warning("database unavailable: %s %s: %s", request.method, request.path, exception)
    replicas.database_failed(request)
    heading, message = _("系统维护中"), unavailable_detail(request)
    try:
        body = render_to_string("error.html", {"heading": heading, "message": message})
    except Exception:
        logger.exception("the error page could not be rendered")
        body = _plain_page(heading, message)
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(UNAVAILABLE_RETRY_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
