"""Rate limits and the sign-in lockout (issue 12): a flood from one address, token or member costs only them.

Limits are `RULECENTER_*_RATE` settings ("600/min", "10/m", "5/10s", "100/hour"; empty for no limit), read at
each request so a test or an operator's change applies at once. Each is a fixed-window counter in Django's
cache (Redis when `REDIS_URL` is set): one atomic INCR per request, whatever the rate. (ninja's own
`SimpleRateThrottle` keeps a list of every timestamp in the window — 600 of them re-pickled per request at
"600/min" — read and written back without a lock, and on the throttle object that all threads share.)

The API uses them as ninja throttles (`API_THROTTLES`, `VoteThrottle`, `SearchThrottle`); pages call
`limit_check` and answer `limited_page`. Sign-in lockout is django-axes' (docs/settings.md): this module gives
it its failure limit, cool-off, client address and the page it answers when locked.
"""

import hashlib
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from axes.handlers.cache import AxesCacheHandler
from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja.throttling import BaseThrottle

from .cache import ResilientRedisCache

logger = logging.getLogger("rulecenter.limits")

LIMITED_HEADING = "请求过于频繁"
LIMITED_MESSAGE = "请求过于频繁，请在 {wait}后再试。"
SIGNIN_LOCKED_HEADING = "登录已暂时锁定"
SIGNIN_LOCKED_MESSAGE = "登录失败次数过多，此账户或此网络地址的登录已暂时锁定，请在 {wait}后再试。"
WAIT_SECONDS = ("{n} 秒", "{n} 秒")
WAIT_MINUTES = ("{n} 分钟", "{n} 分钟")
WAIT_HOURS = ("{n} 小时", "{n} 小时")

UNKNOWN_ADDRESS = "unknown"
_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `count` requests per `seconds`."""

    count: int
    seconds: int


def rate_parse(text: str) -> Rate | None:
    """ "600/min" → Rate(600, 60); "5/10s" → Rate(5, 10); "" → None (no limit). A typo is an error, not no limit."""
    if not text.strip():
        return None
    match = _RATE.match(text.lower())
    if match is None or match.group(3) not in _PERIODS:
        raise ValueError(f"rate {text!r}: expected e.g. 600/min, 10/m, 5/10s, 100/hour")
    count, multiple, unit = match.groups()
    return Rate(int(count), (int(multiple) if multiple else 1) * _PERIODS[unit])


def rate_setting(name: str) -> Rate | None:
    return rate_parse(str(getattr(settings, name, "") or ""))


SIGNIN_PAUSED_HEADING = "暂时无法登录"
SIGNIN_PAUSED = "系统维护中，登录暂停，请稍后再试；浏览和查阅不受影响。"


def client_address(request: HttpRequest) -> str:
    """The address a limit counts against: the peer, or the one our own proxy saw when a proxy is trusted.

    X-Forwarded-For is only believed when `RULECENTER_TRUSTED_PROXY` says a proxy is in front, and then only
    its last entry (the one that proxy appended): a client cannot dodge a limit by sending the header.
    """
    if getattr(settings, "RULECENTER_TRUSTED_PROXY", False):
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if forwarded:
            return str(forwarded[-1])
    return str(request.META.get("REMOTE_ADDR") or UNKNOWN_ADDRESS)


def signin_client_address(request: HttpRequest) -> str | None:
    """django-axes' client address: ours, or None when there is none (a request built in code, force_login)."""
    address = client_address(request)
    return None if address == UNKNOWN_ADDRESS else address


def wait_text(seconds: float) -> str:
    """How long to wait, for people: "30 秒", "15 分钟", "2 小时" (rounded up)."""
    whole = max(1, math.ceil(seconds))
    if whole < 120:
        forms, n = WAIT_SECONDS, whole
    elif whole < 2 * 3600:
        forms, n = WAIT_MINUTES, math.ceil(whole / 60)
    else:
        forms, n = WAIT_HOURS, math.ceil(whole / 3600)
    return ngettext(forms[0], forms[1], n).format(n=n)


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def _window_key(scope: str, ident: str, rate: Rate, now: float) -> tuple[str, int]:
    window = int(now // rate.seconds)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    return f"rulecenter:limit:{scope}:{digest}:{window}", window


def limit_used_up(*, scope: str, ident: str, rate: Rate) -> float | None:
    """Without counting: None if `ident` has requests left in `scope`, else the seconds until the window ends."""
    now = time.time()
    key, window = _window_key(scope, ident, rate, now)
    try:
        count = cache.get(key) or 0
    except Exception:
        logger.warning("rate limit %s not checked: the cache is unavailable", scope, exc_info=True)
        return None
    return max(1.0, (window + 1) * rate.seconds - now) if count >= rate.count else None


def limit_hit(*, scope: str, ident: str, rate: Rate) -> float | None:
    """Count one request of `ident` in `scope`; None if allowed, else the seconds until the window ends."""
    now = time.time()
    key, window = _window_key(scope, ident, rate, now)
    try:
        count = _count(key, timeout=rate.seconds + 1)
    except Exception:
        # A limit protects the site; an unreachable cache must not take the site down with it.
        logger.warning("rate limit %s not checked: the cache is unavailable", scope, exc_info=True)
        return None
    if count is None or count <= rate.count:  # None: Redis is down (the cache said so, once)
        return None
    return max(1.0, (window + 1) * rate.seconds - now)


def _count(key: str, *, timeout: int) -> int | None:
    """Add one to the window's counter and return it.

    On Redis one round trip: INCR and EXPIRE … NX in a pipeline (Django's `incr` asks EXISTS first and needs
    an `add` for a new window: three round trips). Elsewhere `incr` first — the window has usually begun —
    and `add` only for its first request.
    """
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):
        stored = backend.make_and_validate_key(key)

        def counted() -> int:
            pipeline = backend._cache.get_client(stored, write=True).pipeline(transaction=False)
            pipeline.incr(stored)
            pipeline.expire(stored, timeout, nx=True)
            count, _expiry_set = pipeline.execute()
            return int(count)

        # The resilient cache answers None while Redis is down, and logs it once, not once a request.
        return backend.soft(counted, None) if isinstance(backend, ResilientRedisCache) else counted()
    try:
        return int(backend.incr(key))
    except ValueError:  # the window's first request
        if backend.add(key, 1, timeout=timeout):
            return 1
        return int(backend.incr(key))  # another request added it in between


def limit_check(request: HttpRequest, *, scope: str, setting: str, ident: str | None = None) -> float | None:
    """A page's limit: None if the request may go on, else the seconds to wait. `ident` defaults to the address."""
    rate = rate_setting(setting)
    if rate is None:
        return None
    return limit_hit(scope=scope, ident=ident or f"addr:{client_address(request)}", rate=rate)


def member_ident(request: HttpRequest) -> str:
    """Per member when signed in (any address), per address otherwise."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"addr:{client_address(request)}"


def limited_page(request: HttpRequest, wait: float, *, heading: str = "", message: str = "") -> HttpResponse:
    """The 429 page: what happened and how long to wait, in the visitor's language, with Retry-After."""
    context = {
        "heading": heading or _(LIMITED_HEADING),
        "message": message or _(LIMITED_MESSAGE).format(wait=wait_text(wait)),
    }
    response = render(request, "error.html", context, status=429)
    response["Retry-After"] = retry_after(wait)
    response["Cache-Control"] = "no-store"
    return response


# --- ninja throttles ---------------------------------------------------------------------------------------


class SettingThrottle(BaseThrottle):
    """A ninja throttle counting against `scope` at the rate of the setting `setting`."""

    scope = ""
    setting = ""

    def __init__(self) -> None:
        self._last = threading.local()  # ninja asks wait() right after allow_request(), on the same thread

    def ident(self, request: HttpRequest) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: HttpRequest) -> bool:
        self._last.wait = None
        rate = rate_setting(self.setting)
        ident = self.ident(request) if rate is not None else None
        if rate is None or ident is None:
            return True
        self._last.wait = limit_hit(scope=self.scope, ident=ident, rate=rate)
        return self._last.wait is None

    def wait(self) -> float | None:
        return getattr(self._last, "wait", None)


class TokenThrottle(SettingThrottle):
    """Requests made with an API token, per token (`RULECENTER_API_RATE`)."""

    scope = "api-token"
    setting = "RULECENTER_API_RATE"

    def ident(self, request: HttpRequest) -> str | None:
        if getattr(request, "auth", None) is None:
            return None
        header = request.headers.get("Authorization", "")
        return f"token:{header.partition(' ')[2].strip()}"


class AddressThrottle(SettingThrottle):
    """Requests without a token, per address (`RULECENTER_API_ANON_RATE`)."""

    scope = "api-address"
    setting = "RULECENTER_API_ANON_RATE"

    def ident(self, request: HttpRequest) -> str | None:
        if getattr(request, "auth", None) is not None:
            return None
        return f"addr:{client_address(request)}"


class VoteThrottle(SettingThrottle):
    """Votes per member, shared with the consultation page's form (`RULECENTER_VOTE_RATE`)."""

    scope = "vote"
    setting = "RULECENTER_VOTE_RATE"

    def ident(self, request: HttpRequest) -> str | None:
        return member_ident(request)


class CaseThrottle(SettingThrottle):
    """Cases filed per member, shared with the page's form (`RULECENTER_CASE_RATE`)."""

    scope = "case"
    setting = "RULECENTER_CASE_RATE"

    def ident(self, request: HttpRequest) -> str | None:
        return member_ident(request)


class SearchThrottle(SettingThrottle):
    """Searches per address, shared with the /search/ page (`RULECENTER_SEARCH_RATE`)."""

    scope = "search"
    setting = "RULECENTER_SEARCH_RATE"

    def ident(self, request: HttpRequest) -> str | None:
        return f"addr:{client_address(request)}"


API_THROTTLES: list[BaseThrottle] = [TokenThrottle(), AddressThrottle()]
VOTE_THROTTLES: list[BaseThrottle] = [*API_THROTTLES, VoteThrottle()]
SEARCH_THROTTLES: list[BaseThrottle] = [*API_THROTTLES, SearchThrottle()]
CASE_THROTTLES: list[BaseThrottle] = [*API_THROTTLES, CaseThrottle()]


# --- sign-in lockout (django-axes' callables, named in config/settings/base.py) ---------------------------


def signin_failure_limit(request: HttpRequest | None = None, credentials: Any = None) -> int:
    return int(settings.RULECENTER_SIGNIN_FAILURES)


def signin_cool_off(request: HttpRequest | None = None) -> timedelta:
    return timedelta(minutes=settings.RULECENTER_SIGNIN_COOLOFF_MINUTES)


def _signin_wait(request: HttpRequest, credentials: Any) -> float:
    """Seconds until the lock ends: from the last counted failure (failures while locked are not counted)."""
    cool_off = signin_cool_off(request).total_seconds()
    handler = str(getattr(settings, "AXES_HANDLER", ""))
    if handler.endswith("AxesDatabaseHandler"):
        from axes.helpers import get_client_username
        from axes.models import AccessAttempt
        from django.db.models import Max, Q

        username = get_client_username(request, credentials)
        address = getattr(request, "axes_ip_address", None) or client_address(request)
        matching = Q(ip_address=address) | (Q(username=username) if username else Q())
        last = AccessAttempt.objects.filter(matching).aggregate(last=Max("attempt_time"))["last"]
        if last is not None:
            return max(1.0, cool_off - float((timezone.now() - last).total_seconds()))
        return cool_off
    # The cache handler: the lock ends when the counter that locked expires (Redis knows when).
    from axes.helpers import get_cache, get_client_cache_keys

    axes_cache = get_cache()
    try:
        client = axes_cache._cache  # Django's RedisCache
        keys = [axes_cache.make_and_validate_key(key) for key in get_client_cache_keys(request, credentials)]
        ttls = [client.get_client(key).ttl(key) for key in keys]
    except Exception:
        return cool_off  # another cache backend: the whole cool-off, an upper bound
    remaining = [float(ttl) for ttl in ttls if isinstance(ttl, int) and ttl > 0]
    return max(remaining) if remaining else cool_off


class SigninCacheHandler(AxesCacheHandler):  # type: ignore[misc]
    """django-axes' cache handler, failing closed: while Redis cannot be reached, failed sign-ins cannot be
    counted, so nobody signs in (a 503, `signin_locked_response`) — reads go on, passwords are not guessed."""

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        backend = caches[DEFAULT_CACHE_ALIAS]
        if isinstance(backend, ResilientRedisCache) and not backend.reachable():
            request.rulecenter_signin_unavailable = True  # type: ignore[attr-defined]
            return True
        return bool(super().is_locked(request, credentials))


def signin_locked_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """What both sign-in doors (the admin's and the members') answer while locked: 429, the wait, Retry-After;
    while the counter's store is unreachable, 503 and a word that signing in is paused."""
    if getattr(request, "rulecenter_signin_unavailable", False):
        response = render(
            request,
            "error.html",
            {"heading": _(SIGNIN_PAUSED_HEADING), "message": _(SIGNIN_PAUSED)},
            status=503,
        )
        response["Retry-After"] = "30"
        response["Cache-Control"] = "no-store"
        return response
    wait = _signin_wait(request, credentials)
    message = _(SIGNIN_LOCKED_MESSAGE).format(wait=wait_text(wait))
    return limited_page(request, wait, heading=_(SIGNIN_LOCKED_HEADING), message=message)
