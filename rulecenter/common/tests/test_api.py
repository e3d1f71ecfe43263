"""The API's shared checks: a page past the end and a page size over the limit are refused with a message."""

import pytest
from django.http import Http404

from rulecenter.common.api import PAGE_PAST_END, page_or_404, page_size_checked
from rulecenter.common.pagination import page_count
from rulecenter.common.problems import Problem


@pytest.mark.parametrize(("total", "size", "pages"), [(0, 10, 1), (1, 10, 1), (10, 10, 1), (11, 10, 2)])
def test_an_empty_listing_has_one_page_and_a_partial_page_counts(total: int, size: int, pages: int) -> None:
    assert page_count(total, size) == pages


def test_the_last_page_is_served_and_the_next_is_a_404_naming_the_count() -> None:
    page_or_404(3, total=25, size=10)
    with pytest.raises(Http404) as refused:
        page_or_404(4, total=25, size=10)
    assert str(refused.value) == PAGE_PAST_END.format(page=4, pages=3)


def test_the_page_size_defaults_below_the_limit_and_is_refused_above_it(settings) -> None:
    settings.RULECENTER_API_MAX_PAGE_SIZE = 50
    assert page_size_checked(None, default=20) == 20
    assert page_size_checked(None, default=80) == 50
    assert page_size_checked(50, default=20) == 50
    with pytest.raises(Problem) as refused:
        page_size_checked(51, default=20)
    assert "50" in str(refused.value.detail)
