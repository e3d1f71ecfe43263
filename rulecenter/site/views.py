"""Pages that compose several apps. Views parse input, call selectors and render; nothing else."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.ingest import selectors as ingest_selectors

ANNOUNCEMENT_UNKNOWN = "公告不存在或已撤回。"


@require_safe
def news_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An announcement with its neighbours in the listing and the dates ingest read in it."""
    announcement = announcement_selectors.announcement_get_published(pk=pk)
    if announcement is None:
        raise Http404(_(ANNOUNCEMENT_UNKNOWN))
    newer, older = announcement_selectors.announcement_neighbours(announcement=announcement)
    facts = ingest_selectors.facts_for_announcement(announcement.pk)
    context = {"announcement": announcement, "newer": newer, "older": older, "facts": facts}
    response = render(request, "site/news_detail.html", context)
    patch_cache_control(response, public=True, max_age=settings.RULECENTER_HTTP_MAX_AGE)
    return response
