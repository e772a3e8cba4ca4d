"""How a profiled training step spends its time: the share spent waiting for data (``input_bound``).

A torch.profiler Chrome trace marks each step (``ProfilerStep#N``, written when a ``schedule`` is used
and ``prof.step()`` is called) and, on the same thread, the time spent fetching the next batch: the
DataLoader's ``enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__`` (or ``_MultiProcessing...``),
plus ranges users mark themselves with ``record_function("data")``/``"data_fetch"``/``"load_batch"``. The
share of a step covered by those ranges (their union, clipped to the step) is the time the step waited for
input. Traces without step annotations fall back on the optimizer step (``Optimizer.step#``) as the end of
each step, as the memory analysis does. The file is streamed (:mod:`traintriage.memory.jsonstream`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import bottleneck as bn
import numpy as np

from ..errors import InputError
from ..findings import Evidence, Finding, make_finding
from ..memory.jsonstream import TraceStream, event_time
from ..rules.input_bound.thresholds import INPUT_BOUND_SHARE, MIN_STEP_MS, SEVERE_SHARE
from ..untrusted import clean_text
from .report import ProfiledStep, StepProfile

RECORD_HINT = (
    "Record steps and data loading with `with torch.profiler.profile(activities=[ProfilerActivity.CPU, "
    "ProfilerActivity.CUDA], schedule=torch.profiler.schedule(wait=1, warmup=1, active=5)) as prof:` around the "
    "training loop, call `prof.step()` after each step, then `prof.export_chrome_trace('run.pt.trace.json')`."
)
_STEP_RE = re.compile(r"^ProfilerStep#(\d{1,18})$")
_DATA_RE = re.compile(
    r"enumerate\(DataLoader\)|DataLoaderIter\.__next__|"
    r"^(?:data|data[_ ]?(?:load|loading|fetch|wait|time)|(?:fetch|load|next|get)[_ ]?batch)$",
    re.IGNORECASE,
)
MAX_STEP_ROWS = 200


@dataclass
class _Collected:
    steps: list[tuple[int, float, float, str]] = field(default_factory=list)  # number, start, end, thread
    optimizer_ends: list[tuple[float, str]] = field(default_factory=list)
    data: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # thread -> ranges
    data_names: set[str] = field(default_factory=set)
    events: int = 0


def _collect(stream: TraceStream) -> _Collected:
    c = _Collected()
    for ev in stream:
        c.events += 1
        name = ev.get("name")
        if ev.get("ph") != "X" or not isinstance(name, str) or ev.get("cat") not in ("user_annotation",
                                                                                      "python_function"):
            continue
        start, dur = event_time(ev.get("ts")), event_time(ev.get("dur", 0.0))
        if start is None or dur is None or dur < 0:
            continue
        thread = f"{ev.get('pid')}:{ev.get('tid')}"
        match = _STEP_RE.match(name)
        if match:
            c.steps.append((int(match.group(1)), start, start + dur, thread))
        elif name.startswith("Optimizer.step#"):
            c.optimizer_ends.append((start + dur, thread))
        elif _DATA_RE.search(name):
            c.data.setdefault(thread, []).append((start, start + dur))
            c.data_names.add(clean_text(name))
    return c


def _steps(c: _Collected) -> tuple[str, list[tuple[int, float, float, str]]]:
    if c.steps:
        return "ProfilerStep", sorted(c.steps, key=lambda s: s[1])
    ends = sorted(c.optimizer_ends)
    return "optimizer_step", [(i, a[0], b[0], b[1]) for i, (a, b) in enumerate(pairwise(ends), start=1)]


def _covered(ranges: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Length of the union of ``ranges`` inside ``[lo, hi]``."""
    total, reach = 0.0, lo
    for a, b in sorted(ranges):
        a, b = max(a, reach), min(b, hi)
        if b > a:
            total += b - a
            reach = b
    return total


def analyze_step_trace(path: Path) -> StepProfile:
    """Stream a profiler trace and measure the share of each step spent waiting for data."""
    stream = TraceStream(path)
    c = _collect(stream)
    warnings: list[str] = []
    if not stream.found_events:
        raise InputError(f"{path}: no traceEvents array: not a profiler trace.", hint=RECORD_HINT)
    if stream.truncated:
        warnings.append(f"the trace is cut short ({stream.truncated}); analysed the {c.events} events before it.")
    source, steps = _steps(c)
    steps = [s for s in steps if (s[2] - s[1]) / 1000.0 >= MIN_STEP_MS]
    if not steps:
        raise InputError(
            f"{path}: no training steps in the trace ({c.events} events): no ProfilerStep#N annotation and fewer "
            "than two optimizer steps, so a step's time cannot be split.", hint=RECORD_HINT)
    if not c.data:
        warnings.append("no data-loading ranges in the trace (enumerate(DataLoader)... or record_function('data')): "
                        "the loop does not iterate a DataLoader inside the profiled steps, or the batch is fetched "
                        "outside them; the data-wait share is 0 as far as the trace shows.")
    judged = steps[1:] if len(steps) > 2 else steps  # the first profiled step fills the loader (warm-up)
    rows = []
    for number, start, end, thread in judged:
        span = end - start
        wait = _covered(c.data.get(thread, []), start, end)
        rows.append(ProfiledStep(step=number, milliseconds=round(span / 1000.0, 3),
                                 data_wait_ms=round(wait / 1000.0, 3), data_share=round(wait / span, 4)))
    total = sum(r.milliseconds for r in rows)
    waiting = sum(r.data_wait_ms for r in rows)
    share = waiting / total if total > 0 else 0.0
    step_ms = float(bn.median([r.milliseconds for r in rows]))
    wait_ms = float(bn.median([r.data_wait_ms for r in rows]))
    findings = _verdict(share, step_ms, wait_ms, rows, sorted(c.data_names))
    if len(rows) > MAX_STEP_ROWS:
        keep = np.unique(np.linspace(0, len(rows) - 1, MAX_STEP_ROWS).astype(int))
        rows = [rows[i] for i in keep]
    return StepProfile(
        target=str(path), events=c.events, step_source=source, steps=len(judged),  # type: ignore[arg-type]
        step_ms_median=round(step_ms, 3), data_wait_ms_median=round(wait_ms, 3), data_share=round(share, 4),
        data_ranges=sorted(c.data_names), per_step=rows, findings=findings, warnings=warnings,
    )


def _verdict(share: float, step_ms: float, wait_ms: float, rows: list[ProfiledStep], names: list[str]) -> list[Finding]:
    if share < INPUT_BOUND_SHARE:
        return []
    severity = "critical" if share >= SEVERE_SHARE else "warning"
    first, last = rows[0].step, rows[-1].step
    return [make_finding(
        "input_bound", severity,
        f"input-bound: {share:.0%} of each step waits for data ({wait_ms:.3g} of {step_ms:.3g} ms)",
        f"Over {len(rows)} profiled steps, {share:.0%} of the time is spent fetching the next batch "
        f"({', '.join(names[:2])}): the model waits for the input pipeline. The median step takes "
        f"{step_ms:.3g} ms, of which {wait_ms:.3g} ms is data loading.",
        confidence=0.9, step_start=first, step_end=last,
        evidence=[Evidence(metric="trace:data_wait_share", step=first, value=round(share, 4),
                           expected=f"< {INPUT_BOUND_SHARE:g} of the step time"),
                  Evidence(metric="trace:data_wait_ms", step=first, value=round(wait_ms, 3),
                           expected=f"of a {step_ms:.3g} ms step")],
        details={"data_share": round(share, 4), "step_ms": step_ms, "data_wait_ms": wait_ms,
                 "fix": "DataLoader(num_workers=<cores per GPU>, pin_memory=True, persistent_workers=True, "
                        "prefetch_factor=4); move per-sample transforms off the step (precompute, or batch them "
                        "on the GPU)"},
    )]
