"""``traintriage report RUN -o report.html``: the triage, the plot and the run's context in one
self-contained HTML page (see :mod:`traintriage.report.html`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError
from ..record import Record
from . import Outcome, add_run_arguments


class ReportWritten(Record):
    path: str
    bytes: int
    issues: int
    plot: bool
    note: str | None = None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report (plot, triage, run context) for people")
    add_run_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the HTML file to write")
    p.add_argument("--clip", type=float, dest="clip_threshold", help="the clip threshold (max_norm) if not logged")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..api import Sandbox, correlate, load
    from ..plot import plot_data
    from ..report.html import triage_html
    from ..report.series import series_rows

    out = Path(args.output).expanduser()
    if out.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"the report is HTML: name the file .html, not {out.name!r}.")
    if not out.parent.is_dir():
        raise InputError(f"cannot write {str(out)!r}: its directory does not exist.")
    sandbox = Sandbox.unrestricted()
    report = correlate(args.run, sandbox=sandbox, trial=args.trial, roles=args.role,
                       clip_threshold=args.clip_threshold)
    data = load(args.run, sandbox=sandbox, trial=args.trial, roles=args.role)
    svg, note = None, None
    try:
        svg = plot_data(data, report, fmt="svg", clip_threshold=args.clip_threshold).data
    except InputError as err:  # no matplotlib, or nothing to plot: the report is still worth having
        note = str(err)
    page = triage_html(report, series_rows(data), svg, note or "")
    out.write_text(page, encoding="utf-8")
    model = ReportWritten(path=str(out), bytes=len(page.encode()), issues=len(report.issues), plot=svg is not None,
                          note=note)
    return Outcome(model, text=lambda: f"wrote {out}" + (f" (no plot: {note})" if note else ""),
                   findings=report.findings)
