"""``traintriage gradnorm RUN`` (alias ``gradnorm-analyze``): per-component gradient health."""

from __future__ import annotations

import argparse

from . import Outcome, add_run_arguments
from .plot import add_plot_argument, plot_if_asked


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gradnorm",
        help="gradient-norm health per component: dead, imbalance, exploding/vanishing, clipping, spikes",
    )
    add_run_arguments(p)
    p.add_argument("--clip", type=float, default=None, metavar="THRESHOLD",
                   help="the max_norm the run clipped at, when it is not logged")
    p.add_argument("--depth", type=int, default=None, metavar="N",
                   help="name parts kept when grouping per-parameter norms into modules (default: automatic)")
    add_plot_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..api import Sandbox, analyze_gradnorm
    from ..detectors.gradnorm.text import render

    report = analyze_gradnorm(args.run, sandbox=Sandbox.unrestricted(), trial=args.trial, roles=args.role,
                              clip_threshold=args.clip, depth=args.depth)
    plot_if_asked(args)
    return Outcome(report, text=lambda: render(report), findings=report.findings)
