"""``traintriage demo``: the main job on the bundled example run (what ``make demo`` runs).

The example is a real, small training run shipped inside the package
(``traintriage/examples/demo_run``, see its README for how it was made and what is wrong with it).
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from . import Outcome, add_output_arguments


def example_run() -> Path:
    return Path(str(resources.files("traintriage").joinpath("examples", "demo_run")))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="triage the bundled example run (readable report; --json for JSON)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the readable report")
    add_output_arguments(p, fail_on=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..api import Sandbox, correlate
    from ..triage.text import render_triage

    args.text = not args.json
    report = correlate(example_run(), sandbox=Sandbox.unrestricted())
    from .triage import series_text

    args.run, args.trial, args.role = example_run(), False, []
    return Outcome(report, text=lambda: render_triage(report) + series_text(args), findings=report.findings)
