from datetime import date, timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.utils import timezone

from rulecenter.accounts.models import ApiToken, Member
from rulecenter.accounts.services import TOKEN_PREFIX, token_hash

from .factories import user_create

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_issue_token_prints_the_token_once_and_stores_only_its_hash() -> None:
    """The token goes to stdout alone (for `$(…)`); the database holds its SHA-256 and a short prefix."""
    user = user_create("alice")
    out, err = run("issue_token", "alice", "--name", "合作方同步")
    token = out.strip()
    assert token.startswith(TOKEN_PREFIX)
    assert len(token) > 40
    record = ApiToken.objects.get()
    assert record.user == user
    assert record.name == "合作方同步"
    assert record.key_hash == token_hash(token)
    assert token.startswith(record.prefix)
    assert token not in {record.prefix, record.key_hash, record.name}
    assert "只显示这一次" in err
    assert record.prefix in err


def test_each_issued_token_is_different() -> None:
    user_create("alice")
    first, _ = run("issue_token", "alice")
    second, _ = run("issue_token", "alice")
    assert first != second
    assert ApiToken.objects.count() == 2


def test_issue_token_for_an_unknown_user_is_a_clear_chinese_error() -> None:
    with pytest.raises(CommandError, match="用户“nobody”不存在。"):
        run("issue_token", "nobody")
    assert not ApiToken.objects.exists()


def test_command_errors_are_printed_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """From the console script a bad username prints one line on stderr and exits 1: no traceback."""
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["rulecenter", "issue_token", "nobody"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "CommandError: 用户“nobody”不存在。" in err
    assert "Traceback" not in err


def test_create_member_with_every_option() -> None:
    out, _ = run(
        "create_member", "shop1", "--verified", "--joined", "2024-03-01", "--shop-name", "义乌小百货"
    )
    member = Member.objects.select_related("user").get()
    assert member.user.username == "shop1"
    assert member.verified is True
    assert member.joined_on == date(2024, 3, 1)
    assert member.shop_name == "义乌小百货"
    assert not member.user.has_usable_password()
    assert "已创建会员“shop1”" in out
    assert "2024-03-01" in out


def test_create_member_defaults_to_today_and_unverified() -> None:
    run("create_member", "shop2")
    member = Member.objects.get()
    assert member.joined_on == timezone.localdate()
    assert member.verified is False
    assert member.shop_name == ""


@pytest.mark.parametrize(
    "joined", ["2025-13-01", "2025-02-30", "yesterday", "20250101", "2025-2-1", "", "２０２５-01-01"]
)
def test_create_member_refuses_a_bad_date_and_creates_nothing(joined: str) -> None:
    with pytest.raises(CommandError, match=r"入驻日期“.*”无效：请按 YYYY-MM-DD"):
        run("create_member", "shop3", "--joined", joined)
    assert not User.objects.exists()


def test_create_member_refuses_a_joined_date_in_the_future() -> None:
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    with pytest.raises(CommandError, match=f"入驻日期 {tomorrow} 晚于今天"):
        run("create_member", "shop4", "--joined", tomorrow)
    assert not User.objects.exists()


def test_create_member_refuses_an_existing_username() -> None:
    user_create("taken")
    with pytest.raises(CommandError, match="用户“taken”已存在。"):
        run("create_member", "taken")
    assert not Member.objects.exists()


def test_create_member_refuses_an_empty_username() -> None:
    with pytest.raises(CommandError, match="用户名不能为空。"):
        run("create_member", "   ")


def test_create_member_names_the_field_of_an_invalid_value() -> None:
    """An invalid username or an over-long shop name is reported with the field's name; nothing is kept."""
    with pytest.raises(CommandError, match="用户名："):
        run("create_member", "no spaces allowed")
    with pytest.raises(CommandError, match="店铺名称："):
        run("create_member", "shop5", "--shop-name", "店" * 101)
    assert not User.objects.exists()
