"""`rulecenter serve` refuses a thread count it cannot use before it starts anything."""

import pytest
from django.core.management import CommandError, call_command


@pytest.fixture(autouse=True)
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a check let a bad value through, the test fails instead of becoming a server."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("serve started a process")

    monkeypatch.setattr("os.execv", refuse)
    monkeypatch.setattr("subprocess.Popen", refuse)


@pytest.mark.parametrize("threads", ["0", "-2", "abc", "４"])
def test_a_bad_thread_count_is_refused_with_a_message(threads: str) -> None:
    with pytest.raises(CommandError, match="线程数须为正整数"):
        call_command("serve", "--threads", threads)


def test_a_bad_web_threads_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_THREADS", "many")
    with pytest.raises(CommandError, match="many"):
        call_command("serve")
