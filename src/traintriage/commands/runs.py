"""``traintriage runs [ROOT ...]``: the runs under one or more directories."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import Outcome, add_output_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list the runs under ROOT (default: the working directory)")
    p.add_argument("roots", nargs="*", metavar="ROOT", help="directories to search (default: .)")
    p.add_argument("--experiment", help="only the runs of this experiment")
    add_output_arguments(p, fail_on=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..errors import TargetNotFoundError
    from ..sources.catalog import list_runs

    roots = [Path(r) for r in (args.roots or ["."])]
    for r in roots:
        if not r.is_dir():
            raise TargetNotFoundError(f"{r} is not a directory.", hint="Pass directories that hold runs.")
    catalog = list_runs(roots, under=args.experiment)
    return Outcome(catalog, text=lambda: render(catalog))


def render(catalog) -> str:
    from ..textreport import warnings_block

    if not catalog.runs:
        return "No runs found under " + ", ".join(catalog.roots)
    lines = [f"{'experiment':<24} {'run':<32} {'format':<12} {'last step':>10}  {'last write':<25} {'size':>10}"]
    for r in catalog.runs:
        lines.append(
            f"{r.experiment:<24} {r.run:<32} {r.source:<12} {r.last_step if r.last_step is not None else '-':>10}  "
            f"{r.last_write:<25} {r.size_bytes / 1e6:>8.2f}MB"
        )
    if catalog.truncated:
        lines.append("(listing truncated)")
    return "\n".join(lines + warnings_block(catalog.warnings))
