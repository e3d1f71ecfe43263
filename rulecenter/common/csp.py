"""django-csp's middleware with the site's policy built once per process instead of twice per response.

django-csp builds the header from the settings on every response (about 0.1 ms: a tenth of a cached page's
CPU). The site sends one policy everywhere, so the built strings are kept until the settings change. A
response or request that asks for something of its own (a `@csp_update`/`@csp_replace`/`@csp_exempt`
decorator, a nonce read in a template, the debug pages django-csp leaves alone) goes through django-csp
unchanged; tests/security/test_csp.py checks the header is the one django-csp builds.
"""

from functools import cache

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

_OWN_POLICY = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
_DEBUG_PAGES = (404, 500)


@cache
def site_policies() -> tuple[str, str]:
    """The Content-Security-Policy and Content-Security-Policy-Report-Only values from the settings."""
    return build_policy(), build_policy(report_only=True)


@receiver(setting_changed)
def _policies_forget(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        site_policies.cache_clear()


def _excluded(request: HttpRequest, setting: str) -> bool:
    prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
    return request.path_info.startswith(tuple(prefixes))


class SitePolicyMiddleware(CSPMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        own = any(getattr(response, name, None) is not None for name in _OWN_POLICY)
        nonce = getattr(request, "_csp_nonce", None) is not None
        debug_page = settings.DEBUG and response.status_code in _DEBUG_PAGES
        if own or nonce or debug_page:
            return super().process_response(request, response)
        policy, report_only = site_policies()
        checks = (
            (policy, HEADER, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (report_only, HEADER_REPORT_ONLY, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        )
        for value, header, exempt, setting in checks:
            wanted = value and header not in response and not getattr(response, exempt, False)
            if wanted and not _excluded(request, setting):
                response[header] = value
        # As django-csp does: a nonce asked for after the header is written is an error, not a silent gap.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response
