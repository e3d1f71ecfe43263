"""The search page, /search/?q=: parse the input, call the selector, render. Nothing else."""

from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import pgettext
from django.views.decorators.http import require_safe

from rulecenter.announcements import selectors as announcement_selectors
from rulecenter.common import limits
from rulecenter.common.pagination import Pager, page_window

from . import indexer, inputs, selectors, topics
from .backends.tantivy import SOURCE_ANNOUNCEMENT, SOURCE_RULE

TRUE_VALUES = {"1", "true", "on", "yes"}


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str


def _categories() -> list[Choice]:
    announcement = [Choice(c.slug, c.name) for c in announcement_selectors.category_list()]
    rules = [Choice(slug, name) for slug, name in selectors.rule_category_choices()]
    seen = {c.value for c in announcement}
    return announcement + [c for c in rules if c.value not in seen]


def _pager_within_reach(pager: Pager) -> Pager:
    """The pager with no link past the last page a search reaches (its 尾页 is that page)."""
    last = inputs.last_page(pager.size)
    if pager.page_count <= last:
        return pager
    window = page_window(pager.number, last, settings.RULECENTER_PAGER_WINDOW)
    return replace(pager, total=last * pager.size, window=window)


@require_safe
def search_page(request: HttpRequest) -> HttpResponse:
    get = request.GET
    q = get.get("q", "")
    if q.strip():
        # Per address, shared with the search API; only searches count, not the empty form.
        wait = limits.limit_check(request, scope="search", setting="RULECENTER_SEARCH_RATE")
        if wait is not None:
            return limits.limited_page(request, wait)
    params = {
        "kind": get.get("kind", ""),
        "type": get.get("type", ""),
        "category": get.get("category", ""),
        "in_force": "1" if get.get("in_force", "").lower() in TRUE_VALUES else "",
        "from": get.get("from", ""),
        "to": get.get("to", ""),
    }
    context: dict[str, object] = {
        "nav": "search",
        "search_query": selectors.clean(q)[: settings.RULECENTER_SEARCH_MAX_QUERY_CHARS * 2],
        "params": params,
        "kinds": [
            Choice(SOURCE_ANNOUNCEMENT, pgettext("search filter", "公告")),
            Choice(SOURCE_RULE, pgettext("search filter", "规则")),
        ],
        "categories": _categories(),
        "results": None,
        "max_query_chars": settings.RULECENTER_SEARCH_MAX_QUERY_CHARS,
        "error": "",
    }
    status = 200
    try:
        filters = inputs.build_filters(
            kind=params["kind"],
            type=params["type"],
            category=params["category"],
            in_force=bool(params["in_force"]),
            date_from=inputs.parse_day("from", params["from"]),
            date_to=inputs.parse_day("to", params["to"]),
        )
        if q.strip():
            size = settings.RULECENTER_SEARCH_PAGE_SIZE
            inputs.page_check(get.get("page"), size=size)
            indexer.catch_up_for_search()
            results = selectors.search(q=q, filters=filters, raw_page=get.get("page"), size=size)
            context["results"] = results
            context["pager"] = _pager_within_reach(results.pager)
            kept = {"q": results.query.text, **{key: value for key, value in params.items() if value}}
            context["page_query"] = urlencode(kept) + "&page="
            if results.suggestion:
                context["suggestion_query"] = urlencode({**kept, "q": results.suggestion})
            saved = topics.value(
                results.query.text, kind=params["kind"], type=params["type"], category=params["category"]
            )
            if topics.check(saved) is None:  # a search one may subscribe to, as it is
                context["subscribe_query"] = urlencode({"topic": f"search:{saved}"})
                # A subscription is about changes to come: no past window nor "in force now" bounds them.
                context["subscribe_unbounded"] = bool(params["from"] or params["to"] or params["in_force"])
    except (inputs.FilterInvalid, selectors.QueryInvalid) as error:
        context["error"], status = str(error), 400
    except selectors.SearchUnavailable as error:
        context["error"], status = str(error), 503
    return render(request, "search/results.html", context, status=status)
