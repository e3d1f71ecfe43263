"""The header's language switch: a form without JavaScript, remembered in the language cookie, pages that
vary on it; and the header's links reachable on a phone through a menu that needs no script."""

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db


def test_choosing_english_is_remembered_and_returns_to_the_page(client: Client) -> None:
    page = client.get("/rules/").content.decode()
    assert (
        '<button type="submit" name="language" value="en" lang="en" aria-pressed="false">English</button>'
        in page
    )
    chosen = client.post("/language/", {"language": "en", "next": "/rules/?page=1"})
    assert (chosen.status_code, chosen["Location"]) == (302, "/rules/?page=1")
    cookie = chosen.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "en"
    assert cookie["samesite"] == "Lax"
    english = client.get("/rules/")
    assert '<html lang="en">' in english.content.decode()
    assert "Cookie" in english["Vary"]  # a shared cache keys the page by the choice
    assert 'value="en" lang="en" aria-pressed="true"' in english.content.decode()
    back = client.post("/language/", {"language": "zh-hans", "next": "/rules/"})
    assert back.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert '<html lang="zh-hans">' in client.get("/rules/").content.decode()


def test_a_page_without_the_cookie_does_not_vary_on_cookies(client: Client) -> None:
    response = client.get("/rules/", headers={"accept-language": "en"})
    assert "Cookie" not in response.get("Vary", "")
    assert '<html lang="en">' in response.content.decode()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", ""])
def test_the_switch_never_sends_the_reader_off_the_site(client: Client, target: str) -> None:
    response = client.post("/language/", {"language": "en", "next": target})
    assert (response.status_code, response["Location"]) == (302, "/")


def test_an_unknown_language_sets_nothing_and_get_is_refused(client: Client) -> None:
    response = client.post("/language/", {"language": "fr", "next": "/rules/"})
    assert response.status_code == 302
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert client.get("/language/").status_code == 405


def test_every_header_link_is_in_the_phone_menu_too(client: Client) -> None:
    page = client.get("/news/").content.decode()
    desktop = page[
        page.index('<nav class="site-nav"') : page.index("</nav>", page.index('<nav class="site-nav"'))
    ]
    menu_start = page.index('<details class="site-menu">')
    menu = page[menu_start : page.index("</details>", menu_start)]
    for href in ("/news/", "/rules/", "/consultations/", "/calendar/", "/notifications/subscribe/"):
        assert f'href="{href}"' in desktop
        assert f'href="{href}"' in menu
    assert "<summary>菜单</summary>" in menu
