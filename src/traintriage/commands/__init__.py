"""CLI commands, one module each, with ``register(subparsers)``; add a module name to ``MODULES``.

A command's ``func(args)`` returns an :class:`Outcome` (the record printed as JSON, a
function rendering the ``--text`` report, and the findings that ``--fail-on`` looks at), or None
for commands that print nothing at the end (``serve``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a command imports its models when it runs, not when the CLI starts
    from ..findings import Finding
    from ..record import Record

MODULES: list[str] = [
    "inspect",
    "runs",
    "explain",
    "serve",
    "demo",
    "loss",
    "triage",
    "gradnorm",
    "memory",
    "profile",
    "params",
    "sweep",
    "plot",
    "report",
    "watch",
    "compare",
]


@dataclass
class Outcome:
    model: Record
    text: Callable[[], str] | None = None
    findings: list[Finding] = field(default_factory=list)


def add_output_arguments(parser: argparse.ArgumentParser, *, fail_on: bool = True) -> None:
    parser.add_argument("--text", action="store_true", help="print a readable report instead of JSON")
    parser.add_argument("--pretty", action="store_true",
                        help="indent the JSON for people (default: compact, without nulls and empty lists)")
    if fail_on:
        parser.add_argument(
            "--fail-on",
            choices=["critical", "warning", "info"],
            default=None,
            help="exit 1 when a finding at or above this severity is reported (default: off)",
        )


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """RUN, --trial and --role, shared by every command that reads a run."""
    parser.add_argument("run", metavar="RUN", help="run directory, event file, or experiment name")
    parser.add_argument(
        "--trial",
        "--optuna",
        action="store_true",
        help="RUN is one hyperparameter-search trial directory (read whole, no newest-run choice)",
    )
    parser.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ROLE=SERIES",
        help="override an inferred role, e.g. --role train_loss=loss/total (repeatable)",
    )
    add_output_arguments(parser)
