"""``traintriage profile TRACE``: how a profiled training step spends its time (``input_bound``)."""

from __future__ import annotations

import argparse

from . import Outcome, add_output_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "profile",
        help="time per profiled step and the share spent waiting for data, from a torch.profiler trace",
    )
    p.add_argument("trace", metavar="TRACE", help="*.pt.trace.json[.gz], or a directory of them")
    add_output_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..sandbox import Sandbox
    from ..timing import profile_step
    from ..timing.text import render

    report = profile_step(args.trace, sandbox=Sandbox.unrestricted())  # the user's own command
    return Outcome(report, text=lambda: render(report), findings=report.findings)
