"""The checkpoints as an Atom feed (/audit/checkpoints.atom): a reader that keeps the entries keeps the proof.

Each entry is one checkpoint, `seq:hash` in its title and text; anyone holding it can later run
`rulecenter audit verify --against seq:hash` (or their own implementation of docs/audit.md) to check that
nothing recorded up to it was rewritten. Conditional GETs are answered from the head row alone.
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseNotModified
from django.urls import reverse
from django.utils import feedgenerator, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from . import selectors, views
from .models import AuditCheckpoint
from .selectors import Head

FEED_TITLE = "规则中心审计链检查点"
FEED_SUBTITLE = "审计链头的公开记录：保存它们，日后可核对记录未被改写。"
FEED_AUTHOR = "规则中心"
ITEM_TITLE = "检查点：第 {seq} 条 {hash}"
ITEM_TEXT = (
    "{at}（{reason}）审计链的第 {seq} 条，哈希 {hash}。核对：rulecenter audit verify --against {seq}:{hash}"
)


def _site_url(path: str) -> str:
    return settings.RULECENTER_SITE_URL.rstrip("/") + path


class CheckpointAtomFeed(Feed[AuditCheckpoint, Head]):
    feed_type = feedgenerator.Atom1Feed
    author_name = FEED_AUTHOR
    item_guid_is_permalink = False

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        head = self.get_object(request)
        host = f"{request.scheme}://{request.get_host()}"
        etag = views.etag_for(head, "atom", get_language(), host, settings.RULECENTER_FEED_ITEMS)
        if views.not_modified(request, etag):
            response: HttpResponse = HttpResponseNotModified()
        else:
            feed = self.get_feed(head, request)
            response = HttpResponse(content_type=self.feed_type.content_type)
            feed.write(response, "utf-8")
        return views.cacheable(response, etag)

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Head:
        return selectors.audit_head()

    def title(self, obj: Head) -> str:
        return _(FEED_TITLE)

    def subtitle(self, obj: Head) -> str:
        return _(FEED_SUBTITLE)

    def link(self, obj: Head) -> str:
        return reverse("audit:index")

    def feed_url(self, obj: Head) -> str:
        return reverse("audit:checkpoints-atom")

    def feed_guid(self, obj: Head) -> str:
        return _site_url(reverse("audit:checkpoints-atom"))

    def items(self, obj: Head) -> list[AuditCheckpoint]:
        return selectors.checkpoints_page(offset=0, limit=settings.RULECENTER_FEED_ITEMS)

    def item_title(self, item: AuditCheckpoint) -> str:
        return _(ITEM_TITLE).format(seq=item.seq, hash=item.hash)

    def item_description(self, item: AuditCheckpoint) -> str:
        at = timezone.localtime(item.at).strftime("%Y-%m-%d %H:%M:%S")
        return _(ITEM_TEXT).format(at=at, reason=item.get_reason_display(), seq=item.seq, hash=item.hash)

    def item_link(self, item: AuditCheckpoint) -> str:
        return f"{reverse('audit:index')}#checkpoint-{item.pk}"

    def item_guid(self, item: AuditCheckpoint) -> str:
        return _site_url(f"{reverse('audit:index')}#checkpoint-{item.pk}")

    def item_pubdate(self, item: AuditCheckpoint) -> datetime:
        return timezone.localtime(item.at)

    def item_updateddate(self, item: AuditCheckpoint) -> datetime:
        return timezone.localtime(item.at)

    def item_categories(self, item: AuditCheckpoint) -> tuple[str, ...]:
        return (item.reason,)
