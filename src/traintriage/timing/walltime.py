"""``slow_steps`` and ``stall`` from the run's step clock, and the timing context of every report.

- A *stall* is one interval far longer than the typical step time explains (a hang, a slow save, a
  preemption and restart). Pauses that recur at a regular step period (evaluation, periodic
  checkpoints) are routine: they go to the context, not to findings. The warm-up is never judged.
- *Slow steps* is a lasting rise of the time per step: the clock's per-step times (stalls left out),
  split where a two-level step function fits best, compared level against level.

The thresholds and their reasons live in the rules (``rules/slow_steps``, ``rules/stall``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import bottleneck as bn
import numpy as np

from ..findings import Evidence, Finding, make_finding
from ..rules.slow_steps.thresholds import (
    DATA_EXPLAINS,
    HOLD_SHARE,
    MIN_INTERVALS,
    MIN_LOST_SECONDS,
    MIN_SLOW_SHARE,
    SLOW_RATIO,
    WARMUP_INTERVALS,
)
from ..rules.stall.thresholds import (
    LONG_STALL_SHARE,
    MIN_OCCUPANCY,
    OUTLIER_PAUSE,
    PERIOD_TOLERANCE,
    RECURRING_MIN,
    STALL_FACTOR,
    STALL_INTERVAL_FACTOR,
    STALL_MIN_SECONDS,
)
from ..signals import EARLIER_RUN_PREFIX, TIMING_PREFIX, RunData, Series, loss_flavour, name_words
from .clock import StepClock, clock_series, process_starts, step_clock
from .report import RecurringPause, StepTiming, Throughput

MAX_BINS = 400
"""Per-step times are summarised in at most this many bins (medians) before the level split: a run of a
million logged steps costs what one of four hundred does."""

_THROUGHPUT_RE = re.compile(
    r"(?P<what>tokens?|toks?|samples?|examples?|images?|imgs?|sequences?|seqs?|frames?|sentences?|it|steps?)"
    r"[_/ ]?(?:per[_ ]?(?:sec|second|s)|/s|ps)\b|throughput",
    re.IGNORECASE,
)
_STEP_TIME_NAMES = ("step_time", "iter_time", "batch_time", "time_per_step", "step_avg", "time", "dt", "ms",
                    "train_time", "ms_per_batch", "ms_batch", "iteration_time", "time_per_iter")


def _unit(name: str) -> float:
    """Seconds per unit of a logged duration, from its name: ``ms``/``_ms`` is milliseconds, else seconds."""
    words = name_words(name)
    return 1e-3 if any(w in ("ms", "msec", "millis") or (w.endswith("ms") and len(w) <= 4) for w in words) else 1.0


def _timed(run: RunData) -> list[tuple[str, Series]]:
    """The run's series and its text log's timing fields (:attr:`RunData.timings`), by name."""
    return sorted([*run.series.items(), *run.timings.items()])


def data_time_series(run: RunData) -> Series | None:
    """A logged data-loading time (mmdetection's ``data_time``, ``time/data``, ``dataloader_time``)."""
    for name, s in _timed(run):
        words = name_words(name)
        if name.startswith(EARLIER_RUN_PREFIX) or len(s) < MIN_INTERVALS:
            continue
        if ("data" in words or "dataloader" in words or "load" in words) and ("time" in words or "wait" in words):
            return s
    return None


def step_time_series(run: RunData) -> Series | None:
    """A logged time per step (``step_time``, ``time`` in seconds, ``step_avg``/``dt``/``ms`` in ms), an
    elapsed time (``train_time``) first: a clock shows gaps that a running average smooths away."""
    found = []
    for name, s in _timed(run):
        if name.startswith(EARLIER_RUN_PREFIX) or len(s) < MIN_INTERVALS:
            continue
        base = name.removeprefix(TIMING_PREFIX) if name.startswith(TIMING_PREFIX) else name.rpartition("/")[2]
        leaf = "_".join(name_words(base))
        if leaf in _STEP_TIME_NAMES or leaf.removesuffix("_ms") in _STEP_TIME_NAMES:
            found.append(s)
    return max(found, key=lambda s: _is_elapsed(s.values), default=None)


def throughput_series(run: RunData) -> list[Throughput]:
    out = []
    for name, s in _timed(run):
        if name.startswith(EARLIER_RUN_PREFIX) or not len(s):
            continue
        match = _THROUGHPUT_RE.search(name)
        if not match:
            continue
        values = s.values[np.isfinite(s.values)][WARMUP_INTERVALS:] if len(s) > 2 * WARMUP_INTERVALS else \
            s.values[np.isfinite(s.values)]
        if not values.size:
            continue
        what = (match.group("what") or "items").lower().rstrip("s")
        unit = {"tok": "tokens", "img": "images", "seq": "sequences", "it": "iterations", "step": "steps"}.get(
            what, what + "s") + "/s" if match.group("what") else "per s"
        out.append(Throughput(series=name, value=float(bn.median(values)), unit=unit))
    # training throughput first: an evaluation's samples/s (HF's eval_*_samples_per_second) is another loop's
    return sorted(out, key=lambda t: loss_flavour(t.series) == "val")


# --- stalls ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pause:
    index: int
    start: int
    end: int
    seconds: float
    excess: float


def _pauses(clock: StepClock, typical: float) -> list[Pause]:
    expected = clock.steps * typical
    excess = clock.dt - expected
    floor = max(STALL_FACTOR * typical, STALL_MIN_SECONDS)
    hits = np.flatnonzero((excess >= floor) & (clock.dt >= STALL_INTERVAL_FACTOR * expected))
    return [Pause(int(i), int(clock.start[i]), int(clock.end[i]), float(clock.dt[i]), float(excess[i]))
            for i in hits if i >= WARMUP_INTERVALS]


def _recurring(pauses: list[Pause], grid: int) -> tuple[list[Pause], int | None]:
    """The pauses that keep one step period (at least ``RECURRING_MIN`` of them), and the period.

    Every distance between two pauses is a candidate period, every pause a candidate origin; a period counts
    when the pauses fill at least ``MIN_OCCUPANCY`` of its grid points between the first and the last pause it
    fits (evaluation every 100 steps pauses at every multiple of 100, not at every other one), and the one
    that fits the most pauses wins (the longer period on a tie: 100 over 50 when both fit)."""
    if len(pauses) < RECURRING_MIN:
        return [], None
    every = np.array([p.start for p in pauses], dtype=np.int64)
    starts = every[:MAX_PAUSES]
    best: tuple[int, int, int] | None = None  # (count, period, origin)
    for period in np.unique(np.abs(starts[:, None] - starts[None, :])):
        if period <= 0:
            continue
        for origin in starts:
            fits = _on_grid(starts, int(origin), int(period), grid)
            count = int(fits.sum())
            if count < RECURRING_MIN:
                continue
            span = np.round((starts[fits].max() - starts[fits].min()) / period) + 1
            if count / span >= MIN_OCCUPANCY and (best is None or (count, period) > best[:2]):
                best = (count, int(period), int(origin))
    if best is None:
        return [], None
    fits = _on_grid(every, best[2], best[1], grid)
    kept = [p for p, ok in zip(pauses, fits, strict=True) if ok]
    typical = float(bn.median([p.seconds for p in kept]))
    return [p for p in kept if p.seconds <= OUTLIER_PAUSE * typical], best[1]


def _on_grid(starts: np.ndarray, origin: int, period: int, grid: int) -> np.ndarray:
    offset = starts - origin
    return np.abs(offset - np.round(offset / period) * period) <= max(PERIOD_TOLERANCE * period, grid)


MAX_PAUSES = 40
"""A period is searched among the first 40 pauses (the search is cubic in them), then applied to all."""


def _evaluation_at(run: RunData, pauses: list[Pause]) -> bool:
    """A validation series logged inside most of the pauses: they are evaluations."""
    for name in run.roles.val_loss:
        s = run.series.get(name)
        if s is None or not len(s):
            continue
        inside = [bool(np.any((s.steps >= p.start) & (s.steps <= p.end))) for p in pauses]
        if sum(inside) * 2 > len(pauses):
            return True
    return False


def _restarted(run: RunData, pause: Pause, clock: StepClock) -> bool | None:
    """Whether a new writer process began in the gap: True or False where the files tell (TensorBoard event
    files are named by their writer's start), None where they cannot (a JSONL or CSV log appended to)."""
    starts = process_starts(run.files)
    if not starts:
        return None
    begin = float(clock.wall_start[pause.index])
    return any(begin < t <= begin + pause.seconds + 1 for t in starts)


def _stall_finding(run: RunData, clock: StepClock, pause: Pause, typical: float, restart: bool | None) -> Finding:
    run_seconds = clock.seconds
    share = pause.seconds / run_seconds if run_seconds > 0 else 1.0
    severity = "warning" if share >= LONG_STALL_SHARE else "info"
    what = {True: "the job restarted (a new event file begins in the gap)",
            False: "the same writer process went on after it (no new event file): the loop was blocked",
            None: "whether the job restarted, the logs cannot tell"}[restart]
    kind = "restart" if restart else "stall"
    title = f"{kind}: {_duration(pause.seconds)} between steps {pause.start} and {pause.end}"
    message = (
        f"No step was logged for {_duration(pause.seconds)} between steps {pause.start} and {pause.end}, where a "
        f"step takes {typical:.3g} s typically: {what}. It cost {share:.0%} of the run's wall time."
    )
    return make_finding(
        "stall", severity, title, message, confidence=0.9 if restart is not None else 0.7, series=clock.series,
        step_start=pause.start, step_end=pause.end,
        evidence=[Evidence(metric=f"wall_time({clock.series})", step=pause.end, value=round(pause.seconds, 3),
                           expected=f"~{typical * (pause.end - pause.start):.3g} s ({typical:.3g} s/step, "
                           f"stall when {STALL_FACTOR:g} step times and {STALL_MIN_SECONDS:g} s longer)")],
        details={"gap_seconds": round(pause.seconds, 3), "typical_step_seconds": typical, "restart": restart,
                 "share_of_run": round(share, 4)},
    )


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.3g} s"


# --- slow steps -----------------------------------------------------------------------------------


def _binned(start: np.ndarray, per_step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first step, median log seconds per step) of at most MAX_BINS consecutive groups of intervals."""
    n = per_step.size
    edges = np.linspace(0, n, min(n, MAX_BINS) + 1).astype(int)
    lo, hi = edges[:-1], edges[1:]
    lo, size = lo[hi > lo], (hi - lo)[hi > lo]
    logs = np.log(per_step)
    # Every bin's median at once: sort by (bin, value), then each bin's middle one or two (np.median's value).
    ordered = logs[np.lexsort((logs, np.repeat(np.arange(lo.size), size)))]
    return start[lo], (ordered[lo + (size - 1) // 2] + ordered[lo + size // 2]) / 2


def _best_split(x: np.ndarray, min_len: int) -> int | None:
    """Where a two-level step function fits ``x`` best (least squares, from cumulative sums: linear in the bins;
    the bins are medians already, so one wild interval does not pull a level)."""
    n = x.size
    if n < 2 * min_len:
        return None
    k = np.arange(min_len, n - min_len + 1)
    c1, c2 = np.cumsum(x), np.cumsum(x * x)
    left = c2[k - 1] - c1[k - 1] ** 2 / k
    right = (c2[-1] - c2[k - 1]) - (c1[-1] - c1[k - 1]) ** 2 / (n - k)
    return int(k[np.argmin(left + right)])


def detect_slow_steps(run: RunData, start: np.ndarray, per_step: np.ndarray, source: str) -> list[Finding]:
    """A lasting rise of the time per step to >= ``SLOW_RATIO`` x its earlier level; ``start`` holds the step
    each per-step time is reported at (the step that ends its interval)."""
    ok = np.isfinite(per_step) & (per_step > 0)
    start, per_step = start[ok], per_step[ok]
    if per_step.size < MIN_INTERVALS:
        return []
    steps_at, x = _binned(start, per_step)
    min_len = max(2, int(np.ceil(MIN_SLOW_SHARE * x.size)))
    k = _best_split(x, min_len)
    if k is None:
        return []
    before, after = float(np.exp(bn.median(x[:k]))), float(np.exp(bn.median(x[k:])))
    ratio = after / before
    tail = float(np.exp(bn.median(x[k + 2 * (x.size - k) // 3:])))
    if ratio < SLOW_RATIO or tail / before < 1 + HOLD_SHARE * (ratio - 1):
        return []
    at = int(steps_at[k])
    lost = (after - before) * float(start[-1] - at)
    if lost < MIN_LOST_SECONDS:
        return []
    data = _data_time_change(run, at)
    rise = after - before
    explains = data is not None and rise > 0 and (data[1] - data[0]) >= DATA_EXPLAINS * rise
    message = (
        f"From step {at} each step takes {after:.3g} s instead of {before:.3g} s ({ratio:.2g}x), and it stays "
        f"there to the end of the clock ({tail:.3g} s/step over the last third): about {_duration(lost)} lost."
    )
    if data is not None:
        message += (f" The logged data-loading time went from {data[0]:.3g} s to {data[1]:.3g} s per step: "
                    + ("the input pipeline explains the slowdown." if explains else
                       "it does not explain the slowdown (the compute or the host got slower)."))
    evidence = [Evidence(metric=source, step=at, value=round(after, 6),
                         expected=f"< {SLOW_RATIO:g}x {before:.3g} s/step (the level before step {at})")]
    if data is not None:
        evidence.append(Evidence(metric=data[2], step=at, value=round(data[1], 6), expected=f"~{data[0]:.3g} s"))
    return [make_finding(
        "slow_steps", "warning", f"steps {ratio:.2g}x slower from step {at} ({before:.3g} -> {after:.3g} s/step)",
        message, confidence=0.8, series=source, step_start=at, step_end=int(start[-1]),
        evidence=evidence,
        details={"lost_seconds": round(lost, 1), "before_seconds_per_step": before,
                 "after_seconds_per_step": after, "ratio": round(ratio, 3),
                 "data_time_explains": bool(explains), "data_time": None if data is None else
                 {"series": data[2], "before": data[0], "after": data[1]}},
    )]


def _data_time_change(run: RunData, at: int) -> tuple[float, float, str] | None:
    s = data_time_series(run)
    if s is None:
        return None
    finite = np.isfinite(s.values)
    unit = _unit(s.name)
    before = s.values[finite & (s.steps < at)]
    after = s.values[finite & (s.steps >= at)]
    if before.size < 3 or after.size < 3:
        return None
    return float(bn.median(before)) * unit, float(bn.median(after)) * unit, s.name


# --- the whole analysis ---------------------------------------------------------------------------


@dataclass
class TimeAnalysis:
    timing: StepTiming
    findings: list[Finding]


def analyze_time(run: RunData) -> TimeAnalysis:
    """Timing context and time findings of a run: from wall times when the run has them, else from a logged
    step-time series (slow steps only: an averaged duration hides gaps)."""
    throughput = throughput_series(run)
    clock_of = clock_series(run)
    if clock_of is not None:
        clock = step_clock(clock_of)
        if len(clock) > WARMUP_INTERVALS + MIN_INTERVALS // 2:
            return _from_clock(run, clock, throughput)
    logged = step_time_series(run)
    if logged is not None and _is_elapsed(logged.values):
        elapsed = Series(logged.name, logged.steps, logged.values, logged.values * _unit(logged.name))
        clock = step_clock(elapsed)
        if len(clock) > WARMUP_INTERVALS + MIN_INTERVALS // 2:
            return _from_clock(run, clock, throughput, f"clock logged as {logged.name}")
    if logged is not None:
        finite = np.isfinite(logged.values) & (logged.values > 0)
        per_step = logged.values[finite] * _unit(logged.name)
        steps = logged.steps[finite]
        judged = per_step[WARMUP_INTERVALS:]
        typical = float(bn.median(judged)) if judged.size else None
        if typical is None or typical >= UNIX_TIME:  # not a duration (a timestamp that went backwards)
            return TimeAnalysis(_timing("none", None, throughput), [])
        timing = _timing(f"logged step time {logged.name}", typical, throughput)
        findings = detect_slow_steps(run, steps[WARMUP_INTERVALS:], judged, logged.name)
        return TimeAnalysis(timing, findings)
    return TimeAnalysis(_timing("none", None, throughput), [])


UNIX_TIME = 1e8
"""A "time" above this many seconds (1973) is a timestamp, not a duration: a clock whatever its start."""


def _is_elapsed(values: np.ndarray) -> bool:
    """A logged "time" that only grows is a clock, not a duration per step: seconds since the start
    (ultralytics' ``results.csv`` ``time``: it ends far above where it began) or a Unix timestamp."""
    v = values[np.isfinite(values)]
    if v.size < MIN_INTERVALS:
        return False
    growing = (np.diff(v) >= 0).mean() >= 0.95
    return bool(growing and v[-1] > 0 and (v[0] >= UNIX_TIME or v[-1] > 3 * max(v[0], 0)))


def _from_clock(
    run: RunData, clock: StepClock, throughput: list[Throughput], source: str | None = None
) -> TimeAnalysis:
    judged = np.arange(len(clock)) >= WARMUP_INTERVALS
    typical = float(bn.median(clock.per_step[judged]))
    findings: list[Finding] = []
    pauses = _pauses(clock, typical) if typical > 0 else []
    grid = int(bn.median(clock.steps))
    routine, period = _recurring(pauses, grid)
    recurring = []
    if routine:
        kind = "evaluation" if _evaluation_at(run, routine) else "periodic (evaluation or checkpoint save)"
        recurring.append(RecurringPause(every_steps=int(period or 0), count=len(routine),
                                        median_seconds=round(float(bn.median([p.seconds for p in routine])), 3),
                                        kind=kind))
    routine_ids = {p.index for p in routine}
    for pause in pauses:
        if pause.index not in routine_ids:
            findings.append(_stall_finding(run, clock, pause, typical, _restarted(run, pause, clock)))
    skip = np.zeros(len(clock), dtype=bool)
    skip[:WARMUP_INTERVALS] = True
    skip[[p.index for p in pauses]] = True
    findings += detect_slow_steps(run, clock.end[~skip], clock.per_step[~skip], f"wall_time({clock.series})")
    timing = _timing(source or f"wall times of {clock.series}", typical, throughput)
    timing.wall_seconds = round(clock.seconds, 3)
    timing.clocked_steps = int(clock.end[-1] - clock.start[0])
    timing.recurring_pauses = recurring
    if recurring:
        r = recurring[0]
        timing.summary += f"; a {r.median_seconds:.3g} s pause every {r.every_steps} steps ({r.kind}, not a finding)"
    return TimeAnalysis(timing, findings)


def _count(value: float) -> str:
    """A rate as a person reads it: ``3,900`` or ``1,396,197``, ``9.71`` below a thousand."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _timing(source: str, typical: float | None, throughput: list[Throughput]) -> StepTiming:
    parts = []
    if typical is not None and typical > 0:
        parts.append(f"{typical:.3g} s/step" if typical >= 0.01 else f"{typical * 1e3:.3g} ms/step")
    parts += [f"{_count(t.value)} {t.unit} ({t.series})" for t in throughput[:3]]
    summary = ", ".join(parts) if parts else "no wall times or step-time series logged: time per step unknown"
    return StepTiming(
        source=source,
        seconds_per_step=typical,
        steps_per_second=None if not typical else round(1.0 / typical, 6),
        throughput=throughput,
        summary=summary + (f" (from {source})" if parts and typical is not None else ""),
    )
