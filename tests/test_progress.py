"""The progress bar's on/off rule: an explicit choice, else TOKENMILL_PROGRESS, else the stream."""

from __future__ import annotations

import io

import pytest

from tokenmill._progress import progress_enabled


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("value", ["1", "true", "YES", "on", "always", " Always "])
def test_env_forces_the_bar_on(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TOKENMILL_PROGRESS", value)
    assert progress_enabled(io.StringIO()) is True
    assert progress_enabled(io.StringIO(), enabled=False) is False


@pytest.mark.parametrize("value", ["", "0", "false", "No", "off", "never", "NEVER"])
def test_env_turns_the_bar_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TOKENMILL_PROGRESS", value)
    assert progress_enabled(_Tty()) is False
    assert progress_enabled(_Tty(), enabled=True) is True


@pytest.mark.parametrize("value", [None, "auto", "sometimes"])
def test_otherwise_the_stream_decides(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("TOKENMILL_PROGRESS", raising=False)
    else:
        monkeypatch.setenv("TOKENMILL_PROGRESS", value)
    assert progress_enabled(_Tty()) is True
    assert progress_enabled(io.StringIO()) is False
