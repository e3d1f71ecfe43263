"""The demo's scheduled rule change, for real: `rulecenter serve` (granian and its task worker, as `make run`
starts them) on the demo data, subscribers on a real SMTP server, a webhook receiver and a DingTalk robot
receiver — all told at the notice time by the worker, and nobody else; a visitor's e-mail confirmed by
clicking in Chromium first.

Nothing is mocked and no clock is moved: `RULECENTER_DEMO_NOTICE_SECONDS` puts the demo change's notice a
few seconds after loading, and the test waits for it.
"""

import contextlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from rulecenter.notifications.tests.test_email import Handler as SmtpHandler
from rulecenter.notifications.tests.test_email import Mailbox, text_of
from rulecenter.notifications.tests.test_robots import DINGTALK_SECRET, TOKEN, Platforms
from rulecenter.notifications.tests.test_robots import platforms as platforms  # the fixture
from rulecenter.notifications.tests.test_webhooks import Receiver
from rulecenter.notifications.tests.test_webhooks import receiver as receiver  # the fixture

from .browser import ARTIFACTS, DESKTOP, chromium_page

ROOT = Path(__file__).resolve().parents[2]
NOTICE_SECONDS = 40  # loading, migrating and starting the server take part of it
TOKEN_LINE = re.compile(r"API 令牌 (\S+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    box, port = Mailbox(), free_port()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # its thread outlives pytest's captured streams
    controller = Controller(SmtpHandler(box), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


def rulecenter(*args: str, env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rulecenter", *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=180, check=True, **kwargs,
    )  # fmt: skip


def api(base: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 - our own server
        f"{base}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own server
        return json.loads(response.read())


def wait_for(check: Any, seconds: float, what: Any) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds} s: {what() if callable(what) else what}")


def test_the_demo_change_is_told_at_its_notice_to_exactly_its_subscribers(
    tmp_path: Path, smtp: tuple[int, Mailbox], receiver: Receiver, platforms: Platforms
) -> None:
    smtp_port, mailbox = smtp
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'live.sqlite3'}",
        RULECENTER_VAR_DIR=str(tmp_path),
        RULECENTER_SEARCH_INDEX_DIR=str(tmp_path / "search"),
        RULECENTER_DEMO_NOTICE_SECONDS=str(NOTICE_SECONDS),
        RULECENTER_WEBHOOK_ALLOW_PRIVATE="1",
        RULECENTER_SITE_URL=base,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_WORKERS="1",
    )
    rulecenter("migrate", "--noinput", env=env)
    rulecenter("collectstatic", "--noinput", "-v0", env=env)  # as make run does
    started = time.monotonic()
    loaded = rulecenter("loaddemo", env=env).stdout
    token_match = TOKEN_LINE.search(loaded)
    assert token_match is not None, loaded
    token = token_match.group(1)
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "rulecenter", "serve"], env=env, cwd=ROOT,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(lambda: _answers(f"{base}/news/"), 30, "the server answering")
        webhook = api(base, "/api/v1/subscriptions", token, {"channel": "webhook", "target": receiver.url, "topic": "rule:shipping-conduct"})  # fmt: skip
        api(base, "/api/v1/subscriptions", token, {
            "channel": "dingtalk", "topic": "all", "robot_secret": DINGTALK_SECRET,
            "target": f"{platforms.base}/robot/send?access_token={TOKEN}",
        })  # fmt: skip
        # Someone else's rule: its subscriber hears nothing of this change.
        api(base, "/api/v1/subscriptions", token, {"channel": "webhook", "target": receiver.url + "?other", "topic": "rule:factoring-agreement"})  # fmt: skip
        with chromium_page(tmp_path / "chromium", viewport=DESKTOP) as page:
            # A visitor subscribes by e-mail and confirms by clicking; another never confirms.
            for address in ("visitor@shop.example", "unconfirmed@shop.example"):
                page.goto(f"{base}/notifications/subscribe/?topic=rule:shipping-conduct")
                page.get_by_label("电子邮件地址").fill(address)
                page.get_by_role("button", name="订阅").click()
                expect(page.get_by_role("heading", name="请查收确认邮件")).to_be_visible()
            wait_for(lambda: len(mailbox.to("visitor@shop.example")) == 1, 20, "the confirmation e-mail")
            link = re.search(
                r"http://\S+/notifications/confirm/\S+/", text_of(mailbox.to("visitor@shop.example")[0])
            )
            assert link is not None
            page.goto(link.group(0))
            page.get_by_role("button", name="确认订阅").click()
            expect(page.get_by_role("heading", name="订阅已确认")).to_be_visible()
            assert time.monotonic() - started < NOTICE_SECONDS - 2, (
                "set-up outlasted the notice: raise NOTICE_SECONDS"
            )
            assert receiver.received == []  # nothing before the notice
            assert platforms.received == []

            def member_notices() -> list[Any]:
                """The demo member's notices of rule changes (the demo's case tells them of its filing too)."""
                return [m for m in mailbox.to("demo-voter@example.com") if "规则变更公示" in m["Subject"]]

            wait_for(
                lambda: len(receiver.received) >= 1 and len(platforms.received) >= 1
                and len(mailbox.to("visitor@shop.example")) == 2 and len(member_notices()) == 1,
                NOTICE_SECONDS + 30,
                lambda: "the notice reaching every subscriber: webhook {}, robot {}, visitor {}, member {}".format(
                    len(receiver.received), len(platforms.received),
                    len(mailbox.to("visitor@shop.example")), len(member_notices()),
                ),
            )  # fmt: skip
            time.sleep(2)  # anything more would have come by now
            page.goto(f"{base}/rules/shipping-conduct/")
            expect(page.get_by_text("第 3 版已于")).to_be_visible()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "notice-live-rule.png"), full_page=True)
    finally:
        # `rulecenter serve` stops its children itself; a signal to the whole group reached granian's
        # workers before granian, which then took their exit for a crash and never returned.
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)  # whatever is left of the group
            log.close()

    ((headers, body),) = receiver.received  # the factoring subscriber heard nothing
    payload = Webhook(webhook["secret"]).verify(body, headers)
    assert payload["type"] == "rule.noticed"
    assert payload["data"]["rule"] == "shipping-conduct"
    assert payload["data"]["version"] == 3
    assert payload["data"]["diff_url"] == f"{base}/rules/shipping-conduct/diff/?from=2&to=3"
    ((path, robot_body),) = platforms.received  # signed as DingTalk checks (its receiver verified it)
    assert path == "/robot/send"
    assert "1688商家发货行为管理规范" in robot_body["markdown"]["text"]
    notice = mailbox.to("visitor@shop.example")[1]
    assert notice["Subject"] == "[规则中心] 规则变更公示：1688商家发货行为管理规范"
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    member_subjects = sorted(message["Subject"] for message in mailbox.to("demo-voter@example.com"))
    assert len(member_subjects) == 2, member_subjects  # the notice once, and the demo case's filing
    assert member_subjects[0].startswith("[规则中心] 申诉 SS")
    assert mailbox.to("unconfirmed@shop.example") == [
        mailbox.to("unconfirmed@shop.example")[0]
    ]  # confirmation only


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own server
            return bool(response.status == 200)
    except OSError:
        return False
