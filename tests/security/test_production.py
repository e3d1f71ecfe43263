"""Production settings that refuse to be unsafe, `make run`'s own key, and the smaller hardening items.

The settings are imported in a subprocess, as a server would import them, with the environment a careless
operator might give: each unsafe one must stop the process with a message naming what to set.
"""

import os
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from rulecenter.common.actors import SYSTEM
from rulecenter.common.text import markdown_to_html
from rulecenter.consultations import services
from rulecenter.consultations.results import opinions_cluster, opinions_collect
from rulecenter.consultations.tests.factories import CLOSES, DURING, consultation_create, member_create
from rulecenter.rules.tests.factories import shanghai

ROOT = Path(__file__).resolve().parents[2]
SETUP = "import django; django.setup(); from django.conf import settings; print(repr(settings.{name}))"
# What the operator's shell might carry in from a developer's session: never let it decide these tests.
CLEARED = ("DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "RULECENTER_TRUSTED_PROXY")


def environment(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "RULECENTER_VAR_DIR": str(tmp_path / "var"),
    }
    return env | values


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def setting(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-c", SETUP.format(name=name)], env)


@pytest.mark.parametrize(
    ("unsafe", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "insecure-development-key-change-me"}, "not the development key"),
        ({"SECRET_KEY": "django-insecure-" + "k" * 40}, "not the development key"),
        ({"DEBUG": "1"}, "DEBUG is on"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is empty"),
        ({"ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS is empty"),
    ],
)
def test_production_refuses_to_start_unsafe(tmp_path: Path, unsafe: dict[str, str], message: str) -> None:
    """Each unsafe setting stops the process with ImproperlyConfigured and says what to set."""
    result = setting("SECRET_KEY", environment(tmp_path, **unsafe))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_production_without_allowed_hosts_in_the_environment_refuses(tmp_path: Path) -> None:
    """No development default: a production server names its hosts or does not start."""
    env = environment(tmp_path)
    del env["ALLOWED_HOSTS"]
    result = setting("ALLOWED_HOSTS", env)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is empty" in result.stderr


def test_a_safe_production_environment_starts_with_hsts_and_secure_cookies(tmp_path: Path) -> None:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_SSL_REDIRECT, s.DEBUG, s.ALLOWED_HOSTS)"
    )
    result = run([sys.executable, "-c", code], environment(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["31536000", "True", "True", "True", "True", "False", "['example.org']"]


def test_the_proxy_header_is_believed_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    """Anyone can send X-Forwarded-Proto: it marks a request secure only when the operator says a proxy sets it."""
    untrusted = setting("SECURE_PROXY_SSL_HEADER", environment(tmp_path))
    assert untrusted.returncode == 0, untrusted.stderr
    assert untrusted.stdout.strip() == "None"
    trusted = setting("SECURE_PROXY_SSL_HEADER", environment(tmp_path, RULECENTER_TRUSTED_PROXY="1"))
    assert trusted.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_check_deploy_prints_no_warning_under_production_settings(tmp_path: Path) -> None:
    result = run(
        [sys.executable, "-m", "rulecenter", "check", "--deploy", "--settings=config.settings.production"],
        environment(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "System check identified no issues" in output
    assert not re.search(r"\b(WARNINGS|ERRORS)\b|security\.W\d+", output), output


def test_the_wsgi_application_defaults_to_the_production_settings(tmp_path: Path) -> None:
    """A server pointed at config.wsgi with no settings named gets production's refusals, not a demo."""
    env = environment(tmp_path)
    del env["DJANGO_SETTINGS_MODULE"], env["SECRET_KEY"]
    for module in ("config.wsgi", "config.asgi"):
        result = run([sys.executable, "-c", f"import {module}"], env)
        assert result.returncode != 0
        assert "SECRET_KEY must be set" in result.stderr, module


def test_local_settings_make_and_keep_their_own_secret_key(tmp_path: Path) -> None:
    """`make run` needs no key: the first start writes a random one (owner-only), later starts reuse it."""
    env = environment(tmp_path, DJANGO_SETTINGS_MODULE="config.settings.local")
    del env["SECRET_KEY"]
    first = setting("SECRET_KEY", env)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 50
    assert first.stdout.strip() == repr(key)
    assert key != "insecure-development-key-change-me"
    again = setting("SECRET_KEY", env)
    assert again.stdout == first.stdout  # sessions survive a restart
    elsewhere = setting("SECRET_KEY", env | {"RULECENTER_VAR_DIR": str(tmp_path / "other")})
    assert elsewhere.stdout != first.stdout  # no two machines share a key
    given = setting("SECRET_KEY", env | {"SECRET_KEY": "k" * 50})
    assert given.stdout.strip() == repr("k" * 50)


# The smaller items -----------------------------------------------------------------------------------------


@pytest.fixture
def voted(db: None) -> tuple[Client, int]:
    """A member who voted on an open consultation, signed in; returns their client and the consultation."""
    with time_machine.travel(shanghai(2025, 1, 10), tick=False) as clock:
        consultation = consultation_create()
        clock.move_to(DURING)
        member = member_create("shop-signed-in")
        services.vote_cast(consultation=consultation, user=member.user, choice="support", reason="")
    client = Client()
    client.force_login(member.user)
    return client, consultation.pk


def test_a_signed_in_member_sees_a_sign_out_button_that_posts_with_csrf(voted: tuple[Client, int]) -> None:
    client, pk = voted
    page = client.get(f"/consultations/{pk}/").content.decode()
    form = re.search(r'<form method="post" action="/consultations/sign-out/">(.*?)</form>', page, re.S)
    assert form is not None, "no sign-out form in the header"
    assert 'name="csrfmiddlewaretoken"' in form.group(1)
    assert "退出登录" in form.group(1)
    assert "shop-signed-in" in page
    # Anonymous visitors see none, and the shared news page never shows one member's account to another.
    assert "/consultations/sign-out/" not in Client().get(f"/consultations/{pk}/").content.decode()
    assert "/consultations/sign-out/" not in client.get("/news/").content.decode()


def test_sign_out_is_post_only_and_csrf_protected(voted: tuple[Client, int]) -> None:
    client, pk = voted
    assert client.get("/consultations/sign-out/").status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    assert strict.post("/consultations/sign-out/").status_code == 403
    assert client.get(f"/consultations/{pk}/").wsgi_request.user.is_authenticated  # still signed in
    assert client.post("/consultations/sign-out/").status_code == 302
    assert not client.get(f"/consultations/{pk}/").wsgi_request.user.is_authenticated


def test_pages_with_a_members_own_data_are_private(voted: tuple[Client, int]) -> None:
    client, pk = voted
    for url in (f"/consultations/{pk}/", "/consultations/"):
        header = client.get(url)["Cache-Control"]
        assert "private" in header, (url, header)
        assert "public" not in header, (url, header)
    assert "public" in client.get("/news/")["Cache-Control"]  # shared pages stay cacheable


def test_a_result_report_shows_a_planted_link_and_image_as_text(db: None) -> None:
    """A member's opinion quoted in the official 结果反馈 is escaped Markdown: no live link, no image."""
    planted = "[点我](https://evil.example) ![x](https://evil.example/x.png) 请看 www.evil.example"
    with time_machine.travel(shanghai(2025, 1, 10), tick=False) as clock:
        consultation = consultation_create()
        clock.move_to(DURING)
        member = member_create("shop-planter")
        services.vote_cast(consultation=consultation, user=member.user, choice="reevaluate", reason=planted)
        clock.move_to(CLOSES)
        opinions_collect(consultation=consultation)  # what the closing task does
        (cluster,) = opinions_cluster(consultation=consultation)
        services.cluster_review(actor=SYSTEM, cluster=cluster, verdict="valid", code="substantive")
        report = services.consultation_result_draft(actor=SYSTEM, consultation=consultation)
    html = markdown_to_html(report.body)
    assert "[点我](https://evil.example)" in html  # shown as typed
    assert "![x](https://evil.example/x.png)" in html
    assert "evil.example" in html
    assert not re.search(r"<a [^>]*evil|<img", html), html


def test_the_api_docs_load_nothing_from_outside_the_site(client: Client) -> None:
    page = client.get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page), page


@pytest.mark.django_db
def test_staff_sessions_end_sooner_than_members(client: Client) -> None:
    staff = get_user_model().objects.create_user("ops", password="pw-ops-1", is_staff=True)
    member = get_user_model().objects.create_user("shop", password="pw-shop-1")
    client.force_login(staff)
    assert client.session.get_expiry_age() == settings.RULECENTER_STAFF_SESSION_SECONDS
    other = Client()
    other.force_login(member)
    assert other.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    assert settings.RULECENTER_STAFF_SESSION_SECONDS < settings.SESSION_COOKIE_AGE
