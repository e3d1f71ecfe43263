"""The public page of the audit chain (/audit/) and its checkpoints as JSON. Parse, select, render."""

import hashlib
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.http import require_safe

from rulecenter.common.pagination import Pager, pager_for

from . import chain, selectors
from .selectors import Head


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """Changes when a deploy changes the page, its JSON or its feed, so old ETags stop matching."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in [here / "views.py", here / "feeds.py", *sorted((here / "jinja2").rglob("*.html"))]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def etag_for(head: Head, *parts: object) -> str:
    """Everything a response depends on: the head (every write moves it), the checkpoints, the code, the rest."""
    version = "|".join(str(p) for p in (head.seq, head.hash, head.checkpoint_count, _code_digest(), *parts))
    return f'W/"{hashlib.blake2b(version.encode(), digest_size=8).hexdigest()}"'


def not_modified(request: HttpRequest, etag: str) -> bool:
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    return header.strip() == "*" or etag in (tag.strip() for tag in header.split(","))


def cacheable(response: HttpResponse, etag: str) -> HttpResponse:
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={settings.RULECENTER_HTTP_MAX_AGE}"
    return response


def _pager(request: HttpRequest, head: Head) -> Pager:
    return pager_for(
        raw_page=request.GET.get("page"),
        total=head.checkpoint_count,
        size=settings.RULECENTER_AUDIT_PAGE_SIZE,
        window=settings.RULECENTER_PAGER_WINDOW,
    )


@require_safe
def audit_page(request: HttpRequest) -> HttpResponse:
    """What the chain is, its head, the checkpoints newest first, and how to verify them."""
    head = selectors.audit_head()
    pager = _pager(request, head)
    etag = etag_for(head, pager.number, pager.size, get_language())
    if not_modified(request, etag):
        return cacheable(HttpResponseNotModified(), etag)
    context = {
        "nav": "audit",
        "head": head,
        "head_entry": selectors.audit_entry_at(head.seq) if head.seq else None,
        "checkpoints": selectors.checkpoints_page(offset=pager.offset, limit=pager.size),
        "pager": pager,
        "page_query": "page=",
        "genesis_hash": chain.GENESIS_HASH,
        "data_max_bytes": settings.RULECENTER_AUDIT_DATA_MAX_BYTES,
        "checkpoint_hours": settings.RULECENTER_AUDIT_CHECKPOINT_HOURS,
    }
    return cacheable(render(request, "audit/index.html", context), etag)


@require_safe
def checkpoints_json(request: HttpRequest) -> HttpResponse:
    """The head and one page of checkpoints, newest first, for scripts that keep them."""
    head = selectors.audit_head()
    pager = _pager(request, head)
    etag = etag_for(head, pager.number, pager.size, "json")
    if not_modified(request, etag):
        return cacheable(HttpResponseNotModified(), etag)
    checkpoints = selectors.checkpoints_page(offset=pager.offset, limit=pager.size)
    base = reverse("audit:checkpoints-json")
    document = {
        "head": {"seq": head.seq, "hash": head.hash},
        "total": head.checkpoint_count,
        "page": pager.number,
        "pages": pager.page_count,
        "next": f"{base}?page={pager.number + 1}" if pager.has_next else None,
        "checkpoints": [
            {
                "seq": checkpoint.seq,
                "hash": checkpoint.hash,
                "checkpoint": f"{checkpoint.seq}:{checkpoint.hash}",
                "at": checkpoint.at.isoformat(),
                "reason": checkpoint.reason,
            }
            for checkpoint in checkpoints
        ],
        "verify": "rulecenter audit verify --against <seq>:<hash>",
    }
    response = JsonResponse(document, json_dumps_params={"ensure_ascii": False, "indent": 1})
    return cacheable(response, etag)
