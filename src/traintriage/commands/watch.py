"""``traintriage watch RUN``: re-triage a run as it grows and print only what changed (see
:mod:`traintriage.watch`). One JSON line per change (``--text``: one readable line); ``--exit-on
SEVERITY`` ends with status 1 as soon as a finding at or above it appears, so a job script can stop a
diverging run; ``--notify CMD`` runs CMD with the change as JSON on stdin."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from ..findings import SEVERITY_RANK, Finding
from ..record import Record
from . import Outcome

NOTIFY_TIMEOUT_S = 30


class WatchEnd(Record):
    """The last line ``watch`` prints: why it stopped."""

    stopped: str
    finding: Finding | None = None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("watch", help="re-triage a run while it trains; print new, worse and resolved findings")
    p.add_argument("run", metavar="RUN", help="run directory, event file, or experiment name")
    p.add_argument("--trial", action="store_true", help="RUN is one hyperparameter-search trial directory")
    p.add_argument("--role", action="append", default=[], metavar="ROLE=SERIES", help="override an inferred role")
    p.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                   help="how often the run's files are checked for changes (default 2); a re-triage runs only "
                   "when they changed")
    p.add_argument("--exit-on", choices=["critical", "warning", "info"], default=None, metavar="SEVERITY",
                   help="stop with exit status 1 when a new or worse finding at or above SEVERITY appears "
                   "(critical, warning, info)")
    p.add_argument("--notify", metavar="CMD", default=None,
                   help="run CMD (through the shell) for each new or worse finding, with the change as JSON on stdin")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="stop (exit 0) after this long (default: watch until interrupted)")
    p.add_argument("--text", action="store_true", help="readable lines instead of JSON lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> Outcome:
    from ..api import Sandbox, correlate
    from ..errors import InputError
    from ..sources import plan_run
    from ..watch import watch

    if args.interval <= 0:
        raise InputError(f"--interval must be positive, got {args.interval}.")
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    sandbox = Sandbox.unrestricted()
    events = watch(
        args.run,
        triage=lambda: correlate(args.run, sandbox=sandbox, trial=args.trial, roles=args.role),
        fingerprint=lambda: plan_run(args.run, sandbox=sandbox, trial=args.trial).fingerprint(),
        interval=args.interval,
        deadline=deadline,
    )
    for event in events:
        _emit(args, event)
        f = event.finding
        if f is None or event.event == "resolved":
            continue
        if args.notify:
            _notify(args.notify, event.model_dump_json(exclude_none=True))
        if args.exit_on and SEVERITY_RANK[f.severity] <= SEVERITY_RANK[args.exit_on]:
            args.fail_on = args.exit_on  # the CLI's exit status: 1 when a finding reaches it
            return _ended(WatchEnd(stopped=f"{event.event} {f.severity} finding {f.code} at step {event.step}",
                                   finding=f))
    return _ended(WatchEnd(stopped=f"--timeout {args.timeout:g} s reached"))


def _ended(end: WatchEnd) -> Outcome:
    return Outcome(end, text=lambda: f"stopped: {end.stopped}", findings=[end.finding] if end.finding else [])


def _emit(args: argparse.Namespace, event) -> None:
    if args.text:
        f = event.finding
        if f is None:
            line = f"[{event.event}] {event.message}"
        else:
            was = f" (was {event.previous_severity})" if event.previous_severity else ""
            line = f"step {event.step}: [{event.event}] {f.severity}{was} {f.code}: {f.title}"
    else:
        line = event.model_dump_json(exclude_none=True)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _notify(command: str, payload: str) -> None:
    """Run the user's command with the change on stdin; its failure is reported, never fatal."""
    try:
        done = subprocess.run(command, shell=True, input=payload, text=True, timeout=NOTIFY_TIMEOUT_S,
                              capture_output=True)
    except subprocess.TimeoutExpired:
        sys.stderr.write(f"traintriage: --notify command ran past {NOTIFY_TIMEOUT_S} s and was stopped\n")
        return
    if done.returncode != 0:
        sys.stderr.write(f"traintriage: --notify command exited {done.returncode}: {done.stderr.strip()[:200]}\n")
