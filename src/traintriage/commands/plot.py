"""``traintriage plot RUN -o run.png|run.svg``: the run's curves with its triage drawn on them; and the
``--plot FILE`` option that ``triage``, ``loss`` and ``gradnorm`` share (see :mod:`traintriage.plot`)."""

from __future__ import annotations

import argparse
import sys

from . import Outcome, add_run_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot",
        help="draw the run's curves (loss, LR, grad norms, memory) with its triage issues marked, to PNG or SVG",
    )
    add_run_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="output file: .png or .svg")
    p.add_argument("--dpi", type=int, default=100, help="resolution of a PNG (default 100)")
    p.add_argument("--clip", type=float, dest="clip_threshold", help="the clip threshold (max_norm) if not logged")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..api import Sandbox, correlate
    from ..plot import PlotWritten, format_for, write_plot

    format_for(args.output)  # a wrong suffix is said before the run is read
    sandbox = Sandbox.unrestricted()  # the CLI reads what its user can (as every command does)
    report = correlate(args.run, sandbox=sandbox, trial=args.trial, roles=args.role,
                       clip_threshold=args.clip_threshold)
    plot = write_plot(args.output, args.run, sandbox=sandbox, trial=args.trial, roles=args.role, dpi=args.dpi,
                      clip_threshold=args.clip_threshold, report=report)
    model = PlotWritten(path=args.output, format=plot.fmt, bytes=len(plot.data), summary=plot.summary)
    return Outcome(model, text=lambda: f"wrote {args.output}\n{plot.summary}", findings=report.findings)


def add_plot_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plot", metavar="FILE", default=None,
                        help="also draw the run with its triage issues marked into FILE (.png or .svg)")


def plot_if_asked(args: argparse.Namespace) -> None:
    """After a command's analysis: write ``--plot FILE`` and say so on stderr (stdout stays the report)."""
    if not getattr(args, "plot", None):
        return
    from ..api import Sandbox
    from ..plot import format_for, write_plot

    format_for(args.plot)
    plot = write_plot(args.plot, args.run, sandbox=Sandbox.unrestricted(), trial=args.trial, roles=args.role,
                      clip_threshold=getattr(args, "clip_threshold", None) or getattr(args, "clip", None))
    sys.stderr.write(f"traintriage: wrote plot {args.plot} ({len(plot.data):,} bytes)\n")
