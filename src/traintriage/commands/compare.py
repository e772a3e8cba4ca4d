"""``traintriage compare GOOD BAD``: what changed between a run that was fine and one that was not
(see :mod:`traintriage.compare`); ``--plot FILE`` also draws both losses overlaid."""

from __future__ import annotations

import argparse
import sys

from . import Outcome, add_output_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="compare a GOOD run with a BAD one: configuration diff, where the losses separate, new findings",
    )
    p.add_argument("good", metavar="GOOD", help="the run that was fine (directory, event file, experiment name)")
    p.add_argument("bad", metavar="BAD", help="the run that went wrong")
    p.add_argument("--role", action="append", default=[], metavar="ROLE=SERIES",
                   help="override an inferred role in both runs, e.g. --role train_loss=loss/total (repeatable)")
    p.add_argument("--plot", metavar="FILE", default=None, help="also draw both losses overlaid into FILE (.png/.svg)")
    add_output_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..api import Sandbox
    from ..compare import read_and_compare

    if args.plot:
        from ..plot import format_for

        format_for(args.plot)  # a wrong suffix is said before the runs are read
    report, good, bad = read_and_compare(args.good, args.bad, sandbox=Sandbox.unrestricted(), roles=args.role)
    if args.plot:
        from ..compare.plot import write_overlay

        plot = write_overlay(args.plot, good, bad, report)
        sys.stderr.write(f"traintriage: wrote plot {args.plot} ({len(plot.data):,} bytes)\n")
    # --fail-on looks at what BAD has and GOOD has not: in CI, a new problem against the baseline run.
    return Outcome(report, text=lambda: text(report), findings=report.new_findings)


def text(report) -> str:
    lines = [f"GOOD {report.good}", f"BAD  {report.bad}", "", "Configuration:"]
    lines += [f"  {c.key}: {c.good!r} -> {c.bad!r}" if c.change == "changed"
              else f"  {c.key}: only in {'BAD' if c.change == 'added' else 'GOOD'} "
              f"({c.bad if c.change == 'added' else c.good!r})" for c in report.config] or ["  no difference found"]
    sep = report.separation
    lines += ["", f"Losses ({report.loss_series[0]} / {report.loss_series[1]}):"]
    bad = "" if sep is None else sep.bad if isinstance(sep.bad, str) else f"{sep.bad:.4g}"
    lines.append(f"  separate at step {sep.step}: GOOD {sep.good:.4g}, BAD {bad} "
                 f"(band {sep.band[0]:.4g}-{sep.band[1]:.4g})" if sep else
                 f"  no separation over steps {report.overlap}" if report.overlap else "  no common steps")
    lines += ["", "Findings only in BAD:"]
    lines += [f"  [{f.severity}] {f.code}: {f.title}" for f in report.new_findings] or ["  none"]
    if report.resolved_findings:
        lines += ["Findings only in GOOD:"]
        lines += [f"  [{f.severity}] {f.code}: {f.title}" for f in report.resolved_findings]
    lines += [f"warning: {w}" for w in report.warnings]
    return "\n".join(lines)
