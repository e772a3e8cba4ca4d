"""The CLI builds only the chosen command's parser, and still lists every command when none is chosen; the console
script ends the process fast without losing output or the exit status."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from traintriage import cli
from traintriage.commands import MODULES

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "corpus" / "runs" / "nan_lr_too_high"


def _choices(parser: argparse.ArgumentParser) -> set[str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(action.choices)


def test_only_the_named_command_is_built() -> None:
    assert cli._only_command(["triage", "run", "--text"]) == "triage"
    assert cli._only_command(["--version"]) is None and cli._only_command(["triagee", "x"]) is None
    assert _choices(cli.build_parser("triage")) == {"triage"}
    assert _choices(cli.build_parser()) == set(MODULES)


def test_a_mistyped_command_lists_them_all(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["triagee", "run"])
    assert exc.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "invalid choice: 'triagee'" in err and all(f"'{name}'" in err for name in MODULES)


def test_options_of_the_chosen_command_still_parse(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "nan_inf"]) == 0
    assert "nan_inf" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        cli.main(["explain", "--no-such-option"])
    assert exc.value.code == cli.EXIT_USAGE


# --- the console script: main() in a process that ends without the interpreter's teardown -------------------

# Block-buffered output, as in a user's shell: PYTHONUNBUFFERED (set on some machines) would hide a missing flush.
BUFFERED = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _command(*args: str, stdout=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "traintriage", *args], stdout=stdout or subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False, env=BUFFERED)


def test_the_hard_exit_keeps_every_byte_and_the_exit_status(tmp_path) -> None:
    """``run()`` ends the process with ``os._exit``: the output must still be flushed whole, through a pipe and
    into a file, and the status must be main()'s. The --text report (~3 KB) fits in the 8 KB write buffer, so
    without the flush it would be lost whole; the JSON (~11-16 KB) goes out in one write larger than it."""
    text = _command("triage", str(RUN), "--text")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Run: ") and len(text.stdout) < 8192
    assert text.stdout.rstrip().splitlines()[-1].strip()  # the last line too
    full = _command("triage", str(RUN), "--pretty")
    report = json.loads(full.stdout)
    assert report["run"]["path"] and report["findings"]
    out = tmp_path / "report.json"
    with open(out, "w") as fh:
        assert _command("triage", str(RUN), "--pretty", stdout=fh).returncode == 0
    assert json.loads(out.read_text()) == report
    assert _command("triage", str(RUN), "--fail-on", "warning").returncode == cli.EXIT_FINDINGS
    missing = _command("triage", str(tmp_path / "missing"))
    assert missing.returncode == cli.EXIT_USAGE and "error:" in missing.stderr


def test_a_reader_that_leaves_early_is_not_an_error() -> None:
    """``traintriage triage RUN | head -1``: no traceback, no 'Exception ignored' at exit, status 0."""
    proc = subprocess.Popen([sys.executable, "-m", "traintriage", "triage", str(RUN), "--pretty"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=BUFFERED)
    assert proc.stdout.readline().strip() == b"{"
    proc.stdout.close()  # as head does after its line
    err = proc.stderr.read().decode()
    assert proc.wait() == 0 and err == ""
