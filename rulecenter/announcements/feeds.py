"""News feeds: RSS 2.0, Atom 1.0 and JSON Feed 1.1 of the newest published announcements, all or per category.

A conditional GET is answered from the listing counter alone (one primary-key read): readers that poll every
few minutes cost that much until an announcement in the feed's scope is published, edited or withdrawn.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import reverse
from django.utils import feedgenerator, timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.html import escape
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.utils.xmlutils import SimplerXMLGenerator

from . import feed_selectors, selectors
from .feed_selectors import FeedItem
from .models import Category
from .selectors import ListingStamp

FEED_TITLE = "新闻动态"
FEED_TITLE_IN_CATEGORY = "新闻动态 - {category}"
FEED_DESCRIPTION = "了解更多行业资讯"
FEED_AUTHOR = "规则中心"
FEED_LANGUAGE = "zh-cn"
FEED_CATEGORY_UNKNOWN = "栏目“{slug}”不存在，无法订阅。"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
CONTENT_NAMESPACE = "http://purl.org/rss/1.0/modules/content/"

# Category.slug is an ASCII SlugField of at most 64 characters; anything else cannot name one.
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """Changes when a deploy changes how feeds are written, so old ETags stop matching."""
    digest = hashlib.sha256()
    for path in (Path(__file__), Path(feed_selectors.__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _shown(moment: datetime) -> datetime:
    """In the site's time zone (Asia/Shanghai by default), to the second, as readers show it."""
    return timezone.localtime(moment).replace(microsecond=0)


def _site_url(path: str) -> str:
    return settings.RULECENTER_SITE_URL.rstrip("/") + path


class NewsRss(feedgenerator.Rss201rev2Feed):
    """RSS 2.0 with the full text in content:encoded and the last edit in atom:updated."""

    def rss_attributes(self) -> dict[str, str]:
        return {**super().rss_attributes(), "xmlns:content": CONTENT_NAMESPACE}

    def add_item_elements(self, handler: SimplerXMLGenerator, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, item)
        if item["updateddate"] is not None:
            handler.addQuickElement("atom:updated", feedgenerator.rfc3339_date(item["updateddate"]))
        handler.addQuickElement("content:encoded", item["content_html"])


class NewsAtom(feedgenerator.Atom1Feed):
    """Atom 1.0 with the full text as the entry's HTML content."""

    def add_item_elements(self, handler: SimplerXMLGenerator, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, item)
        handler.addQuickElement("content", item["content_html"], {"type": "html"})


class NewsJson(feedgenerator.SyndicationFeed):
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/)."""

    content_type = "application/feed+json; charset=utf-8"

    def document(self) -> dict[str, Any]:
        author = {"name": self.feed["author_name"], "url": self.feed["link"]}
        document: dict[str, Any] = {
            "version": JSON_FEED_VERSION,
            "title": self.feed["title"],
            "home_page_url": self.feed["link"],
            "feed_url": self.feed["feed_url"],
            "description": self.feed["description"],
            "language": self.feed["language"],
            "authors": [author],
            "items": [self._item(item) for item in self.items],
        }
        return {key: value for key, value in document.items() if value is not None}

    @staticmethod
    def _item(item: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": item["unique_id"],
            "url": item["link"],
            "title": item["title"],
            "content_html": item["content_html"],
            "summary": item["summary_text"],
            "date_published": feedgenerator.rfc3339_date(item["pubdate"]),
            "tags": list(item["categories"]),
        }
        if item["updateddate"] is not None:
            entry["date_modified"] = feedgenerator.rfc3339_date(item["updateddate"])
        return entry

    def write(self, outfile: Any, encoding: str) -> None:
        outfile.write(json.dumps(self.document(), ensure_ascii=False, indent=1))


@dataclass(frozen=True, slots=True)
class NewsFeedScope:
    """What one request's feed covers: all news or one category, at one version of that listing."""

    category: Category | None
    stamp: ListingStamp

    @property
    def query(self) -> str:
        return f"?category={self.category.slug}" if self.category else ""


class NewsFeed(Feed[FeedItem, NewsFeedScope]):
    """The newest published announcements; subclasses choose the format."""

    feed_type: type[NewsRss | NewsAtom | NewsJson]
    url_name: ClassVar[str]
    language = FEED_LANGUAGE
    author_name = FEED_AUTHOR
    description = FEED_DESCRIPTION
    item_guid_is_permalink = False

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        scope = self.get_object(request)
        etag = self._etag(request, scope)
        last_modified = self._last_modified(scope)
        response = get_conditional_response(
            request,
            etag=etag,
            last_modified=int(last_modified.timestamp()) if last_modified else None,
        )
        if response is None:
            feed = self.get_feed(scope, request)
            response = HttpResponse(content_type=self.feed_type.content_type)
            feed.write(response, "utf-8")
        response["ETag"] = etag
        if last_modified is not None:
            response["Last-Modified"] = http_date(last_modified.timestamp())
        if response.status_code in (200, 304):  # not a 412 from a failed If-Match
            patch_cache_control(response, public=True, max_age=settings.RULECENTER_HTTP_MAX_AGE)
        return response

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> NewsFeedScope:
        slug = request.GET.get("category", "")
        category = None
        if slug:
            category = selectors.category_by_slug(slug) if _SLUG.fullmatch(slug) else None
            if category is None:
                shown = "".join(char for char in slug[:64] if char.isprintable())
                raise Http404(_(FEED_CATEGORY_UNKNOWN).format(slug=shown))
        return NewsFeedScope(category=category, stamp=selectors.listing_stamp(category=category))

    def _etag(self, request: HttpRequest, scope: NewsFeedScope) -> str:
        # Everything the body depends on: the listing's version, the host the links are built on, the code.
        category = f"{scope.category.slug}:{scope.category.name}" if scope.category else ""
        version = (
            f"{self.url_name}|{scope.stamp.scope}|{scope.stamp.version}|{category}"
            f"|{settings.RULECENTER_FEED_ITEMS}|{request.scheme}://{request.get_host()}"
            f"|{settings.RULECENTER_SITE_URL}|{_code_digest()}"
        )
        return f'W/"{hashlib.blake2b(version.encode(), digest_size=8).hexdigest()}"'

    @staticmethod
    def _last_modified(scope: NewsFeedScope) -> datetime | None:
        # The listing's change time covers edits and withdrawals, which the newest item's date would miss;
        # the newest date stands in only for a listing whose counter has no change time.
        changed = feed_selectors.listing_changed_at(scope.stamp)
        if changed is None:
            changed = feed_selectors.newest_published_at(category=scope.category)
        return None if changed is None else min(changed, timezone.now())

    def title(self, obj: NewsFeedScope) -> str:
        if obj.category is None:
            return FEED_TITLE
        return FEED_TITLE_IN_CATEGORY.format(category=obj.category.name)

    def link(self, obj: NewsFeedScope) -> str:
        return reverse("announcements:list") + obj.query

    def feed_url(self, obj: NewsFeedScope) -> str:
        return reverse(f"feeds:{self.url_name}") + obj.query

    def feed_guid(self, obj: NewsFeedScope) -> str:
        return _site_url(self.feed_url(obj))

    def items(self, obj: NewsFeedScope) -> list[FeedItem]:
        return feed_selectors.feed_items(category=obj.category, limit=settings.RULECENTER_FEED_ITEMS)

    def item_title(self, item: FeedItem) -> str:
        return item.title

    def item_description(self, item: FeedItem) -> str:
        # RSS descriptions and Atom summaries (type="html") are HTML; the stored excerpt is plain text.
        return escape(item.excerpt)

    def item_link(self, item: FeedItem) -> str:
        return reverse("announcements:detail", args=[item.id])

    def item_guid(self, item: FeedItem) -> str:
        # On the configured site URL rather than the request's host, so it never changes with the host.
        return _site_url(self.item_link(item))

    def item_pubdate(self, item: FeedItem) -> datetime:
        return _shown(item.published_at)

    def item_updateddate(self, item: FeedItem) -> datetime:
        # Atom's `updated` and JSON Feed's `date_modified`: the last correction, which the news page lists.
        return _shown(item.corrected_at or item.published_at)

    def item_categories(self, item: FeedItem) -> tuple[str, ...]:
        return (item.category_name,)

    def item_extra_kwargs(self, item: FeedItem) -> dict[str, str]:
        return {"content_html": item.body_html, "summary_text": item.excerpt}


class NewsRssFeed(NewsFeed):
    feed_type = NewsRss
    url_name = "news-rss"


class NewsAtomFeed(NewsFeed):
    feed_type = NewsAtom
    url_name = "news-atom"
    subtitle = FEED_DESCRIPTION


class NewsJsonFeed(NewsFeed):
    feed_type = NewsJson
    url_name = "news-json"
