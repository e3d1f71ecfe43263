"""A member's case pages and a rule's statistics page, as a browser sees them."""

from typing import Any

import pytest
from django.test import Client

from rulecenter.accounts.roles import actor_for
from rulecenter.cases import services
from rulecenter.cases.models import Case
from rulecenter.common.tests.pages import unmarked

from .factories import EXE, PDF, PNG, case_file, member, reviewer, shipping_rule, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def rule() -> None:
    shipping_rule()


def form(**fields: Any) -> dict[str, Any]:
    return {
        "subject": "application", "rule": "shipping", "at": "2025-03-15T14:30", "clause": "article-2",
        "penalty_reference": "CF-2025-0315", "text": "当时规则是48小时内发货，我在30小时内发出。", **fields,
    }  # fmt: skip


def test_a_member_files_on_the_page_and_sees_the_pinned_clause_and_timeline(client: Client) -> None:
    shop = member()
    client.force_login(shop.user)
    page = client.get("/me/cases/new/", {"rule": "shipping", "clause": "article-2"}).content.decode()
    assert "关于《发货规范》" in unmarked(page)
    assert 'value="article-2"' in page
    sent = client.post("/me/cases/new/", form(attachments=[upload("决定书.pdf", PDF)]))
    assert sent.status_code == 302, sent.content.decode()
    case = Case.objects.get()
    assert sent["Location"] == f"/me/cases/{case.number}/"
    detail = client.get(sent["Location"]).content.decode()
    assert f"已受理您的申诉，编号 {case.number}" in detail
    assert "第 1 版" in detail
    assert "商家应在48小时内发货" in detail  # the clause as it stood then, not v2's 24 hours
    assert "提交申诉" in detail
    assert "决定书.pdf" in detail
    download = client.get(f"/me/cases/{case.number}/attachments/{case.attachments.get().pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF  # type: ignore[attr-defined]
    assert download["Content-Disposition"].startswith("attachment;")
    assert "no-store" in download["Cache-Control"]
    assert case.number in client.get("/me/cases/").content.decode()


def test_bad_input_on_the_page_is_refused_in_the_page_s_language_and_nothing_stored(client: Client) -> None:
    client.force_login(member().user)
    for fields, message in (
        ({"at": "2023-01-01T00:00"}, "还没有生效的版本"),
        ({"attachments": [upload("invoice.pdf", EXE)]}, "不是图片"),
        ({"attachments": [upload("photo.png", PDF)]}, "与文件扩展名不符"),
        ({"text": ""}, "请写明申诉的内容"),
        ({"at": "not a date"}, "发生时间无效"),
    ):
        refused = client.post("/me/cases/new/", form(**fields))
        assert refused.status_code == 422
        assert message in refused.content.decode()
    english = client.post("/me/cases/new/", form(at="2023-01-01T00:00"), headers={"accept-language": "en"})
    assert "has no version in force" in english.content.decode()
    assert not Case.objects.exists()


def test_not_signed_in_not_a_member_or_not_yours(client: Client) -> None:
    case = case_file(member("shop"), uploads=[upload("a.png", PNG)])
    assert client.get("/me/cases/new/").status_code == 302  # to sign in
    assert client.post("/me/cases/new/", form()).status_code == 302
    client.force_login(reviewer())
    assert client.get("/me/cases/new/").status_code == 403
    client.force_login(member("other").user)
    assert client.get(f"/me/cases/{case.number}/").status_code == 404
    assert client.get(f"/me/cases/{case.number}/attachments/{case.attachments.get().pk}/").status_code == 404
    assert client.post(f"/me/cases/{case.number}/close/").status_code == 404
    assert Case.objects.count() == 1


def test_a_reviewer_downloads_an_attachment_too(client: Client) -> None:
    case = case_file(member(), uploads=[upload("a.png", PNG)])
    client.force_login(reviewer())
    assert client.get(f"/me/cases/{case.number}/attachments/{case.attachments.get().pk}/").status_code == 200


def test_an_oversized_upload_is_refused_before_it_is_read(client: Client, settings: Any) -> None:
    settings.RULECENTER_CASE_ATTACHMENTS_MAX = 1
    settings.RULECENTER_CASE_ATTACHMENT_MAX_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client.force_login(member().user)
    refused = client.post("/me/cases/new/", form(attachments=[upload("big.pdf", PDF + b"0" * 5000)]))
    assert refused.status_code == 413
    assert "上传的内容太大" in refused.content.decode()
    assert not Case.objects.exists()


def test_the_member_escalates_and_closes_on_the_page(client: Client) -> None:
    case = case_file(member(), automated=True)
    client.force_login(case.member)
    services.case_answer(actor=actor_for(reviewer()), case=case, outcome="rejected", answer="系统判定无误。")
    page = client.get(f"/me/cases/{case.number}/").content.decode()
    assert f'action="/me/cases/{case.number}/escalate/"' in page
    assert "系统判定无误" in page
    escalated = client.post(f"/me/cases/{case.number}/escalate/", {"reason": "物流记录可证"})
    assert escalated.status_code == 302
    page = client.get(f"/me/cases/{case.number}/").content.decode()
    assert "已收到您的人工复核申请" in page
    assert f"/me/cases/{case.number}/escalate/" not in page  # once: the button is gone
    assert "物流记录可证" in page
    refused = client.post(f"/me/cases/{case.number}/close/")
    assert refused.status_code == 409
    assert "尚未答复" in refused.content.decode()


def test_the_statistics_page_counts_without_naming_anyone_in_a_fixed_number_of_queries(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    rita = actor_for(reviewer())
    shops = [member(f"shop{n}") for n in range(4)]
    cases = [case_file(shop, text=f"秘密内容{n}") for n, shop in enumerate(shops)]
    services.case_answer(actor=rita, case=cases[0], outcome="upheld", answer="成立")
    services.case_answer(actor=rita, case=cases[1], outcome="rejected", answer="不成立")
    services.case_close(actor=actor_for(cases[1].member), case=cases[1])
    with django_assert_max_num_queries(2):
        page = client.get("/rules/shipping/cases/").content.decode()
    for label, value in (
        ("收到", 4),
        ("处理中", 2),
        ("已答复", 2),
        ("按期答复", "2（100.0%）"),
        ("成立或部分成立", "1（50.0%）"),
    ):
        assert f'<th scope="row">{label}</th><td>{value}' in page
    assert "shop0" not in page
    assert "秘密内容" not in page
    for n in range(4, 12):
        case_file(member(f"shop{n}"))
    with django_assert_max_num_queries(2):
        assert '<th scope="row">收到</th><td>12' in client.get("/rules/shipping/cases/").content.decode()
    assert client.get("/rules/nope/cases/").status_code == 404


def test_filing_is_rate_limited_per_member_on_the_page_and_the_api(client: Client, settings: Any) -> None:
    settings.RULECENTER_CASE_RATE = "2/h"
    shop = member()
    client.force_login(shop.user)
    assert client.post("/me/cases/new/", form()).status_code == 302
    assert client.post("/me/cases/new/", form(text="")).status_code == 422  # a refusal counts too
    limited = client.post("/me/cases/new/", form())
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    from rulecenter.accounts.tests.factories import bearer, token_for

    api = client.post(
        "/api/v1/cases", {"rule": "shipping", "at": "2025-03-15T14:30:00+08:00", "text": "又一件"},
        content_type="application/json", headers=bearer(token_for(shop.user)),
    )  # fmt: skip
    assert api.status_code == 429
    assert Case.objects.count() == 1
    client.force_login(member("other").user)  # another member has their own allowance
    assert client.post("/me/cases/new/", form()).status_code == 302
