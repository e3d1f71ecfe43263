"""The public news listing. Views parse input, call selectors and render; nothing else.

The detail page, which shows the facts ingest read beside the text, is composed in rulecenter.site."""

import hashlib
import time
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from rulecenter.common.memo import ProcessMemo
from rulecenter.common.pagination import pager_for
from rulecenter.common.translations import for_reader

from . import selectors

CATEGORY_UNKNOWN = "栏目“{slug}”不存在。"


@lru_cache(maxsize=1)
def _templates_digest() -> str:
    """Changes when a deploy changes the pages' templates, so old ETags stop matching."""
    digest = hashlib.sha256()
    for path in sorted((Path(__file__).parent / "jinja2").rglob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# Pages this process rendered or fetched from the shared cache, by the same key. The key names everything
# the bytes depend on, so a remembered page is never stale, only old; a lookup here costs a dict read
# instead of the cache backend's key check, lock and unpickling (Redis: a round trip).
_pages: ProcessMemo[str, bytes] = ProcessMemo(max_entries=256)


@receiver(setting_changed)
def _forget_pages(*, setting: str, **kwargs: object) -> None:
    if setting == "RULECENTER_PAGE_CACHE_SECONDS":
        _pages.forget()


def _if_none_match(request: HttpRequest, etag: str) -> bool:
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    return header.strip() == "*" or etag in (tag.strip() for tag in header.split(","))


def _canonical_path(category: str | None, page: int) -> str:
    query = urlencode(
        {**({"category": category} if category else {}), **({"page": page} if page > 1 else {})}
    )
    return f"{reverse('announcements:list')}?{query}" if query else reverse("announcements:list")


@require_safe
def news_list(request: HttpRequest) -> HttpResponse:
    slug = request.GET.get("category") or None
    # One query answers everything but the rows: counter, version and categories (selectors.listing_state).
    state = selectors.listing_state(category_slug=slug)
    if state is None:
        raise Http404(_(CATEGORY_UNKNOWN).format(slug=(slug or "")[:64]))
    size = settings.RULECENTER_NEWS_PAGE_SIZE
    window = settings.RULECENTER_PAGER_WINDOW
    pager = pager_for(raw_page=request.GET.get("page"), total=state.stamp.total, size=size, window=window)
    # Everything the page's bytes depend on; the page cache and the ETag are keyed by it.
    version = f"{state.stamp.scope}.{state.digest}.{pager.number}.{size}.{window}"
    version += f".{get_language()}.{_templates_digest()}"
    etag = f'W/"{hashlib.blake2b(version.encode(), digest_size=8).hexdigest()}"'
    if _if_none_match(request, etag):
        response: HttpResponse = HttpResponseNotModified()
    else:
        cache_seconds = settings.RULECENTER_PAGE_CACHE_SECONDS
        cache_key = f"news:page:{version}"
        now = time.monotonic()
        body = _pages.get(cache_key, now=now) if cache_seconds else None
        if body is None and cache_seconds:
            body = cache.get(cache_key)
            if body is not None:
                _pages.put(cache_key, body, until=now + cache_seconds)
        if body is None:
            category = state.category
            items = selectors.listing_page(category=category, stamp=state.stamp, pager=pager)
            context = {
                "category": category,
                "categories": state.categories,
                "items": items,
                # English readers see an editor's translated title where there is one (marked as such).
                "translations": for_reader(
                    lambda: selectors.announcement_translations(ids=[item.id for item in items])
                ),
                "pager": pager,
                "page_query": f"category={category.slug}&page=" if category else "page=",
                # The body is cached for every reader of this page: its address is the canonical one.
                "page_path": _canonical_path(category.slug if category else None, pager.number),
            }
            body = render_to_string("announcements/news_list.html", context, request=request).encode()
            if cache_seconds:
                cache.set(cache_key, body, timeout=cache_seconds)
                _pages.put(cache_key, body, until=now + cache_seconds)
        response = HttpResponse(body)
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={settings.RULECENTER_HTTP_MAX_AGE}"
    return response
