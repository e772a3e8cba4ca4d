"""``traintriage triage RUN [--checkpoint C] [--memory M]``: the full triage report."""

from __future__ import annotations

import argparse

from . import Outcome, add_run_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "triage", help="full triage: top issues with evidence, root causes, remediation and validation plans"
    )
    add_run_arguments(p)
    p.add_argument("--checkpoint", help="a checkpoint to count parameters from (safetensors, .pt/.pth/.bin)")
    p.add_argument("--memory", help="a profiler trace or CUDA memory snapshot to analyse with the run")
    p.add_argument("--capacity", help="device memory, e.g. 80GiB (for memory pressure)")
    p.add_argument("--clip", type=float, dest="clip_threshold", help="the clip threshold (max_norm) if not logged")
    p.add_argument(
        "--transition",
        type=int,
        action="append",
        default=[],
        metavar="STEP",
        help="a curriculum/data transition step (repeatable)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..api import Sandbox, correlate
    from ..triage.text import render_triage

    report = correlate(
        args.run,
        sandbox=Sandbox.unrestricted(),  # the user's own command: whatever they can read
        trial=args.trial,
        roles=args.role,
        checkpoint=args.checkpoint,
        memory=args.memory,
        capacity=args.capacity,
        clip_threshold=args.clip_threshold,
        transitions=args.transition or None,
    )
    return Outcome(report, text=lambda: render_triage(report), findings=report.findings)
