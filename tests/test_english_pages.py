"""Every public page renders in English for an English reader (issue 15): no server error, `lang="en"`,
and the interface's own words in English — the rule and announcement texts stay as written."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from rulecenter.announcements.models import Announcement
from rulecenter.consultations.models import Consultation
from rulecenter.rules.models import Rule

pytestmark = pytest.mark.django_db

# (path, interface words that must not stay Chinese on it, English that must be there)
PAGES = [
    ("/news/", ["新闻动态", "搜索规则和公告", "菜单"], ["News", "Menu"]),
    ("/news/{news}/", ["新闻动态"], ["News"]),
    ("/rules/", ["规则库"], ["Rule library"]),
    ("/rules/{rule}/", ["历史版本", "生效日历", "对这条规则申诉", "申诉统计"], ["Appeal against this rule"]),
    ("/rules/{rule}/history/", ["历史版本"], []),
    ("/rules/{rule}/diff/?from=1&to=2", ["图例"], []),
    ("/rules/{rule}/cases/", ["只公开数字", "收到"], ["Only numbers are public"]),
    ("/consultations/", ["意见征集"], []),
    ("/consultations/{consultation}/", ["规则草案及与现行版本的对比"], []),
    ("/calendar/", ["日历"], []),
    ("/search/?q=发货", ["订阅这个搜索"], ["Subscribe to this search"]),
    ("/notifications/subscribe/", ["电子邮件地址"], []),
    ("/audit/", ["审计链"], []),
]


@pytest.fixture
def demo(db: None) -> dict[str, object]:
    """The demo data; the ids and slugs the paths name (ids differ between databases)."""
    call_command("loaddemo", stdout=StringIO())
    rule = Rule.objects.filter(versions__number=2).order_by("id").first()
    news = Announcement.objects.filter(status=Announcement.Status.PUBLISHED).order_by("id").first()
    consultation = Consultation.objects.order_by("id").first()
    assert rule is not None
    assert news is not None
    assert consultation is not None
    return {"rule": rule.slug, "news": news.pk, "consultation": consultation.pk}


@pytest.mark.parametrize(("path", "chinese", "english"), PAGES)
def test_the_interface_speaks_english(
    client: Client, demo: dict[str, object], path: str, chinese: list[str], english: list[str]
) -> None:
    response = client.get(path.format(**demo), headers={"accept-language": "en"})
    assert response.status_code == 200, path
    page = response.content.decode()
    assert '<html lang="en">' in page
    for word in chinese:
        # A phrase is the interface's own; a short word may also stand in content (titles), so only as a
        # whole element's text or an attribute's value.
        if len(word) >= 5:
            assert word not in page, (path, word)
        else:
            assert f">{word}<" not in page, (path, word)
            assert f'"{word}"' not in page, (path, word)
    for word in english:
        assert word in page, (path, word)


def test_each_page_has_an_address_per_language_named_by_hreflang(
    client: Client, demo: dict[str, object]
) -> None:
    """`?lang=en` shows a page in English whatever the browser asks; every page names both addresses (and the
    plain one as x-default) so search engines and shared links find the right language."""
    page = client.get("/rules/?lang=en", headers={"accept-language": "zh-hans"}).content.decode()
    assert '<html lang="en">' in page
    assert 'hreflang="en" href="http://127.0.0.1:8000/rules/?lang=en"' in page
    assert 'hreflang="zh-Hans" href="http://127.0.0.1:8000/rules/?lang=zh-hans"' in page
    assert 'hreflang="x-default" href="http://127.0.0.1:8000/rules/"' in page
    # The header's switch returns to the page without ?lang=, so the choice it stores is what shows.
    assert '<input type="hidden" name="next" value="/rules/">' in page
    chinese = client.get("/search/?q=fahuo&lang=zh-hans", headers={"accept-language": "en"}).content.decode()
    assert '<html lang="zh-hans">' in chinese
    assert (
        'hreflang="en" href="http://127.0.0.1:8000/search/?q=fahuo&amp;lang=en"' in chinese
    )  # the rest kept
    # The listing names its canonical address: page 1 is /news/.
    listing = client.get("/news/?page=1", headers={"accept-language": "en"}).content.decode()
    assert 'hreflang="en" href="http://127.0.0.1:8000/news/?lang=en"' in listing
    assert '<html lang="zh-hans">' in client.get("/rules/?lang=klingon").content.decode()
