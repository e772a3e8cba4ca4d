"""Score tools on the wild corpus: per format, cases read, cases right, false alarms on healthy runs.

Used by ``benchmarks/accuracy.py`` (which prints it beside the synthetic corpus). A *tool result* per case
is ``(codes, error)``: the finding codes the tool reported with their worst severity, or None and why it
read nothing. ``corpus.judge`` decides right or wrong; a false alarm is a forbidden code at warning or worse
on a healthy case.

The corpus was gathered in rounds (:data:`ROUNDS`, by id prefix). The detectors were calibrated on the first
(development); the second was collected afterwards and first scored before any change it prompted; the third
was collected blind (its collector saw neither the code nor its results) and scored once before any change.
Each round's first-pass score is the honest estimate of traintriage on logs it has never seen; the README
records them, since later fixes make the current score of a round no longer blind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from corpus import Case, Verdict, judge

from traintriage.sandbox import Sandbox

ROUNDS = {
    "development (round 1)": ("b-", "d-", "j-", "t-"),
    "held out (round 2)": ("x-", "y-"),
    "blind (round 3)": ("z-",),
}
SEVERITY = {"critical": 0, "warning": 1, "info": 2}

ToolResult = tuple[dict[str, str] | None, str]


@dataclass
class Tally:
    cases: int = 0
    read: int = 0
    right: int = 0
    healthy: int = 0
    false_alarms: int = 0  # healthy cases with a forbidden code at warning or worse

    def add(self, case: Case, verdict: Verdict) -> None:
        self.cases += 1
        self.read += verdict.read
        self.right += verdict.right
        self.healthy += case.healthy
        self.false_alarms += case.healthy and bool(verdict.alarms)

    def cell(self) -> str:
        return f"{self.right}/{self.cases} right, {self.read} read, {self.false_alarms}/{self.healthy} FA"


def traintriage_results(cases: Sequence[Case]) -> dict[str, ToolResult]:
    """traintriage's ``correlate`` (the library API) on every case whose files are present."""
    from traintriage import api
    from traintriage.errors import TraintriageError

    out: dict[str, ToolResult] = {}
    for case in cases:
        target = case.target_path()
        if target is None:
            continue
        try:
            report = api.correlate(str(target), sandbox=Sandbox.unrestricted())
        except TraintriageError as err:
            out[case.id] = (None, str(err).splitlines()[0][:200])
            continue
        except Exception as err:  # a crash on a case is a result to report, not a reason to stop
            out[case.id] = (None, f"crash: {type(err).__name__}: {err}"[:200])
            continue
        codes: dict[str, str] = {}
        for f in report.findings:
            if f.code not in codes or SEVERITY[f.severity] < SEVERITY[codes[f.code]]:
                codes[f.code] = f.severity
        out[case.id] = (codes, "")
    return out


def verdicts(cases: Sequence[Case], results: Mapping[str, ToolResult]) -> dict[str, Verdict]:
    return {c.id: judge(c, *results[c.id]) for c in cases if c.id in results}


def table(cases: Sequence[Case], tools: Mapping[str, Mapping[str, ToolResult]]) -> tuple[str, dict]:
    """The per-format table (rows: formats, then the development set, the held-out set and all; columns:
    tools), and a summary dict per tool."""
    present = [c for c in cases if all(c.id in r for r in tools.values())]
    judged = {tool: verdicts(present, results) for tool, results in tools.items()}
    groups: dict[str, list[Case]] = {}
    for c in present:
        groups.setdefault(c.format, []).append(c)
    rows: list[tuple[str, list[Case]]] = sorted(groups.items())
    rows += [(name, [c for c in present if c.id.startswith(prefixes)]) for name, prefixes in ROUNDS.items()]
    rows += [("all", present)]
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"{'format':<{width}}{'cases':>6}  " + "".join(f"{tool:<34}" for tool in tools)]
    summary: dict = {}
    for name, group in rows:
        if not group:
            continue
        tallies = {tool: Tally() for tool in tools}
        for c in group:
            for tool in tools:
                tallies[tool].add(c, judged[tool][c.id])
        if name in (next(iter(ROUNDS)), "all"):
            lines.append("-" * len(lines[0]))
        lines.append(f"{name:<{width}}{len(group):>6}  " + "".join(f"{tallies[t].cell():<34}" for t in tools))
        summary[name] = {t: vars(tallies[t]) for t in tools}
    return "\n".join(lines), summary


def misses(cases: Sequence[Case], results: Mapping[str, ToolResult]) -> list[str]:
    """One line per case the tool got wrong: what it missed, raised wrongly, or could not read."""
    out = []
    for c in cases:
        if c.id not in results:
            continue
        v = judge(c, *results[c.id])
        if v.right:
            continue
        why = (f"not read: {v.error}" if not v.read else
               "; ".join(filter(None, [v.missing and f"missed {', '.join(v.missing)}",
                                       v.missing_any and f"missed one of {v.missing_any}",
                                       v.alarms and f"false alarm {', '.join(v.alarms)}"])))
        out.append(f"  {c.id:44s} {why}")
    return out


def timed(fn: Callable[[], dict[str, ToolResult]]) -> tuple[dict[str, ToolResult], float]:
    t0 = time.perf_counter()
    results = fn()
    return results, time.perf_counter() - t0
