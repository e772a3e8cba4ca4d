"""``traintriage watch RUN``: re-triage a run while it trains and report only what changed.

Every ``interval`` seconds the run's files are stat'ed (:meth:`RunPlan.fingerprint`, no reading); when
they changed, the run is triaged again through :func:`traintriage.api.correlate`, whose reader is
incremental (a grown event file is read from its last offset) and whose report is remembered per
file state. A new event file (rotation), a file replaced or truncated is a changed fingerprint like
any other; a read that fails while a file is being swapped is reported once as a warning and retried
at the next check, so the watch survives it.

Findings are compared by what they are about, ``(code, series, component)``: a key not seen before is
``new``, a key whose worst severity rose or that occurs more often (a second spike) is ``worse``, a key
that disappeared is ``resolved``. Nothing is printed for a re-triage that changed nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from .errors import TraintriageError
from .findings import SEVERITY_RANK, Finding
from .record import Record

Kind = Literal["new", "worse", "resolved", "warning"]


class WatchEvent(Record):
    """One change, as printed (a JSON line) and as given to ``--notify`` on stdin."""

    event: Kind
    step: int | None = None  # the run's last step when the change was seen
    finding: Finding | None = None
    previous_severity: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class _Seen:
    severity: str
    count: int
    finding: Finding


def _key(f: Finding) -> tuple:
    return (f.code, f.series, f.component)


def summarize(findings: list[Finding]) -> dict[tuple, _Seen]:
    """Findings by key: the worst severity, how many, and the worst (latest among equals) finding."""
    out: dict[tuple, _Seen] = {}
    for f in findings:
        k = _key(f)
        old = out.get(k)
        if old is None:
            out[k] = _Seen(f.severity, 1, f)
        else:
            worse = SEVERITY_RANK[f.severity] <= SEVERITY_RANK[old.severity]
            out[k] = _Seen(f.severity if worse else old.severity, old.count + 1, f if worse else old.finding)
    return out


def diff(before: dict[tuple, _Seen], after: dict[tuple, _Seen], step: int | None) -> list[WatchEvent]:
    events = []
    for k, now in after.items():
        old = before.get(k)
        if old is None:
            events.append(WatchEvent(event="new", step=step, finding=now.finding))
        elif SEVERITY_RANK[now.severity] < SEVERITY_RANK[old.severity] or now.count > old.count:
            events.append(WatchEvent(event="worse", step=step, finding=now.finding, previous_severity=old.severity))
    events += [WatchEvent(event="resolved", step=step, finding=old.finding) for k, old in before.items()
               if k not in after]
    return events


def watch(
    target,
    *,
    triage: Callable[[], object],
    fingerprint: Callable[[], tuple],
    interval: float = 2.0,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[WatchEvent]:
    """Yield the changes of ``target``'s findings until ``deadline`` (``time.monotonic()``), forever if None.

    ``triage()`` returns a TriageReport; ``fingerprint()`` the state of the run's files. Both may raise a
    TraintriageError while the run is being rewritten: that is one ``warning`` event per distinct message.
    """
    seen: dict[tuple, _Seen] = {}
    last_print: tuple | None = None
    last_error: str | None = None
    while deadline is None or time.monotonic() < deadline:
        try:
            state = fingerprint()
            if state != last_print:
                report = triage()
                after = summarize(report.findings)
                yield from diff(seen, after, report.run.last_step)
                seen, last_print, last_error = after, state, None
        except TraintriageError as err:  # the run is missing or half-written right now: try again later
            if err.message != last_error:
                last_error = err.message
                yield WatchEvent(event="warning", message=str(err))
        sleep(interval)
