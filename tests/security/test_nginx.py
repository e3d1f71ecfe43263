"""The shipped nginx front (deploy/nginx/) in front of a live server: per-address limits that cut a flood in
microseconds and answer like the application, and the client's address passed on so the application's own
limits count the right client (issue 12). Runs Debian's nginx (`make clients` installs it)."""

import contextlib
import http.client
import json
import shutil
import socket
import string
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

ROOT = Path(__file__).resolve().parent.parent.parent
SIGN_IN = "/consultations/sign-in/"

pytestmark = pytest.mark.django_db(transaction=True)

TEMPLATE = ROOT / "deploy" / "nginx" / "rulecenter-local.conf.template"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def front(live_server: LiveServer, settings: Settings, tmp_path: Path) -> Iterator[int]:
    """nginx with the shipped configuration in front of the live server; yields its port."""
    settings.RULECENTER_TRUSTED_PROXY = True
    port = free_port()
    conf = tmp_path / "nginx.conf"
    upstream = live_server.url.removeprefix("http://")
    (tmp_path / "tmp").mkdir()
    conf.write_text(
        string.Template(TEMPLATE.read_text()).substitute(
            prefix=tmp_path,
            deploy=ROOT / "deploy" / "nginx",
            connections=256,
            upstream=upstream,
            keepalive=4,
            listen=f"127.0.0.1:{port}",
        )
    )
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    checked = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen([binary, "-p", str(tmp_path), "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"nginx did not start: {(tmp_path / 'error.log').read_text()}")
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def get(
    port: int, path: str, *, source: str = "127.0.0.1", **headers: str
) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        connection.close()


def test_a_burst_of_sign_in_pages_from_one_address_is_cut_by_nginx_with_a_problem_in_the_readers_language(
    front: int,
) -> None:
    statuses = [get(front, SIGN_IN)[0] for _ in range(30)]
    assert statuses[:21] == [200] * 21  # 30 a minute with a burst of 20: a person never meets it
    assert set(statuses[21:]) == {429}

    status, headers, body = get(front, SIGN_IN)
    assert (status, headers["content-type"], headers["retry-after"]) == (429, "application/problem+json", "1")
    assert headers["cache-control"] == "no-store"
    problem = json.loads(body)
    assert (problem["type"], problem["status"], problem["detail"]) == (
        "urn:rulecenter:problem:rate-limited",
        429,
        "请求过于频繁，请稍后再试。",
    )
    english = json.loads(get(front, SIGN_IN, **{"Accept-Language": "en-GB,en;q=0.9"})[2])
    assert english["detail"] == "Too many requests; please try again in a moment."

    # Another address is not touched by this one's flood.
    assert get(front, SIGN_IN, source="127.0.0.3")[0] == 200


def test_the_application_counts_the_client_address_nginx_passes_not_one_the_client_forged(
    front: int, settings: Settings
) -> None:
    settings.RULECENTER_SEARCH_RATE = "2/min"
    statuses = []
    for forged in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        status, headers, body = get(
            front, "/api/v1/search?q=%E5%8F%91%E8%B4%A7", **{"X-Forwarded-For": forged}
        )
        statuses.append(status)
    assert statuses == [200, 200, 429]
    # The application's refusal (it says how long to wait), not nginx's: nginx allows 20 searches at once.
    assert int(headers["retry-after"]) > 1
    assert "秒" in json.loads(body)["detail"]
    # From another address the application counts afresh.
    assert get(front, "/api/v1/search?q=%E5%8F%91%E8%B4%A7", source="127.0.0.3")[0] == 200
