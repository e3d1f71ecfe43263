"""The header's language switch (中文 / English): a plain form that works without JavaScript.

POST `language` (zh-hans or en) and `next` (the page to return to): the choice is kept in Django's language
cookie, which LocaleMiddleware reads before Accept-Language, and the browser goes back to `next` — a path
of this site only. No CSRF token: choosing the language a page is shown in changes nothing on the server,
and a token would make every public page set a cookie and stop being cacheable. Responses to a request
that carries the cookie vary on it (`LanguageCookieVary`), so a shared cache never serves one reader's
language to another.

Each page also has an address per language, for search engines and links shared across languages: the
same URL with `?lang=en` (or `?lang=zh-hans`) is shown in that language whatever the cookie or the browser
says, and every page names them in `<link rel="alternate" hreflang>` (x-default: the address without it).
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

_CODES = frozenset(code for code, _name in settings.LANGUAGES)


@csrf_exempt
@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    language = request.POST.get("language", "")[:16]
    target = request.POST.get("next", "")[:2000]
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts=None, require_https=request.is_secure())
    if not safe or not target.startswith("/"):
        target = "/"
    response = HttpResponseRedirect(target)
    response["Cache-Control"] = "no-store"
    if language in _CODES and check_for_language(language):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE or 365 * 24 * 3600,
            path=settings.LANGUAGE_COOKIE_PATH,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE or "Lax",
        )
    return response


class LanguageCookieVary:
    """`?lang=` chooses the page's language for this request (after LocaleMiddleware); a response to a request
    carrying the language cookie varies on Cookie: caches key it by the choice."""

    def __init__(self, get_response: "type | object") -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        chosen = request.GET.get("lang")
        if chosen is not None and chosen in _CODES:
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        response: HttpResponseBase = self.get_response(request)  # type: ignore[operator]
        if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
            patch_vary_headers(response, ("Cookie",))
        return response
