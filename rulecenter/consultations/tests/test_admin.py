import pytest
import time_machine
from django.test import Client

from rulecenter.accounts.models import Role
from rulecenter.accounts.tests.factories import user_create
from rulecenter.consultations import services
from rulecenter.consultations.models import Consultation, Opinion, OpinionCluster
from rulecenter.rules.tests.factories import shanghai

from .factories import AFTER, DURING, consultation_create, draft_version, member_create

pytestmark = pytest.mark.django_db
LETTER = "延迟发货的赔付从订单金额的5%提高到10%，对小商家负担太重，建议按订单金额分档赔付。"


@pytest.fixture
def editor(client: Client) -> Client:
    client.force_login(user_create("editor", roles=(Role.EDITOR,), is_staff=True))
    return client


@pytest.fixture
def closed() -> Consultation:
    with time_machine.travel(shanghai(2025, 1, 10), tick=False):
        consultation = consultation_create()
    with time_machine.travel(DURING, tick=False):
        for index, reason in enumerate([LETTER, "我认为" + LETTER]):
            user = member_create(f"m{index}").user
            services.vote_cast(consultation=consultation, user=user, choice="reevaluate", reason=reason)
    return consultation


def test_editors_review_opinions_cluster_by_cluster_and_draft_the_report(
    editor: Client, closed: Consultation
) -> None:
    with time_machine.travel(AFTER, tick=False):
        changelist = "/admin/consultations/consultation/"
        assert editor.get(changelist).status_code == 200
        done = editor.post(
            changelist, {"action": "cluster_opinions", "_selected_action": [closed.pk]}, follow=True
        )
        assert "已归并 2 条意见为 1 组相似意见" in done.content.decode()
        cluster = OpinionCluster.objects.get()
        url = f"/admin/consultations/opinioncluster/{cluster.pk}/change/"
        assert editor.get(url).status_code == 200
        bad = editor.post(url, {"verdict": "valid", "code": "spam", "response": "x"})
        assert "不能用于“有效”的结论" in bad.content.decode()
        saved = editor.post(
            url, {"verdict": "valid", "code": "substantive", "response": "将按订单金额分档评估。"}
        )
        assert saved.status_code == 302
        assert set(Opinion.objects.values_list("verdict", flat=True)) == {"valid"}

        drafted = editor.post(
            changelist, {"action": "draft_result", "_selected_action": [closed.pk]}, follow=True
        )
        assert "已起草结果反馈" in drafted.content.decode()
    closed.refresh_from_db()
    assert closed.result_announcement is not None
    assert "平台回应：将按订单金额分档评估。" in closed.result_announcement.body


def test_single_opinions_are_marked_with_a_reason_code(editor: Client, closed: Consultation) -> None:
    services.opinions_collect(consultation=closed)
    opinion = Opinion.objects.first()
    assert opinion is not None
    listing = "/admin/consultations/opinion/"
    assert editor.get(listing).status_code == 200
    editor.post(listing, {"action": "mark_off_topic", "_selected_action": [opinion.pk]})
    opinion.refresh_from_db()
    assert (opinion.verdict, opinion.code) == ("invalid", "off_topic")
    assert editor.get(f"/admin/consultations/opinion/{opinion.pk}/change/").status_code == 200
    assert editor.get("/admin/consultations/vote/").status_code == 200


@time_machine.travel(shanghai(2025, 1, 10), tick=False)
def test_editors_create_consultations_in_the_admin_with_the_same_guards(editor: Client) -> None:
    draft = draft_version()
    add = "/admin/consultations/consultation/add/"
    assert editor.get(add).status_code == 200
    form = {
        "title": "发货规范意见征集",
        "explanation": "",
        "versions": [draft.pk],
        "opens_at_0": "2025-01-15",
        "opens_at_1": "10:00:00",
        "closes_at_0": "2025-01-18",
        "closes_at_1": "10:00:00",
    }
    refused = editor.post(add, form)
    assert "至少需要 7 日" in refused.content.decode()
    created = editor.post(add, {**form, "closes_at_0": "2025-01-22"})
    assert created.status_code == 302, created.content.decode()
    consultation = Consultation.objects.get()
    assert list(consultation.versions.all()) == [draft]
    assert [o.key for o in consultation.options.all()] == ["support", "reevaluate"]
    assert editor.get(f"/admin/consultations/consultation/{consultation.pk}/change/").status_code == 200
