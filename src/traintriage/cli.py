"""The ``traintriage`` command line (and the ``loss-curve-critic`` / ``gradnorm-analyze`` aliases).

Output is JSON by default (for agents and CI) and a readable report with ``--text``. Exit status:
0 done, 1 done and a finding at or above ``--fail-on SEVERITY`` (off unless asked), 2 bad input or
usage. Bad input never shows a traceback: the error says what is wrong and how to fix it
(set ``TRAINTRIAGE_DEBUG=1`` to see the traceback of an unexpected failure).

Each command is a module in ``traintriage.commands`` with ``register(subparsers)``; listing it in
``commands.MODULES`` is all it takes to add one. Only the chosen command's module is imported and its
parser built (:func:`_only_command`); ``--help`` and a mistyped command build them all.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from . import __version__
from .commands import MODULES
from .errors import TraintriageError
from .progressbar import status_line

if TYPE_CHECKING:
    from .commands import Outcome

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors already; keep its message short and add the hint."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\nRun '{self.prog} --help' for the options.\n")


def _only_command(argv: Sequence[str]) -> str | None:
    """The command named by ``argv`` when it is a known one (its first non-option word), else None.

    Importing every command module and building every subparser costs more than a small run's whole
    analysis budget; a command line names one, so only that one is built.
    """
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in MODULES else None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or with ``only`` that one (see :func:`_only_command`)."""
    parser = _Parser(
        prog="traintriage",
        description="Diagnose ML training runs from their artifacts (JSON by default, --text for people).",
    )
    parser.add_argument("--version", action="version", version=f"traintriage {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in MODULES if only is None else [only]:
        importlib.import_module(f"traintriage.commands.{name}").register(sub)
    return parser


def _exit_status(outcome: Outcome, fail_on: str | None) -> int:
    if not fail_on:
        return EXIT_OK
    from .findings import SEVERITY_RANK

    limit = SEVERITY_RANK[fail_on]
    return EXIT_FINDINGS if any(SEVERITY_RANK[f.severity] <= limit for f in outcome.findings) else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_only_command(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        with status_line(args.command):  # a status line on stderr, only at a terminal (progressbar.py)
            outcome: Outcome | None = args.func(args)
        if outcome is None:  # long-running commands (serve) return nothing
            return EXIT_OK
        if getattr(args, "text", False) and outcome.text is not None:
            sys.stdout.write(outcome.text().rstrip("\n") + "\n")
        else:
            from .compact import compact_dict, dumps
            from .untrusted import sendable

            sys.stdout.write(dumps(compact_dict(sendable(outcome.model)), pretty=getattr(args, "pretty", False)) + "\n")
        return _exit_status(outcome, getattr(args, "fail_on", None))
    except TraintriageError as err:
        sys.stderr.write(f"traintriage: error: {err.message}\n")
        if err.hint:
            sys.stderr.write(f"hint: {err.hint}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `traintriage loss RUN | head`
        return EXIT_OK
    except Exception as err:  # a bug: say so plainly, keep the traceback for those who ask
        if os.environ.get("TRAINTRIAGE_DEBUG"):
            traceback.print_exc()
        sys.stderr.write(
            f"traintriage: internal error ({type(err).__name__}: {err}).\n"
            "hint: this is a bug in traintriage; rerun with TRAINTRIAGE_DEBUG=1 for the traceback and report it.\n"
        )
        return EXIT_USAGE


def _alias(command: str, argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # EpiForecaster's scripts call the trial flag --optuna.
    args = ["--trial" if a == "--optuna" else a for a in args]
    return main([command, *args])


def loss_curve_critic_main(argv: Sequence[str] | None = None) -> int:
    """``loss-curve-critic RUN [--text] [--diagnose]``: the familiar name for ``traintriage loss``."""
    return _alias("loss", argv)


def gradnorm_analyze_main(argv: Sequence[str] | None = None) -> int:
    """``gradnorm-analyze RUN [--text] [--trial]``: the familiar name for ``traintriage gradnorm``."""
    return _alias("gradnorm", argv)


LONG_RUNNING = frozenset({"serve", "watch"})
"""Commands that keep the process alive (a server, a live watch): they keep Python's garbage collection as it is."""

ONE_SHOT_GC_THRESHOLD = (200_000, 30, 30)
"""The collector's thresholds for a one-shot command (mypy's): a young-generation pass per 200k allocations, not
700. Importing ~140 modules and decoding a run allocates objects that all live until the process ends, so the
passes Python would make during start-up find nothing to free."""


def run() -> NoReturn:
    """The ``traintriage`` console script: :func:`main` as a process that ends when it is done.

    Two things only a process about to end may do, as mypy does for its command line (``--fast-exit``):
    collect garbage rarely (:data:`ONE_SHOT_GC_THRESHOLD`), and skip the interpreter's teardown (freeing every
    module, array and cached object one by one) with ``os._exit`` once the output is flushed. Files a command
    writes (plots, reports) are closed before it returns; nothing registers exit handlers. Measured with
    ``benchmarks/floor.py``: 15-30 ms of a small run's ~0.2 s. :func:`main` itself returns normally, for
    callers in Python (and the tests).
    """
    argv = sys.argv[1:]
    if _only_command(argv) not in LONG_RUNNING:
        import gc

        gc.set_threshold(*ONE_SHOT_GC_THRESHOLD)
    code = main(argv)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # `traintriage ... | head`: the reader left, as main() already allows
        pass
    os._exit(code)


if __name__ == "__main__":
    run()
