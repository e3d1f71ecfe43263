"""Chat robots (DingTalk, WeCom, Feishu): their addresses, messages, signatures and replies.

The signatures are checked end to end: real requests (httpx) to local receivers on loopback that verify as
each platform documents, with code of their own (not robots.py's): DingTalk's sign re-derived from the
URL's `timestamp` and URL-decoded `sign`, Feishu's from the body's; a timestamp more than an hour from the
receiver's clock refused, as both platforms do. Their answers are the platforms' own forms, read back with
`robots.outcome`.
"""

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.utils import translation

from rulecenter.common import outbound
from rulecenter.notifications import robots

DINGTALK_SECRET = "SEC2a6f0b9c1d8e7f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7"
FEISHU_SECRET = "qHfD4kX9mP2sL7vR"
TOKEN = "b9f3c2a1d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d"
WECOM_KEY = "693a91f6-7aoc-4bc4-97a0-0ec2sifa5aaa"
HOOK = "2d7f4e1a-93c5-4b8e-a6f0-1c2d3e4f5a6b"
HOUR_MS = 3600 * 1000

RULE_EFFECTIVE: dict[str, Any] = {
    "rule": "shipping",
    "title": "《发货规范》",
    "version": 3,
    "summary": "发货时限由 48 小时改为 24 小时。",
    "major": True,
    "notice_at": "2025-03-01T02:00:00+00:00",
    "effective_at": "2025-03-08T02:00:00+00:00",
    "url": "https://rules.example.com/rules/shipping/",
    "version_url": "https://rules.example.com/rules/shipping/v/3/",
    "diff_url": "https://rules.example.com/rules/shipping/diff/?from=2&to=3",
}
ANNOUNCEMENT: dict[str, Any] = {
    "id": 7,
    "title": "春节期间物流安排",
    "kind": "notice",
    "category": "logistics",
    "published_at": "2025-01-20T16:30:00+00:00",
    "url": "https://rules.example.com/news/7/",
}


# The receivers


@dataclass
class Platforms:
    """Three robots on one loopback server; `received` keeps the JSON bodies each accepted."""

    base: str = ""
    received: list[tuple[str, Any]] = field(default_factory=list)


def dingtalk_expected_sign(secret: str, timestamp: str) -> str:
    # DingTalk's 加签: "timestamp\nsecret" signed with HmacSHA256 keyed with the secret, Base64 (UTF-8).
    mac = hmac.new(secret.encode("utf-8"), (timestamp + "\n" + secret).encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def feishu_expected_sign(secret: str, timestamp: str) -> str:
    # Feishu's 签名校验: HmacSHA256 keyed with "timestamp\nsecret" over an empty message, Base64.
    mac = hmac.new((timestamp + "\n" + secret).encode("utf-8"), b"", digestmod=hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def dingtalk_answer(query: dict[str, list[str]], body: Any) -> dict[str, Any]:
    if query.get("access_token") != [TOKEN]:
        return {"errcode": 300001, "errmsg": "token is not exist"}
    timestamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]  # sign: URL-decoded
    if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > HOUR_MS:
        return {"errcode": 310000, "errmsg": "invalid timestamp"}
    if not hmac.compare_digest(sign, dingtalk_expected_sign(DINGTALK_SECRET, timestamp)):
        return {"errcode": 310000, "errmsg": "sign not match"}
    markdown = body.get("markdown") if isinstance(body, dict) else None
    if body.get("msgtype") != "markdown" or not isinstance(markdown, dict) or not markdown.get("text"):
        return {"errcode": 40035, "errmsg": "缺少参数 json"}
    return {"errcode": 0, "errmsg": "ok"}


def wecom_answer(query: dict[str, list[str]], body: Any) -> dict[str, Any]:
    if query.get("key") != [WECOM_KEY]:
        return {"errcode": 93000, "errmsg": "invalid webhook url"}
    content = body.get("markdown", {}).get("content") if isinstance(body, dict) else None
    if not isinstance(content, str) or not content:
        return {"errcode": 40008, "errmsg": "invalid message type"}
    if len(content.encode("utf-8")) > 4096:
        return {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}
    return {"errcode": 0, "errmsg": "ok"}


def feishu_answer(hook: str, body: Any) -> dict[str, Any]:
    if hook != HOOK:
        return {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
    timestamp = body.get("timestamp") if isinstance(body, dict) else None
    sign = body.get("sign") if isinstance(body, dict) else None
    refused = {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
    if not isinstance(timestamp, str) or not timestamp.isdigit() or not isinstance(sign, str):
        return refused
    if abs(time.time() - int(timestamp)) > 3600:
        return refused
    if not hmac.compare_digest(sign, feishu_expected_sign(FEISHU_SECRET, timestamp)):
        return refused
    if body.get("msg_type") != "post":
        return {"code": 9499, "msg": "Bad Request"}
    return {"code": 0, "data": {}, "msg": "success"}


@pytest.fixture
def platforms() -> Iterator[Platforms]:
    state = Platforms()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                body = None
            if not isinstance(body, dict) or not self.headers.get("content-type", "").startswith(
                "application/json"
            ):
                answer: dict[str, Any] = {"errcode": 40035, "errmsg": "缺少参数 json"}
            elif parts.path == "/robot/send":
                answer = dingtalk_answer(query, body)
            elif parts.path == "/cgi-bin/webhook/send":
                answer = wecom_answer(query, body)
            elif parts.path.startswith("/open-apis/bot/v2/hook/"):
                answer = feishu_answer(parts.path.rsplit("/", 1)[1], body)
            else:
                answer = {"errcode": 404, "errmsg": "not found"}
            if answer.get("errcode", answer.get("code")) == 0:
                state.received.append((parts.path, body))
            reply = json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def send(channel: str, url: str, body: bytes, headers: dict[str, str]) -> robots.RobotOutcome:
    with httpx.Client(trust_env=False, timeout=5) as client:
        response = client.post(url, content=body, headers=headers)
    return robots.outcome(channel, response.status_code, response.content)


def now() -> datetime:
    return datetime.now(UTC)


# Signatures, verified by the receivers


def test_dingtalk_signed_message_passes_dingtalk_s_verification(platforms: Platforms) -> None:
    url = f"{platforms.base}/robot/send?access_token={TOKEN}"
    robots.target_check("dingtalk", url, any_host=True)
    payload = robots.message("dingtalk", "rule.effective", RULE_EFFECTIVE)
    signed_url, body, headers = robots.signed_request(
        "dingtalk", url, payload, secret=DINGTALK_SECRET, now=now()
    )

    result = send("dingtalk", signed_url, body, headers)

    assert result == robots.RobotOutcome(succeeded=True, error="", rate_limited=False)
    assert platforms.received == [("/robot/send", payload)]
    assert signed_url.startswith(url + "&timestamp=")


@pytest.mark.parametrize(
    "tamper",
    [
        "secret",
        "an hour and more ago",
        "an hour and more ahead",
        "timestamp changed",
        "sign dropped",
        "token",
    ],
)
def test_dingtalk_refuses_what_was_not_signed_with_the_secret_just_now(
    platforms: Platforms, tamper: str
) -> None:
    url = f"{platforms.base}/robot/send?access_token={'x' + TOKEN[1:] if tamper == 'token' else TOKEN}"
    moment = {
        "an hour and more ago": now() - timedelta(minutes=61),
        "an hour and more ahead": now() + timedelta(minutes=61),
    }
    secret = DINGTALK_SECRET + "x" if tamper == "secret" else DINGTALK_SECRET
    payload = robots.message("dingtalk", "rule.noticed", RULE_EFFECTIVE)
    signed_url, body, headers = robots.signed_request(
        "dingtalk", url, payload, secret=secret, now=moment.get(tamper, now())
    )
    if tamper == "timestamp changed":
        signed_url = re.sub(r"timestamp=(\d+)", lambda m: f"timestamp={int(m[1]) + 1}", signed_url)
    if tamper == "sign dropped":
        signed_url = signed_url.partition("&sign=")[0]

    result = send("dingtalk", signed_url, body, headers)

    assert not result.succeeded
    assert result.error.startswith("300001" if tamper == "token" else "310000")
    assert platforms.received == []


def test_dingtalk_sign_is_url_encoded_and_timestamp_in_milliseconds() -> None:
    moment = datetime(2025, 3, 1, 2, 0, 0, 123456, tzinfo=UTC)
    url = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"
    payload = {"msgtype": "markdown", "markdown": {"title": "t", "text": "t"}}

    signed_url, body, headers = robots.signed_request(
        "dingtalk", url, payload, secret="this is secret", now=moment
    )

    query = urlsplit(signed_url).query
    raw = dict(pair.split("=", 1) for pair in query.split("&"))
    assert raw["timestamp"] == "1740794400123"
    assert raw["sign"].endswith("%3D")  # Base64 of 32 bytes ends in "=": URL-encoded
    assert not set("+/=") & set(raw["sign"])
    assert parse_qs(query)["sign"] == [dingtalk_expected_sign("this is secret", "1740794400123")]
    assert json.loads(body) == payload
    assert headers["content-type"].startswith("application/json")


def test_feishu_signed_message_passes_feishu_s_verification(platforms: Platforms) -> None:
    url = f"{platforms.base}/open-apis/bot/v2/hook/{HOOK}"
    robots.target_check("feishu", url, any_host=True)
    payload = robots.message("feishu", "rule.effective", RULE_EFFECTIVE)
    signed_url, body, headers = robots.signed_request("feishu", url, payload, secret=FEISHU_SECRET, now=now())

    result = send("feishu", signed_url, body, headers)

    assert result == robots.RobotOutcome(succeeded=True, error="", rate_limited=False)
    assert signed_url == url  # the signature travels in the body
    ((_path, received),) = platforms.received
    assert isinstance(received["timestamp"], str)
    assert {key: value for key, value in received.items() if key not in ("timestamp", "sign")} == payload
    assert "timestamp" not in payload  # the caller's payload is left as it was


@pytest.mark.parametrize(
    "tamper",
    ["secret", "an hour and more ago", "an hour and more ahead", "timestamp changed", "sign dropped"],
)
def test_feishu_refuses_what_was_not_signed_with_the_secret_just_now(
    platforms: Platforms, tamper: str
) -> None:
    url = f"{platforms.base}/open-apis/bot/v2/hook/{HOOK}"
    moment = {
        "an hour and more ago": now() - timedelta(minutes=61),
        "an hour and more ahead": now() + timedelta(minutes=61),
    }
    secret = FEISHU_SECRET[:-1] if tamper == "secret" else FEISHU_SECRET
    payload = robots.message("feishu", "announcement.published", ANNOUNCEMENT)
    signed_url, body, headers = robots.signed_request(
        "feishu", url, payload, secret=secret, now=moment.get(tamper, now())
    )
    if tamper in ("timestamp changed", "sign dropped"):
        fields = json.loads(body)
        if tamper == "timestamp changed":
            fields["timestamp"] = str(int(fields["timestamp"]) - 1)
        else:
            del fields["sign"]
        body = json.dumps(fields, ensure_ascii=False).encode()

    result = send("feishu", signed_url, body, headers)

    assert not result.succeeded
    assert result.error.startswith("19021")
    assert platforms.received == []


def test_feishu_timestamp_is_in_seconds_and_sign_over_an_empty_message() -> None:
    moment = datetime(2025, 3, 1, 2, 0, 0, 999999, tzinfo=UTC)
    url = f"https://open.feishu.cn/open-apis/bot/v2/hook/{HOOK}"

    _url, body, _headers = robots.signed_request(
        "feishu", url, {"msg_type": "post"}, secret="s3cret", now=moment
    )

    fields = json.loads(body)
    assert fields["timestamp"] == "1740794400"
    assert fields["sign"] == feishu_expected_sign("s3cret", "1740794400")


def test_wecom_needs_no_signature_and_its_key_is_checked(platforms: Platforms) -> None:
    url = f"{platforms.base}/cgi-bin/webhook/send?key={WECOM_KEY}"
    robots.target_check("wecom", url, any_host=True)
    payload = robots.message("wecom", "rule.effective", RULE_EFFECTIVE)
    signed_url, body, headers = robots.signed_request("wecom", url, payload, secret="ignored", now=now())

    assert signed_url == url
    assert json.loads(body) == payload
    assert send("wecom", signed_url, body, headers).succeeded
    wrong = send("wecom", url.replace(WECOM_KEY, "0" + WECOM_KEY[1:]), body, headers)
    assert (wrong.succeeded, wrong.error[:5]) == (False, "93000")
    assert platforms.received == [("/cgi-bin/webhook/send", payload)]


@pytest.mark.parametrize("channel", ["dingtalk", "feishu"])
def test_without_a_secret_nothing_is_added(channel: str) -> None:
    url = robots.EXAMPLES[channel].replace("…", TOKEN if channel == "dingtalk" else HOOK)
    payload = robots.message(channel, "rule.effective", RULE_EFFECTIVE)

    signed_url, body, _headers = robots.signed_request(channel, url, payload, secret="", now=now())

    assert (signed_url, json.loads(body)) == (url, payload)


def test_the_body_is_utf8_json_with_chinese_as_written() -> None:
    payload = robots.message("wecom", "rule.effective", RULE_EFFECTIVE)
    _url, body, _headers = robots.signed_request(
        "wecom", robots.EXAMPLES["wecom"], payload, secret="", now=now()
    )
    assert "《发货规范》".encode() in body


def test_a_naive_now_is_refused() -> None:
    naive = datetime(2025, 1, 1)  # noqa: DTZ001 - the mistake refused
    with pytest.raises(ValueError, match="aware"):
        robots.signed_request("dingtalk", robots.EXAMPLES["dingtalk"], {}, secret="s", now=naive)


# Addresses


@pytest.mark.parametrize(
    ("channel", "url"),
    [
        ("dingtalk", f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"),
        ("wecom", f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}"),
        ("feishu", f"https://open.feishu.cn/open-apis/bot/v2/hook/{HOOK}"),
        ("feishu", f"https://open.larksuite.com/open-apis/bot/v2/hook/{HOOK}"),
        ("dingtalk", f"https://oapi.dingtalk.com:443/robot/send?access_token={TOKEN}"),
    ],
)
def test_the_platforms_own_addresses_are_accepted(channel: str, url: str) -> None:
    robots.target_check(channel, url)


ROBOT_HTTPS = "机器人的网址必须以 https:// 开头。"


@pytest.mark.parametrize(
    ("channel", "url", "refusal"),
    [
        ("dingtalk", f"http://oapi.dingtalk.com/robot/send?access_token={TOKEN}", ROBOT_HTTPS),
        ("dingtalk", f"ftp://oapi.dingtalk.com/robot/send?access_token={TOKEN}", ROBOT_HTTPS),
        (
            "dingtalk",
            f"https://evil.example/robot/send?access_token={TOKEN}",
            "钉钉机器人的网址必须在 oapi.dingtalk.com 上。",
        ),
        (
            "dingtalk",
            f"https://oapi.dingtalk.com.evil.example/robot/send?access_token={TOKEN}",
            "oapi.dingtalk.com 上",
        ),
        (
            "dingtalk",
            f"https://oapi.dingtalk.com:8443/robot/send?access_token={TOKEN}",
            "oapi.dingtalk.com 上",
        ),
        (
            "dingtalk",
            f"https://oapi.dingtalk.com@evil.example/robot/send?access_token={TOKEN}",
            "用户名或密码",
        ),
        (
            "dingtalk",
            f"https://oapi.dingtalk.com/robot/sendx?access_token={TOKEN}",
            "钉钉机器人的网址应形如 https://oapi.dingtalk.com/robot/send?access_token=…。",
        ),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send", "钉钉机器人的网址缺少 access_token"),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=", "缺少 access_token"),
        (
            "dingtalk",
            f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}&timestamp=1&sign=x",
            "应形如",
        ),
        ("dingtalk", f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN} ", "应形如"),
        ("dingtalk", f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}#x", "应形如"),
        (
            "wecom",
            f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?access_token={TOKEN}",
            "企业微信机器人的网址缺少 key",
        ),
        ("wecom", f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}", "qyapi.weixin.qq.com 上"),
        (
            "wecom",
            f"https://qyapi.weixin.qq.com/cgi-bin/message/send?key={WECOM_KEY}",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
        ),
        ("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/", "飞书机器人的网址缺少"),
        ("feishu", f"https://open.feishu.cn/open-apis/bot/v1/hook/{HOOK}", "飞书机器人的网址应形如"),
        ("feishu", f"https://open.feishu.cn/open-apis/bot/v2/hook/{HOOK}?x=1", "应形如"),
        (
            "feishu",
            f"https://open.feishu.com/open-apis/bot/v2/hook/{HOOK}",
            "open.feishu.cn / open.larksuite.com 上",
        ),
        ("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/" + "a" * 2000, "网址最长 2000 个字符。"),
        ("slack", "https://hooks.slack.com/services/x", "没有“slack”这种机器人"),
    ],
)
def test_other_addresses_are_refused_with_the_reason(channel: str, url: str, refusal: str) -> None:
    with pytest.raises(robots.TargetRefused) as refused:
        robots.target_check(channel, url)
    assert refusal in str(refused.value)
    assert isinstance(refused.value, ValueError)
    assert isinstance(refused.value, outbound.TargetRefused)  # handled wherever a webhook's refusal is


def test_any_host_lets_a_local_receiver_in_but_still_wants_the_platform_s_form() -> None:
    robots.target_check("dingtalk", f"http://127.0.0.1:8080/robot/send?access_token={TOKEN}", any_host=True)
    robots.target_check("feishu", f"https://receiver.test/open-apis/bot/v2/hook/{HOOK}", any_host=True)
    with pytest.raises(robots.TargetRefused, match="应形如"):
        robots.target_check("dingtalk", "http://127.0.0.1:8080/hooks?access_token=x", any_host=True)
    with pytest.raises(robots.TargetRefused, match="网址必须以 http:// 或 https:// 开头。"):
        robots.target_check("wecom", f"ftp://127.0.0.1/cgi-bin/webhook/send?key={WECOM_KEY}", any_host=True)
    with pytest.raises(robots.TargetRefused, match="网址缺少主机名。"):
        robots.target_check("wecom", f"http:///cgi-bin/webhook/send?key={WECOM_KEY}", any_host=True)


def test_the_hosts_and_the_rate() -> None:
    assert robots.HOSTS == {
        "dingtalk": ("oapi.dingtalk.com",),
        "wecom": ("qyapi.weixin.qq.com",),
        "feishu": ("open.feishu.cn", "open.larksuite.com"),
    }
    assert robots.PER_MINUTE == 20


# Messages


def shown(channel: str, payload: dict[str, Any]) -> str:
    """All the text a message shows (and, for Feishu, its links' addresses), one string."""
    if channel == "dingtalk":
        assert payload["msgtype"] == "markdown"
        return f"{payload['markdown']['title']}\n{payload['markdown']['text']}"
    if channel == "wecom":
        assert payload["msgtype"] == "markdown"
        assert set(payload["markdown"]) == {"content"}
        return str(payload["markdown"]["content"])
    assert payload["msg_type"] == "post"
    ((_locale, post),) = payload["content"]["post"].items()
    parts = [post["title"]]
    for row in post["content"]:
        for element in row:
            parts += [element["text"], element.get("href", "")]
    return "\n".join(parts)


def links(channel: str, payload: dict[str, Any]) -> list[str]:
    """The addresses a message links to."""
    if channel == "feishu":
        ((_locale, post),) = payload["content"]["post"].items()
        return [element["href"] for row in post["content"] for element in row if element["tag"] == "a"]
    text = shown(channel, payload)
    return re.findall(r"\]\(([^)]*)\)", text) + re.findall(r"<a\b[^>]*>|<(https?:[^>]*)>", text)


CHANNELS = ["dingtalk", "wecom", "feishu"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_rule_change_message_says_what_when_and_where(channel: str) -> None:
    payload = robots.message(channel, "rule.effective", RULE_EFFECTIVE)
    text = shown(channel, payload)

    for expected in (
        "《发货规范》",
        "规则变更生效",
        "重大变更",
        "第 3 版",
        "公示：2025-03-01 10:00",
        "生效：2025-03-08 10:00",
    ):
        assert expected in text
    assert RULE_EFFECTIVE["summary"] in text
    assert links(channel, payload) == [RULE_EFFECTIVE["diff_url"]]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_notice_is_told_as_a_notice(channel: str) -> None:
    text = shown(channel, robots.message(channel, "rule.noticed", {**RULE_EFFECTIVE, "major": False}))
    assert "规则变更公示" in text
    assert "生效" not in text.replace("生效：", "")  # the kind is the notice, not taking effect
    assert "重大变更" not in text


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    ("absent", "link"),
    [((), "diff_url"), (("diff_url",), "version_url"), (("diff_url", "version_url"), "url")],
)
def test_the_link_is_the_diff_else_the_version_else_the_page(
    channel: str, absent: tuple[str, ...], link: str
) -> None:
    data = {key: value for key, value in RULE_EFFECTIVE.items() if key not in absent}
    assert links(channel, robots.message(channel, "rule.effective", data)) == [RULE_EFFECTIVE[link]]


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_link_that_is_not_http_is_left_out(channel: str) -> None:
    data = {**RULE_EFFECTIVE, "diff_url": "javascript:alert(1)"}
    assert links(channel, robots.message(channel, "rule.effective", data)) == [RULE_EFFECTIVE["version_url"]]


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_announcement_message(channel: str) -> None:
    payload = robots.message(channel, "announcement.published", ANNOUNCEMENT)
    text = shown(channel, payload)
    assert "公告发布" in text
    assert "春节期间物流安排" in text
    assert "发布：2025-01-21 00:30" in text  # 16:30 UTC is the next day in Shanghai
    assert links(channel, payload) == [ANNOUNCEMENT["url"]]


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    ("given", "local"),
    [
        ("2025-03-01T18:30:00+00:00", "2025-03-02 02:30"),
        ("2025-03-01T18:30:00Z", "2025-03-02 02:30"),
        ("2025-03-02T03:30:00+09:00", "2025-03-02 02:30"),
        ("2025-03-01T18:30:00", "2025-03-02 02:30"),  # no offset: UTC, as Django stores moments
        (datetime(2025, 3, 1, 18, 30, tzinfo=UTC), "2025-03-02 02:30"),
    ],
)
def test_times_are_shown_in_shanghai_time(channel: str, given: Any, local: str) -> None:
    data = {**RULE_EFFECTIVE, "notice_at": given}
    assert f"公示：{local}" in shown(channel, robots.message(channel, "rule.noticed", data))


@pytest.mark.parametrize("channel", CHANNELS)
def test_missing_or_broken_times_are_left_out(channel: str) -> None:
    data = {**RULE_EFFECTIVE, "notice_at": None, "effective_at": "not a time"}
    text = shown(channel, robots.message(channel, "rule.effective", data))
    assert "公示：" not in text
    assert "生效：" not in text


INJECTION = (
    "《发货规范》\n# 标题 [点我领奖](https://evil.example/a) ![x](https://evil.example/i.png) "
    '<a href="https://evil.example/b">点</a> <@all> <font color="warning">急</font> '
    "https://evil.example/c www.evil.example **粗** `code` \u202etxt.exe"
)


@pytest.mark.parametrize("channel", ["dingtalk", "wecom"])
def test_markdown_in_a_title_or_summary_makes_no_link(channel: str) -> None:
    data = {**RULE_EFFECTIVE, "title": INJECTION, "summary": INJECTION}
    payload = robots.message(channel, "rule.effective", data)
    text = shown(channel, payload)

    assert links(channel, payload) == [RULE_EFFECTIVE["diff_url"]]
    assert text.count("](") == 1
    for control in ("<", ">", "[点", "**粗**", "`", "https://evil", "www.evil", "\n# ", "\u202e"):
        assert control not in text
    assert "点我领奖" in text  # neutralised, not lost
    title_line = next(line for line in text.split("\n") if line.startswith("**"))
    assert "点我领奖" in title_line
    assert "标题" in title_line  # the title's newline did not start a heading


def test_feishu_shows_a_title_as_plain_text_with_no_link() -> None:
    data = {**RULE_EFFECTIVE, "title": INJECTION, "summary": INJECTION}
    payload = robots.message("feishu", "rule.effective", data)
    ((_locale, post),) = payload["content"]["post"].items()

    assert links("feishu", payload) == [RULE_EFFECTIVE["diff_url"]]
    assert {element["tag"] for row in post["content"] for element in row} == {"text", "a"}
    assert "\n" not in post["title"]
    assert "[点我领奖]" in post["title"]  # a text element is shown as written
    for address in ("https://evil", "www.evil", "\u202e"):
        assert address not in shown("feishu", payload)


def fixed_wecom_bytes(data: dict[str, Any]) -> int:
    """The bytes of a WeCom message's content without its summary (and the newline before it)."""
    content = robots.message("wecom", "rule.effective", {**data, "summary": ""})["markdown"]["content"]
    return len(content.encode()) + 1


def test_wecom_content_fits_4096_bytes_cut_between_characters() -> None:
    summary = "调整发货时限😀a" * 3000  # 3-, 4- and 1-byte characters: the limit falls inside one
    payload = robots.message("wecom", "rule.effective", {**RULE_EFFECTIVE, "summary": summary})
    content = payload["markdown"]["content"]
    size = len(content.encode("utf-8"))

    assert 4096 - 4 < size <= 4096
    assert content.endswith(f"\n[查看变更对照]({RULE_EFFECTIVE['diff_url']})")  # the link is kept
    shown_summary = content.split("\n")[-2]
    assert shown_summary.endswith("…")
    assert summary.startswith(shown_summary[:-1])
    assert len(shown_summary) > 500


def test_wecom_summary_that_just_fits_is_not_cut() -> None:
    room = 4096 - fixed_wecom_bytes(RULE_EFFECTIVE)
    fits = robots.message("wecom", "rule.effective", {**RULE_EFFECTIVE, "summary": "a" * room})
    over = robots.message("wecom", "rule.effective", {**RULE_EFFECTIVE, "summary": "a" * (room + 1)})

    assert len(fits["markdown"]["content"].encode()) == 4096
    assert "a" * room + "\n" in fits["markdown"]["content"]
    assert "…" not in fits["markdown"]["content"]
    assert len(over["markdown"]["content"].encode()) <= 4096
    assert "a…\n" in over["markdown"]["content"]


@pytest.mark.parametrize(("channel", "limit"), [("dingtalk", 8000), ("feishu", 8000)])
def test_dingtalk_and_feishu_messages_stay_short(channel: str, limit: int) -> None:
    summary = "规则" * 50_000
    payload = robots.message(channel, "rule.effective", {**RULE_EFFECTIVE, "summary": summary})
    text = shown(channel, payload)
    measured = (
        payload["markdown"]["text"]
        if channel == "dingtalk"
        else json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    )

    assert len(measured.encode()) <= limit
    assert "规则规则…" in text
    assert links(channel, payload) == [RULE_EFFECTIVE["diff_url"]]


@pytest.mark.parametrize("channel", CHANNELS)
def test_broken_text_never_breaks_a_message(channel: str) -> None:
    data = {
        **RULE_EFFECTIVE,
        "title": "规则\ud800\x00\x1b[31m",
        "summary": "\ud83d" + '"\\' * 3000,
        "version": True,
    }
    payload = robots.message(channel, "rule.effective", data)
    _url, body, _headers = robots.signed_request(
        channel, robots.EXAMPLES[channel], payload, secret="s", now=now()
    )

    text = body.decode("utf-8")  # valid UTF-8
    assert "\\u0000" not in text
    assert "\\u001b" not in text
    assert "第 True 版" not in shown(channel, payload)


def test_feishu_speaks_the_subscriber_s_language() -> None:
    active = translation.get_language()
    english = robots.message("feishu", "rule.effective", RULE_EFFECTIVE, language="en")
    chinese = robots.message("feishu", "rule.effective", RULE_EFFECTIVE)

    assert set(english["content"]["post"]) == {"en_us"}
    assert set(chinese["content"]["post"]) == {"zh_cn"}
    assert translation.get_language() == active  # the language is put back


def test_an_unknown_channel_is_refused() -> None:
    with pytest.raises(robots.TargetRefused):
        robots.message("slack", "rule.effective", RULE_EFFECTIVE)


# Replies


@pytest.mark.parametrize(
    ("channel", "status", "body", "succeeded", "error", "rate_limited"),
    [
        ("dingtalk", 200, b'{"errcode":0,"errmsg":"ok"}', True, "", False),
        ("wecom", 200, b'{"errcode":0,"errmsg":"ok"}', True, "", False),
        ("feishu", 200, b'{"code":0,"data":{},"msg":"success"}', True, "", False),
        ("feishu", 200, b'{"Extra":null,"StatusCode":0,"StatusMessage":"success"}', True, "", False),
        (
            "dingtalk",
            200,
            b'{"errcode":310000,"errmsg":"sign not match"}',
            False,
            "310000: sign not match",
            False,
        ),
        (
            "dingtalk",
            200,
            b'{"errcode":130101,"errmsg":"send too fast"}',
            False,
            "130101: send too fast",
            True,
        ),
        (
            "wecom",
            200,
            b'{"errcode":45009,"errmsg":"api freq out of limit"}',
            False,
            "45009: api freq out of limit",
            True,
        ),
        (
            "wecom",
            200,
            b'{"errcode":93000,"errmsg":"invalid webhook url"}',
            False,
            "93000: invalid webhook url",
            False,
        ),
        (
            "wecom",
            200,
            b'{"errcode":130101,"errmsg":"?"}',
            False,
            "130101: ?",
            False,
        ),  # DingTalk's code, not WeCom's
        ("feishu", 200, '{"code":11232,"msg":"频率受限"}'.encode(), False, "11232: 频率受限", True),
        ("feishu", 200, b'{"code":19021,"msg":"sign match fail"}', False, "19021: sign match fail", False),
        (
            "feishu",
            200,
            b'{"errcode":0}',
            False,
            "回复里没有结果代码。",
            False,
        ),  # DingTalk's field, not Feishu's
        ("dingtalk", 500, b'{"errcode":0,"errmsg":"ok"}', False, "HTTP 500; 0: ok", False),
        ("dingtalk", 500, b"Internal Server Error", False, "HTTP 500", False),
        ("wecom", 429, b"", False, "HTTP 429", True),
        ("dingtalk", 302, b"", False, "HTTP 302", False),
        ("dingtalk", 200, b"<html>ok</html>", False, "回复不是 JSON。", False),
        ("dingtalk", 200, b"", False, "回复不是 JSON。", False),
        ("dingtalk", 200, b"{}", False, "回复里没有结果代码。", False),
        ("dingtalk", 200, b'{"errcode":"0","errmsg":"ok"}', False, "回复里没有结果代码。", False),
        ("dingtalk", 200, b'{"errcode":false}', False, "回复里没有结果代码。", False),
        ("feishu", 200, b'[{"code":0}]', False, "回复里没有结果代码。", False),
        ("dingtalk", None, b"", False, "没有收到回复。", False),
    ],
)
def test_outcome(
    channel: str, status: int | None, body: bytes, succeeded: bool, error: str, rate_limited: bool
) -> None:
    assert robots.outcome(channel, status, body) == robots.RobotOutcome(succeeded, error, rate_limited)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\x00garbage",
        b"[" * 200_000,
        b'{"errcode":' + b"9" * 100_000 + b"}",
        b'{"errcode":1,"errmsg":"' + "错".encode() * 10_000 + b'\\n\\u0000"}',
        b'{"errcode":0,"errmsg":"' + b"x" * (64 * 1024) + b'"}',  # past the 64 KiB read: not believed
        b"\x00" * (10 * 1024 * 1024),
    ],
)
def test_bad_bodies_are_failures_with_a_short_error_never_an_exception(body: bytes) -> None:
    result = robots.outcome("dingtalk", 200, body)
    assert not result.succeeded
    assert 0 < len(result.error) <= 200
    assert "\n" not in result.error
    assert "\x00" not in result.error
