"""Every page's frame: the 500 page (even when its template fails); header, footer, pager in the reader's language."""

from collections.abc import Iterator

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client

from rulecenter.common import views


@pytest.fixture
def broken_view(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A URL whose view raises, served the way production serves it (exceptions become 500 pages)."""
    from django.urls import clear_url_caches, path

    import config.urls

    def explode(request: HttpRequest) -> HttpResponse:
        raise RuntimeError("boom")

    monkeypatch.setattr(config.urls, "urlpatterns", [*config.urls.urlpatterns, path("explode/", explode)])
    clear_url_caches()
    yield
    clear_url_caches()


def test_a_failing_page_answers_the_chinese_500_page(broken_view: None) -> None:
    response = Client(raise_request_exception=False).get("/explode/")
    assert response.status_code == 500
    assert "服务器出错了" in response.content.decode()


def test_when_the_error_page_cannot_render_the_message_still_arrives(
    broken_view: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_templates(*args: object, **kwargs: object) -> str:
        raise ValueError("Missing staticfiles manifest entry for 'rulecenter/site.css'")

    monkeypatch.setattr(views, "render_to_string", no_templates)
    response = Client(raise_request_exception=False).get("/explode/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "<h1>服务器错误</h1>" in html
    assert "服务器出错了，我们已记录该问题，请稍后再试。" in html


@pytest.mark.django_db
def test_the_frame_of_every_page_speaks_the_reader_s_language(client: Client) -> None:
    """Header, footer and pager follow Accept-Language; the default stays Chinese."""
    english = client.get("/news/", headers={"accept-language": "en"}).content.decode()
    for words in ("Rule library", "Consultations", "Subscribe", "at least 7 days ahead", "Next", "Last"):
        assert words in english
    assert "0 items · page 1 of 1" in english
    chinese = client.get("/news/").content.decode()
    assert "规则库" in chinese
    assert "后一页" in chinese
    assert "Rule library" not in chinese
    missing = client.get("/no-such-page/", headers={"accept-language": "en"})
    assert missing.status_code == 404
    assert "Page not found" in missing.content.decode()
