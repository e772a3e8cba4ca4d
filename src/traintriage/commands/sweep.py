"""``traintriage sweep TARGET``: triage every trial of a hyperparameter search (see traintriage.sweeps)."""

from __future__ import annotations

import argparse

from ..untrusted import sendable
from . import Outcome, add_output_arguments
from .formats import add_format_argument, wants_markdown


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="triage every trial of a sweep: ranking by health, recurring failure modes, the hyperparameters "
        "they go with",
    )
    p.add_argument(
        "target",
        metavar="TARGET",
        help="directory of trials (Ray Tune, trial_N/, Lightning, MLflow mlruns/, Hydra multirun), an Optuna "
        "storage sqlite:///study.db, or a remote URL (s3://, gs://, memory://; needs fsspec and a matching --root)",
    )
    p.add_argument("--study", help="Optuna study name (when the storage holds several)")
    p.add_argument(
        "--log-dir-attr",
        default="log_dir",
        metavar="KEY",
        help="Optuna user attribute holding each trial's log directory (default: log_dir; relative paths are "
        "taken against the database's folder)",
    )
    p.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="DIR|URL",
        help="read only under these (repeatable); a remote target needs a remote root, e.g. --root s3://bucket/runs",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="local processes analysing trials (default 0: one per CPU when there are several trials; 1: serial)",
    )
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run one task per trial on Ray: 'local' (a private local instance), 'auto' (this node's cluster) "
        "or ray://HOST:PORT; needs the ray package (pip install 'traintriage[ray]')",
    )
    p.add_argument("--cache-dir", help="where remote targets are copied (default: $XDG_CACHE_HOME/traintriage)")
    p.add_argument(
        "--stream",
        action="store_true",
        help='print one JSON line per trial as it finishes (completion order), then {"report": ...}; '
        "with --text, one readable line per trial, then the report",
    )
    add_output_arguments(p, fail_on=False)
    add_format_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome | None:
    import json
    import sys
    from pathlib import Path

    from ..errors import InputError
    from ..sandbox import Sandbox
    from ..sources.remote import is_remote
    from ..sweeps import plan_sweep, run_plan
    from ..sweeps.text import render_sweep, trial_line

    markdown = wants_markdown(args)
    if markdown and args.stream:
        raise InputError("--format markdown is one document at the end; it cannot --stream.",
                         hint="drop --stream, or use --stream --text for one readable line per trial")

    local_roots = [Path(r).expanduser() for r in args.root if not is_remote(r)]
    remote_roots = [r for r in args.root if is_remote(r)]
    plan = plan_sweep(
        args.target,
        sandbox=Sandbox.of(local_roots) if local_roots else Sandbox.unrestricted(),  # --root confines, as on a server
        remote_roots=remote_roots,
        study=args.study,
        log_dir_attr=args.log_dir_attr,
        cache_dir=Path(args.cache_dir).expanduser() if args.cache_dir else None,
    )
    if not args.stream:
        report = run_plan(plan, workers=args.workers, ray=args.ray)
        if markdown:
            from ..report.markdown import sweep_markdown

            return Outcome(report, text=lambda: sweep_markdown(report))
        return Outcome(report, text=lambda: render_sweep(report))

    def emit(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    for w in plan.warnings:
        emit(f"warning: {w}" if args.text else json.dumps({"warning": w}))

    def on_row(row, done: int, total: int) -> None:
        emit(trial_line(row, done, total) if args.text else sendable(row).model_dump_json())

    report = run_plan(plan, workers=args.workers, ray=args.ray, on_row=on_row)
    emit("\n" + render_sweep(report) if args.text else json.dumps({"report": sendable(report).model_dump(mode="json")}))
    return None
