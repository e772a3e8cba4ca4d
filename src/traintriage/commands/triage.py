"""``traintriage triage RUN [--checkpoint C] [--memory M]``: the full triage report."""

from __future__ import annotations

import argparse

from . import Outcome, add_run_arguments
from .formats import add_format_argument, wants_markdown
from .plot import add_plot_argument, plot_if_asked


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
    p.add_argument(
        "--histograms",
        action="store_true",
        help="also summarise the weight/gradient histograms of TensorBoard logs per tag (mean, std, min, max "
        "over steps), under extras.histograms",
    )
    add_plot_argument(p)
    add_format_argument(p)
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
    plot_if_asked(args)
    if args.histograms:
        report.extras["histograms"] = _histograms(args)
    if wants_markdown(args):
        return Outcome(report, text=lambda: triage_markdown(report, args), findings=report.findings)
    return Outcome(
        report,
        text=lambda: render_triage(report) + series_text(args) + _histogram_text(report.extras.get("histograms")),
        findings=report.findings,
    )


def _histograms(args: argparse.Namespace) -> dict:
    from ..sandbox import Sandbox
    from ..sources import plan_run
    from ..sources.histograms import histogram_summary
    from ..sources.tensorboard import is_event_file

    plan = plan_run(args.run, sandbox=Sandbox.unrestricted(), trial=args.trial)
    return histogram_summary([f for f in plan.files if is_event_file(f)])


def _histogram_text(summary: dict | None) -> str:
    if not summary:
        return ""
    lines = ["", f"Histograms ({summary['tags_total']} tags; std first -> last, min/max over all steps):"]
    if not summary["tags"]:
        lines.append("  none logged")
    for t in summary["tags"]:
        head = f"  {t['tag']} [{t['kind']}, {t['points']} steps]: "
        numbers = (t["std"]["first"], t["std"]["last"], t["min"], t["max"])
        if None in numbers:
            lines.append(head + "non-finite values")
        else:
            lines.append(head + "std {:.3g} -> {:.3g}, min {:.3g}, max {:.3g}".format(*numbers))
    return "\n".join(lines) + "\n"


def _data(args: argparse.Namespace):
    from ..api import Sandbox, load

    # Read again, from the in-process cache.
    return load(args.run, sandbox=Sandbox.unrestricted(), trial=args.trial, roles=args.role)


def series_text(args: argparse.Namespace) -> str:
    """The --text report's sparklines, one per main series."""
    from ..report.series import text_block

    block = text_block(_data(args))
    return "\n" + "\n".join(block) + "\n" if block else ""


def triage_markdown(report, args: argparse.Namespace) -> str:
    from ..report.markdown import triage_markdown as render
    from ..report.series import series_rows

    return render(report, series_rows(_data(args)))
