"""The CLI builds only the chosen command's parser, and still lists every command when none is chosen."""

from __future__ import annotations

import argparse

import pytest

from traintriage import cli
from traintriage.commands import MODULES


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
