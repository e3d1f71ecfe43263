"""Error pages in the user's language, rendered without touching the database."""

from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

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
    body = render_to_string("error.html", {"heading": _("服务器错误"), "message": _(SERVER_ERROR)})
    return HttpResponse(body, status=500)
