import pytest

from rulecenter.common.pagination import PageNotFound, page_window, pager_for


def test_pager_of_the_seed() -> None:
    pager = pager_for(raw_page="1", total=13, size=12, window=5)
    assert (pager.number, pager.page_count, pager.window) == (1, 2, (1, 2))
    assert not pager.has_previous
    assert pager.has_next


def test_empty_listing_has_one_empty_page() -> None:
    pager = pager_for(raw_page=None, total=0, size=12, window=5)
    assert (pager.number, pager.page_count, pager.offset) == (1, 1, 0)


@pytest.mark.parametrize(
    ("number", "pages", "expected"),
    [
        (1, 100, (1, 2, 3, 4, 5)),
        (50, 100, (48, 49, 50, 51, 52)),
        (100, 100, (96, 97, 98, 99, 100)),
        (2, 3, (1, 2, 3)),
    ],
)
def test_window_stays_inside_the_pages(number: int, pages: int, expected: tuple[int, ...]) -> None:
    assert page_window(number, pages, 5) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "3", "x", "", " 1", "1e3", "２"])
def test_bad_page_numbers_raise_page_not_found_with_the_range(raw: str) -> None:
    with pytest.raises(PageNotFound, match="1 到 2 之间"):
        pager_for(raw_page=raw, total=13, size=12, window=5)
