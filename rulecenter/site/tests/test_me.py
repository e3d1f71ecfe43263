"""The member's own page (/me/): their subscriptions, votes and exit requests and nobody else's; a visitor who
is not signed in is sent to sign in; a subscription is ended by its owner only, with a POST."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.test import Client

from rulecenter.accounts.models import Member
from rulecenter.accounts.tests.factories import user_create
from rulecenter.common.actors import SYSTEM
from rulecenter.common.tests.pages import unmarked
from rulecenter.consultations.models import Consultation
from rulecenter.consultations.services import vote_cast
from rulecenter.consultations.tests.factories import consultation_create, draft_version, member_create
from rulecenter.notifications.models import Subscription
from rulecenter.notifications.services import subscription_create
from rulecenter.rules import services as rule_services
from rulecenter.rules.models import ChangeBundle
from rulecenter.rules.tests.factories import NEW_TEXT, OLD_TEXT, rule_create, shanghai

pytestmark = pytest.mark.django_db

CREATED = shanghai(2025, 1, 10)
VOTING = shanghai(2025, 1, 18, 12)
SCHEDULING = shanghai(2025, 2, 1)
NOTICE = shanghai(2025, 2, 20)
EFFECTIVE = shanghai(2025, 3, 1)
# The shipping consultation has closed, the factoring one is still open, both bundles are in their notice.
NOW = shanghai(2025, 2, 21, 9)


@dataclass
class World:
    alice: Member
    bob: Member
    carol: Member
    shipping: Consultation
    factoring: Consultation
    returns: ChangeBundle
    payments: ChangeBundle


def bundle_of_a_new_version(slug: str, title: str, bundle_title: str) -> ChangeBundle:
    """A rule in force since 2024 whose next version is noticed at NOTICE and takes effect at EFFECTIVE."""
    rule = rule_create(slug=slug, title=title)
    first = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text=OLD_TEXT)
    rule_services.rule_version_schedule(
        actor=SYSTEM,
        version=first,
        notice_at=shanghai(2024, 1, 1, 10),
        effective_at=shanghai(2024, 1, 10),
        record_past=True,
    )
    second = rule_services.rule_version_create(actor=SYSTEM, rule=rule, text=NEW_TEXT)
    return rule_services.change_bundle_schedule(
        actor=SYSTEM, title=bundle_title, versions=[second], notice_at=NOTICE, effective_at=EFFECTIVE
    )


@pytest.fixture
def world() -> World:
    alice, bob, carol = member_create("alice"), member_create("bob"), member_create("carol")
    with time_machine.travel(CREATED, tick=False):
        shipping = consultation_create()
        factoring = consultation_create(
            versions=[draft_version(slug="factoring", title="保理服务协议")],
            title="《保理服务协议》变更意见征集",
            closes_at=shanghai(2025, 3, 10, 18),
        )
    with time_machine.travel(VOTING, tick=False):
        vote_cast(consultation=shipping, user=alice.user, choice="support")
        vote_cast(consultation=factoring, user=alice.user, choice="reevaluate", reason="保理费率过高")
        vote_cast(consultation=shipping, user=bob.user, choice="reevaluate", reason="乙店认为时限太紧")
        vote_cast(consultation=shipping, user=carol.user, choice="support")
    with time_machine.travel(SCHEDULING, tick=False):
        returns = bundle_of_a_new_version("returns", "1688退货规范", "退货规则调整")
        payments = bundle_of_a_new_version("payments", "1688支付规范", "支付规则调整")
    with time_machine.travel(NOW, tick=False):
        for bundle, member, reason in (
            (returns, alice, "不接受七日处理时限"),
            (payments, alice, ""),
            (returns, bob, "乙店也不接受"),
            (returns, carol, "丙店不接受"),
        ):
            rule_services.exit_request_create(actor=SYSTEM, bundle=bundle, user=member.user, reason=reason)
    return World(alice, bob, carol, shipping, factoring, returns, payments)


def hook(member: Member, target: str, topic: str = "all") -> Subscription:
    return subscription_create(
        actor=SYSTEM, owner=member.user, channel="webhook", target=target, topic=topic, frequency="immediate"
    )


@pytest.fixture
def at_now() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def signed_in(member: Member, **options: Any) -> Client:
    client = Client(**options)
    client.force_login(member.user)
    return client


def test_a_member_sees_their_own_subscriptions_votes_and_exit_requests_and_nobody_elses(
    world: World, at_now: None
) -> None:
    hook(world.alice, "https://example.com/alice-all")
    hook(world.alice, "https://example.com/alice-returns", topic="rule:returns")
    gone = hook(world.alice, "https://example.com/alice-gone", topic="category:market")
    Subscription.objects.filter(pk=gone.pk).update(disabled_at=NOW, disabled_reason="接收方回复 410 Gone")
    hook(world.bob, "https://example.com/bob-all")

    response = signed_in(world.alice).get("/me/")
    assert response.status_code == 200
    page = response.content.decode()

    assert "https://example.com/alice-all" in page
    assert "全部变更" in page
    assert "规则：《1688退货规范》" in page  # a topic is named, not shown as its code
    assert "规则分类：市场管理" in page
    assert "正常" in page
    assert "已停用：接收方回复 410 Gone" in page
    assert page.count('action="/me/subscriptions/') == 3
    assert "bob-all" not in page
    assert 'href="/notifications/subscribe/"' in page
    assert "POST /api/v1/subscriptions" in page

    # Two votes of hers, one closed and one still open; Bob's vote on the shipping consultation is not listed.
    assert page.count(f'href="/consultations/{world.shipping.pk}/"') == 1
    assert f'href="/consultations/{world.factoring.pk}/#vote"' in page  # open: she can still change it
    assert "《保理服务协议》变更意见征集" in page
    assert "已结束" in page
    assert "征集中" in page
    assert page.count("可再评估") == 1  # hers on factoring; Bob's on shipping is his

    # Her two exit requests with the versions that keep binding her; Bob's and Carol's reasons are theirs.
    assert f'href="/rules/bundles/{world.returns.pk}/"' in page
    assert f'href="/rules/bundles/{world.payments.pk}/"' in page
    assert "不接受七日处理时限" in page
    assert 'href="/rules/returns/versions/1/">《1688退货规范》第 1 版' in unmarked(page)
    assert 'href="/rules/payments/versions/1/">《1688支付规范》第 1 版' in unmarked(page)
    assert "乙店也不接受" not in page
    assert "丙店不接受" not in page

    assert "没有需要您确认的变更。" in page
    assert 'href="/me/" aria-current="page"' in page  # the header's link to the page

    bob_page = signed_in(world.bob).get("/me/").content.decode()
    assert "https://example.com/bob-all" in bob_page
    assert "alice" not in bob_page
    assert "乙店也不接受" in bob_page
    assert "《保理服务协议》变更意见征集" not in bob_page


def test_the_page_is_never_kept_by_a_cache_and_the_header_links_it_only_on_private_pages(
    world: World, at_now: None
) -> None:
    client = signed_in(world.alice)
    response = client.get("/me/")
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= cache_control
    assert 'href="/me/"' in client.get("/consultations/").content.decode()  # a member's own page
    assert 'href="/me/"' not in client.get("/news/").content.decode()  # shared with every reader


def test_an_account_with_nothing_yet_sees_empty_sections(at_now: None) -> None:
    client = Client()
    client.force_login(user_create("partner"))  # no member behind it: no votes, no exit requests
    page = client.get("/me/").content.decode()
    assert "您还没有订阅。" in page
    assert "您还没有投过票。" in page
    assert "您没有提交过退出申请。" in page


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(world: World, client: Client) -> None:
    response = client.get("/me/")
    assert response.status_code == 302
    assert response["Location"] == "/consultations/sign-in/?next=/me/"
    kept = hook(world.alice, "https://example.com/alice-all")
    refused = client.post(f"/me/subscriptions/{kept.pk}/delete/")
    assert refused.status_code == 302
    assert refused["Location"].startswith("/consultations/sign-in/?next=")
    assert Subscription.objects.filter(pk=kept.pk).exists()


def test_a_member_ends_their_own_subscription_with_the_csrf_protected_button(
    world: World, at_now: None
) -> None:
    mine = hook(world.alice, "https://example.com/alice-all")
    other = hook(world.alice, "https://example.com/alice-returns", topic="rule:returns")
    browser = signed_in(world.alice, enforce_csrf_checks=True)
    page = browser.get("/me/")
    url = f"/me/subscriptions/{mine.pk}/delete/"
    assert f'action="{url}"' in page.content.decode()

    assert browser.post(url).status_code == 403  # no CSRF token
    assert Subscription.objects.filter(pk=mine.pk).exists()

    done = browser.post(url, {"csrfmiddlewaretoken": page.cookies["csrftoken"].value})
    assert done.status_code == 302
    assert done["Location"] == "/me/#subscriptions"
    assert not Subscription.objects.filter(pk=mine.pk).exists()
    assert Subscription.objects.filter(pk=other.pk).exists()
    after = browser.get("/me/").content.decode()
    assert "已取消订阅。" in after
    assert "alice-all" not in after
    assert "alice-returns" in after
    assert "已取消订阅。" not in browser.get("/me/").content.decode()  # said once


def test_someone_elses_or_an_unknown_subscription_is_a_404_and_stays(world: World, at_now: None) -> None:
    bobs = hook(world.bob, "https://example.com/bob-all")
    alice = signed_in(world.alice)
    assert alice.post(f"/me/subscriptions/{bobs.pk}/delete/").status_code == 404
    assert alice.post(f"/me/subscriptions/{bobs.pk + 1000}/delete/").status_code == 404
    # A superuser may end anyone's subscription through the API; this page is only ever one's own.
    operator = Client()
    operator.force_login(user_create("operator", is_superuser=True, is_staff=True))
    assert operator.post(f"/me/subscriptions/{bobs.pk}/delete/").status_code == 404
    assert Subscription.objects.filter(pk=bobs.pk).exists()


def test_a_get_of_the_delete_address_is_refused_and_ends_nothing(world: World, at_now: None) -> None:
    mine = hook(world.alice, "https://example.com/alice-all")
    response = signed_in(world.alice).get(f"/me/subscriptions/{mine.pk}/delete/")
    assert response.status_code == 405
    assert Subscription.objects.filter(pk=mine.pk).exists()


def test_in_english_the_page_reads_in_english(world: World, at_now: None) -> None:
    hook(world.alice, "https://example.com/alice-all")
    page = signed_in(world.alice).get("/me/", headers={"accept-language": "en"}).content.decode()
    for heading in ("My subscriptions", "My votes", "My exit requests", "My acknowledgments"):
        assert f">{heading}</h2>" in page
    assert "我的订阅" not in page
    assert "All changes" in page
    assert "Unsubscribe" in page
    assert "Closed" in page
    assert "No changes need your acknowledgment." in page


# Session and user (2), subscriptions (1), category names (2) and rule titles (1) for their topics, votes
# with their consultations and options (2), exit requests with their bundles and binding versions (2), the
# member (1) for its notification language.
PAGE_QUERIES = 13


def test_the_page_reads_a_fixed_number_of_queries_however_much_it_lists(
    world: World, at_now: None, django_assert_max_num_queries: Any
) -> None:
    """Carol has one vote, one exit request and two subscriptions; Alice twice as much: the same queries."""
    hook(world.carol, "https://example.com/carol", topic="rule:returns")
    hook(world.carol, "https://example.com/carol", topic="category:market")
    for n, topic in enumerate(["all", "rule:returns", "rule:payments", "category:market"]):
        hook(world.alice, f"https://example.com/alice-{n}", topic=topic)
    for member, rows in ((world.carol, 2), (world.alice, 4)):
        client = signed_in(member)
        with django_assert_max_num_queries(PAGE_QUERIES):
            page = client.get("/me/").content.decode()
        assert page.count('action="/me/subscriptions/') == rows
