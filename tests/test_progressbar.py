"""The CLI's status line (issue #20): drawn on a terminal after a second, erased at the end; nothing at
all when stderr is not a terminal (CI logs, pipes, agents)."""

from __future__ import annotations

import io
import time

from traintriage import progressbar


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_status_line_draws_on_a_terminal_and_erases_itself(monkeypatch) -> None:
    monkeypatch.setattr(progressbar, "AFTER_S", 0.05)
    tty = _Tty()
    with progressbar.status_line("triage", tty):
        time.sleep(0.4)
    out = tty.getvalue()
    assert "traintriage triage: working" in out and out.endswith("\r\033[K")


def test_nothing_is_written_off_a_terminal_or_for_long_running_commands(monkeypatch) -> None:
    monkeypatch.setattr(progressbar, "AFTER_S", 0.0)
    pipe = io.StringIO()
    with progressbar.status_line("triage", pipe):
        time.sleep(0.2)
    assert pipe.getvalue() == ""
    tty = _Tty()
    with progressbar.status_line("watch", tty):
        time.sleep(0.2)
    assert tty.getvalue() == ""


def test_a_quick_command_draws_nothing() -> None:
    tty = _Tty()
    with progressbar.status_line("inspect", tty):
        pass
    assert tty.getvalue() == ""
