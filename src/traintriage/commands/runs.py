"""``traintriage runs [ROOT ...]``: the runs under one or more directories."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..untrusted import sendable
from . import Outcome, add_output_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list the runs under ROOT (default: the working directory)")
    p.add_argument("roots", nargs="*", metavar="ROOT", help="directories to search (default: .)")
    p.add_argument("--experiment", help="only the runs of this experiment")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="processes reading the runs (default 0: one per CPU when there are many runs; 1: this process only)",
    )
    p.add_argument(
        "--stream",
        action="store_true",
        help="print one JSON line per run as soon as it is read (in completion order), "
        'then {"summary": ...}; warnings as {"warning": ...} lines',
    )
    add_output_arguments(p, fail_on=False)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..errors import TargetNotFoundError
    from ..sources.catalog import list_runs

    roots = [Path(r) for r in (args.roots or ["."])]
    for r in roots:
        if not r.is_dir():
            raise TargetNotFoundError(f"{r} is not a directory.", hint="Pass directories that hold runs.")
    if args.stream:
        stream(roots, under=args.experiment, workers=args.workers)
        return None
    catalog = list_runs(roots, under=args.experiment, workers=args.workers)
    return Outcome(catalog, text=lambda: render(catalog))


def stream(roots: list[Path], *, under: str | None, workers: int) -> None:
    """JSON lines: a run listing per line as each run is read, warnings as they come, a summary last."""
    import json
    import sys

    from ..sources.catalog import iter_listings, plan_runs

    def emit(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    jobs, truncated, warnings = plan_runs(roots, under=under)
    for w in warnings:
        emit(json.dumps({"warning": w}))
    for _, listing, errs in iter_listings(jobs, workers=workers):
        emit(sendable(listing).model_dump_json())
        for w in errs:
            emit(json.dumps({"warning": w}))
    emit(json.dumps({"summary": {"roots": [str(r) for r in roots], "runs": len(jobs), "truncated": truncated}}))


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
