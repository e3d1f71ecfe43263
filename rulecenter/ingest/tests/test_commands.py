"""`rulecenter extract` and `rulecenter import_listing`: output, and a clear message for every bad input."""

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from rulecenter.announcements.demo import SEED_FILE
from rulecenter.announcements.models import Announcement
from rulecenter.ingest.models import ImportedItem

SEED = SEED_FILE.read_bytes()
NOTICE = "《1688指定渠道禁限售规则》和其相关规则的更新公示\n本次更新于2025年2月10日公示,2025年2月18日生效。"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


class FakeStdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_extract_prints_the_issues_json(tmp_path: Path) -> None:
    payload = json.loads(run("extract", write(tmp_path, "notice.txt", NOTICE.encode())))
    assert payload == {
        "kind": "rule_change_notice",
        "notice_date": "2025-02-10",
        "effective_date": "2025-02-18",
        "comment_start": None,
        "comment_end": None,
        "rule_names": ["1688指定渠道禁限售规则"],
        "links": [],
    }


@pytest.mark.parametrize("args", [("extract",), ("extract", "-")])
def test_extract_reads_standard_input(monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]) -> None:
    monkeypatch.setattr(sys, "stdin", FakeStdin("意见征集时间：2025/03/01~2025/03/07".encode()))
    payload = json.loads(run(*args))
    assert (payload["comment_start"], payload["comment_end"]) == ("2025-03-01", "2025-03-07")


def test_extract_reads_other_encodings_when_told(tmp_path: Path) -> None:
    path = write(tmp_path, "gbk.txt", NOTICE.encode("gbk"))
    assert json.loads(run("extract", "--encoding", "gbk", path))["effective_date"] == "2025-02-18"
    with pytest.raises(CommandError, match="看起来是 GBK/GB18030 编码"):
        run("extract", path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "是空的"),
        (b"\x00\x01\x02\x03binary", "不是文本文件"),
    ],
)
def test_extract_refuses_bad_files(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("extract", write(tmp_path, "bad.txt", data))


def test_extract_names_a_missing_file() -> None:
    with pytest.raises(CommandError, match=re.escape("找不到文件“/nonexistent/notice.txt”")):
        run("extract", "/nonexistent/notice.txt")


@pytest.mark.django_db
def test_import_listing_imports_the_seed_and_reports(tmp_path: Path) -> None:
    output = run("import_listing", str(SEED_FILE))
    assert "导入 12 条，更新 0 条，跳过 0 条" in output
    assert "还有 1 条未读到" in output
    assert Announcement.objects.count() == 12
    again = run("import_listing", str(SEED_FILE))
    assert "导入 0 条，更新 0 条，跳过 12 条（未变化 12，重复 0）" in again
    assert Announcement.objects.count() == 12


@pytest.mark.django_db
def test_import_listing_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "预览（未写入）" in run("import_listing", "--dry-run", str(SEED_FILE))
    assert not Announcement.objects.exists()
    gbk = write(tmp_path, "gbk.txt", SEED.decode().encode("gb18030"))
    run("import_listing", "--encoding", "gbk", "--source", "1688", gbk)
    assert set(ImportedItem.objects.values_list("source", flat=True)) == {"1688"}
    monkeypatch.setattr(sys, "stdin", FakeStdin(SEED))
    assert "跳过 12 条" in run("import_listing", "--source", "1688", "-")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "是空的"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", "不是文本文件"),
        (SEED.decode().encode("gb18030"), "看起来是 GBK/GB18030 编码"),
        (NOTICE.encode(), "不是新闻列表页"),
    ],
)
def test_a_bad_file_among_good_ones_imports_nothing(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run("import_listing", str(SEED_FILE), write(tmp_path, "bad.txt", data))
    assert not Announcement.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x01\x02\x03binary", "不是文本文件"),
        (SEED.decode().encode("gb18030"), "看起来是 GBK/GB18030 编码"),
    ],
)
def test_the_console_script_prints_the_message_without_a_traceback(
    tmp_path: Path, data: bytes, message: str
) -> None:
    """What a person at a terminal sees: one line in Chinese and exit status 1."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "RULECENTER_VAR_DIR": str(tmp_path),
    }
    script = Path(sys.executable).parent / "rulecenter"
    for command in ("import_listing", "extract"):
        done = subprocess.run(
            [str(script), command, write(tmp_path, "bad.txt", data)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 1
        assert message in done.stderr
        assert "Traceback" not in done.stderr
