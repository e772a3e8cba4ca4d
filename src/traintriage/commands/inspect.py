"""``traintriage inspect RUN``: what a target resolves to, its series and their roles."""

from __future__ import annotations

import argparse

from . import Outcome, add_run_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="show what a run resolves to: files, series, roles, read warnings")
    add_run_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..describe import summarize
    from ..sandbox import Sandbox
    from ..sources import load_run

    description = summarize(load_run(args.run, sandbox=Sandbox.unrestricted(), trial=args.trial, roles=args.role))
    return Outcome(description, text=lambda: render(description))


def render(description) -> str:
    from ..textreport import fmt_num, run_header, warnings_block

    lines = run_header(description.run)
    lines.append("")
    lines.append(f"  {'series':<42} {'role':<26} {'points':>7}  {'steps':<15} {'first':>10} {'last':>10}")
    for s in description.series:
        steps = f"{s.first_step}..{s.last_step}"
        bad = f"  ({s.non_finite} non-finite)" if s.non_finite else ""
        lines.append(
            f"  {s.name:<42} {s.role or '':<26} {s.points:>7}  {steps:<15} {fmt_num(s.first):>10} "
            f"{fmt_num(s.last):>10}{bad}"
        )
    lines += ["", *warnings_block(description.warnings)]
    return "\n".join(lines)
