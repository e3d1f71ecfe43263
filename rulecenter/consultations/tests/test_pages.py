from typing import Any

import pytest
import time_machine
from django.test import Client

from rulecenter.common.actors import SYSTEM
from rulecenter.common.tests.pages import unmarked
from rulecenter.consultations import services
from rulecenter.consultations.models import Consultation, Vote, VoteHistory
from rulecenter.rules.tests.factories import shanghai

from .factories import AFTER, DURING, consultation_create, draft_version, member_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def consultation() -> Consultation:
    with time_machine.travel(shanghai(2025, 1, 10), tick=False):
        return consultation_create()


@time_machine.travel(DURING, tick=False)
def test_the_list_shows_each_consultation_with_its_status_in_constant_queries(
    client: Client, consultation: Consultation, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(4):
        page = client.get("/consultations/").content.decode()
    assert "《1688商家发货行为管理规范》变更意见征集" in page
    assert "征集中" in page
    with time_machine.travel(shanghai(2025, 1, 10), tick=False):
        consultation_create(versions=[draft_version(slug="other", title="保理服务协议")], title="另一项征集")
    with django_assert_num_queries(4):
        page = client.get("/consultations/").content.decode()
    assert "另一项征集" in page
    assert client.get("/consultations/?page=9").status_code == 404


@time_machine.travel(DURING, tick=False)
def test_an_anonymous_reader_sees_the_draft_diff_and_the_tally_and_is_asked_to_sign_in(
    client: Client, consultation: Consultation
) -> None:
    page = client.get(f"/consultations/{consultation.pk}/").content.decode()
    assert "对比现行第 1 版" in page
    assert '<ins class="diff-ins">' in page
    assert "登录会员账户后投票" in page
    assert f"/consultations/sign-in/?next=/consultations/{consultation.pk}/" in page
    assert 'name="choice"' not in page
    assert "共 0 票" in page
    assert client.get("/consultations/999/").status_code == 404


@time_machine.travel(DURING, tick=False)
def test_a_member_votes_through_the_csrf_protected_form_and_can_change_it(consultation: Consultation) -> None:
    member = member_create()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member.user)
    form = browser.get(f"/consultations/{consultation.pk}/")
    page = form.content.decode()
    assert 'name="choice" value="support" required>' in page  # nothing pre-ticked
    assert "checked" not in page
    url = f"/consultations/{consultation.pk}/"
    assert browser.post(url, {"choice": "support"}).status_code == 403  # no CSRF token
    assert not Vote.objects.exists()

    token = form.cookies["csrftoken"].value
    done = browser.post(url, {"choice": "support", "csrfmiddlewaretoken": token})
    assert done.status_code == 302
    after = browser.get(url).content.decode()
    assert "已记录您的投票：“支持”" in after
    assert "您当前的投票：“支持”" in unmarked(after)

    refused = browser.post(url, {"choice": "reevaluate", "reason": "  ", "csrfmiddlewaretoken": token})
    assert refused.status_code == 400
    assert "选择“可再评估”须填写理由。" in refused.content.decode()
    assert Vote.objects.get().choice == "support"

    browser.post(url, {"choice": "reevaluate", "reason": "赔付标准过高", "csrfmiddlewaretoken": token})
    assert Vote.objects.get().choice == "reevaluate"
    assert VoteHistory.objects.count() == 2


def test_refusals_on_the_page_say_why_and_store_nothing(client: Client, consultation: Consultation) -> None:
    newcomer = member_create("newcomer", verified=False)
    client.force_login(newcomer.user)
    with time_machine.travel(DURING, tick=False):
        page = client.get(f"/consultations/{consultation.pk}/").content.decode()
        assert "只有已认证的会员可以投票" in page
        response = client.post(f"/consultations/{consultation.pk}/", {"choice": "support"})
        assert response.status_code == 403
    client.force_login(member_create().user)
    with time_machine.travel(AFTER, tick=False):
        response = client.post(f"/consultations/{consultation.pk}/", {"choice": "support"})
    assert response.status_code == 409
    assert "意见征集已于 2025-01-22 18:00 截止，不再接受投票。" in response.content.decode()
    assert not Vote.objects.exists()


def test_the_closed_page_keeps_the_ledger_without_identities(
    client: Client, consultation: Consultation
) -> None:
    letter = "延迟发货的赔付从订单金额的5%提高到10%，对小商家负担太重，建议按订单金额分档赔付。"
    with time_machine.travel(DURING, tick=False):
        for index, reason in enumerate([letter, "我认为" + letter, ""]):
            member = member_create(f"shop-owner-{index}")
            choice = "reevaluate" if reason else "support"
            services.vote_cast(consultation=consultation, user=member.user, choice=choice, reason=reason)
    services.opinions_collect(consultation=consultation)
    (cluster,) = services.opinions_cluster(consultation=consultation)
    services.cluster_review(actor=SYSTEM, cluster=cluster, verdict="valid", code="substantive")
    services.cluster_respond(actor=SYSTEM, cluster=cluster, response="将按订单金额分档评估。")
    with time_machine.travel(AFTER, tick=False):
        page = client.get(f"/consultations/{consultation.pk}/").content.decode()
    assert "投票结果" in page
    assert "33%" in page
    assert "67%" in page
    assert "相似意见 2 条，其中有效 2 条" in page
    assert "将按订单金额分档评估。" in page
    assert "shop-owner" not in page


def test_members_sign_in_to_vote(client: Client) -> None:
    member = member_create()
    member.user.set_password("a-long-password-1")
    member.user.save()
    assert "会员登录" in client.get("/consultations/sign-in/").content.decode()
    wrong = client.post("/consultations/sign-in/", {"username": "merchant", "password": "nope"})
    assert wrong.status_code == 200
    assert "请输入一个正确的" in wrong.content.decode()
    done = client.post(
        "/consultations/sign-in/",
        {"username": "merchant", "password": "a-long-password-1", "next": "/consultations/"},
    )
    assert done.status_code == 302
    assert done["Location"] == "/consultations/"
