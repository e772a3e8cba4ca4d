"""Memory series logged with a run: leaks, fragmentation and peak against capacity.

What users log is one or more of ``torch.cuda.memory_allocated`` (live tensors), ``memory_reserved``
(what the caching allocator holds from the device: what an OOM is about), their ``max_*`` running
peaks, or the process RSS. The roles decide which series are memory (``roles.memory``); here each is
classified by name and analysed with pure functions over numpy arrays.

A leak is *sustained* growth. Two things grow without being leaks and must not be reported:

* the warm-up rise at the start (optimizer state is created at the first step, the allocator fills
  its cache, autotuning runs): we drop the first ``WARMUP_FRACTION`` of points;
* the allocator's step-like growth (reserved memory jumps by a segment and then stays flat): we ask
  for growth in *every* quarter of what remains, not just a net rise, and fit the slope with a
  robust estimator (Theil-Sen) so that one jump does not make a trend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import bottleneck as bn
import numpy as np

from ..findings import Evidence, Finding, json_number, make_finding
from ..rules.memory_leak.thresholds import MIN_GROWTH_FRACTION, MIN_POINTS, STEADY_INCREMENT, WARMUP_FRACTION
from ..rules.memory_pressure.thresholds import (
    FRAGMENTATION_FRACTION,
    FRAGMENTATION_MIN_BYTES,
    PRESSURE_CRITICAL,
    PRESSURE_WARNING,
)
from ..signals import RunData, Series
from .report import SeriesMemoryStats
from .sizes import format_bytes, unit_from_name

ASSUME_BYTES_ABOVE = 1e6  # an unlabelled series whose values exceed this is taken to be bytes


_CAPACITY_WORDS = ("capacity", "limit", "budget", "total_memory", "device_total", "mem_total")


def is_capacity_series(name: str) -> bool:
    """A logged device capacity (``memory/capacity_bytes``, ``gpu_mem_limit``): a reference, not usage."""
    low = name.lower()
    return any(word in low for word in _CAPACITY_WORDS)


def classify(name: str) -> str:
    """The kind of a memory series, from its name: allocated, reserved, max_*, rss or other."""
    low = name.lower()
    peak = "max" in low or "peak" in low
    if "reserved" in low or "cached" in low:
        return "max_reserved" if peak else "reserved"
    if "alloc" in low:
        return "max_allocated" if peak else "allocated"
    if "rss" in low or "resident" in low:
        return "rss"
    return "other"


def theil_sen(x: np.ndarray, y: np.ndarray, max_points: int = 300) -> tuple[float, float]:
    """Median of pairwise slopes (robust to a few jumps and outliers), and the median intercept.

    Evenly subsampled to ``max_points`` so that a 100k-step run costs the same as a short one.
    """
    if x.size > max_points:
        idx = np.linspace(0, x.size - 1, max_points).astype(int)
        x, y = x[idx], y[idx]
    i, j = np.triu_indices(x.size, k=1)
    dx = x[j] - x[i]
    ok = dx != 0
    slope = float(bn.median((y[j] - y[i])[ok] / dx[ok])) if ok.any() else 0.0
    intercept = float(bn.median(y - slope * x))
    return slope, intercept


def r_squared(x: np.ndarray, y: np.ndarray) -> float:
    """R^2 of an ordinary least-squares line: how well 'grows linearly' describes the series."""
    if x.size < 3 or np.ptp(y) == 0:
        return 0.0
    coef = np.polyfit(x.astype(float), y, 1)
    resid = y - np.polyval(coef, x.astype(float))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return max(0.0, 1.0 - float(np.sum(resid**2)) / ss_tot) if ss_tot > 0 else 0.0


@dataclass(frozen=True)
class LeakFit:
    """The numbers behind a leak verdict, in the series' own units."""

    start_index: int
    slope: float
    intercept: float
    r2: float
    quarter_medians: tuple[float, ...]
    growth: float
    growth_fraction: float
    sustained: bool
    is_leak: bool


def fit_leak(steps: np.ndarray, values: np.ndarray) -> LeakFit | None:
    """Decide whether ``values`` grow steadily with ``steps`` after warm-up; None if too short.

    ``steps``/``values`` must be finite and sorted by step.
    """
    n = values.size
    if n < MIN_POINTS:
        return None
    start = max(1, math.ceil(WARMUP_FRACTION * n))
    x, y = steps[start:].astype(float), values[start:]
    if y.size < MIN_POINTS - 2:
        return None
    slope, intercept = theil_sen(x, y)
    quarters = np.array_split(y, 4)
    medians = tuple(float(bn.median(q)) for q in quarters)
    rises = np.diff(medians)
    mean_rise = float(rises.mean())
    sustained = bool(mean_rise > 0 and np.all(rises >= STEADY_INCREMENT * mean_rise) and np.all(rises > 0))
    level = abs(medians[0]) or 1.0
    growth = slope * float(x[-1] - x[0])
    growth_fraction = growth / level
    r2 = r_squared(x, y)
    is_leak = sustained and slope > 0 and growth_fraction >= MIN_GROWTH_FRACTION
    return LeakFit(start, slope, intercept, r2, medians, growth, growth_fraction, sustained, is_leak)


def _unit(series: Series, warnings: list[str]) -> int | None:
    unit = unit_from_name(series.name)
    if unit is not None:
        return unit
    finite = series.values[np.isfinite(series.values)]
    if finite.size and float(np.nanmax(np.abs(finite))) >= ASSUME_BYTES_ABOVE:
        return 1
    warnings.append(
        f"{series.name}: values up to {float(np.max(finite)) if finite.size else 'n/a'} carry no unit in "
        "the name and are too small to be bytes; numbers are reported as logged and not compared with "
        "capacity. Put the unit in the name (e.g. memory/allocated_gb) or log bytes."
    )
    return None


def _fmt(value: float, unit: int | None) -> str:
    return format_bytes(value * unit) if unit else f"{value:.4g}"


def analyze_series(
    run: RunData, *, capacity_bytes: int | None = None
) -> tuple[list[Finding], list[SeriesMemoryStats], dict, list[str]]:
    """Findings, per-series statistics, headline stats and warnings for a run's memory series."""
    warnings: list[str] = []
    names = [n for n in run.roles.memory if n in run.series]
    if not names:
        warnings.append(
            "no memory series in this run (none named like memory/allocated, memory_reserved, rss, ...). "
            "Log torch.cuda.memory_allocated() and memory_reserved() per step, or pass a profiler trace or "
            "a torch.cuda.memory._dump_snapshot() pickle instead."
        )
        return [], [], {}, warnings

    capacity_names = [n for n in names if is_capacity_series(n)]
    names = [n for n in names if n not in capacity_names]
    if capacity_bytes is None and capacity_names:
        cap_series = run.series[capacity_names[0]]
        finite = cap_series.values[np.isfinite(cap_series.values)]
        unit = _unit(cap_series, warnings)
        if finite.size and unit:
            capacity_bytes = int(finite.max() * unit)
            warnings.append(
                f"capacity {format_bytes(capacity_bytes)} taken from the logged series {capacity_names[0]} "
                "(pass capacity to override)."
            )
    if not names:
        warnings.append("only a capacity series is logged; log allocated/reserved memory to compare with it.")
        return [], [], {}, warnings

    findings: list[Finding] = []
    stats_out: list[SeriesMemoryStats] = []
    clean: dict[str, tuple[np.ndarray, np.ndarray, int | None, str]] = {}
    leaks: list[tuple[str, LeakFit]] = []
    for name in names:
        s = run.series[name]
        ok = np.isfinite(s.values)
        steps, values = s.steps[ok], s.values[ok]
        kind = classify(name)
        unit = _unit(s, warnings)
        clean[name] = (steps, values, unit, kind)
        fit = fit_leak(steps, values) if kind not in ("max_allocated", "max_reserved") else None
        if fit is None and kind not in ("max_allocated", "max_reserved"):
            warnings.append(f"{name}: {values.size} finite points, too few to judge a trend (need {MIN_POINTS}).")
        peak_i = int(np.argmax(values)) if values.size else None
        stats_out.append(
            SeriesMemoryStats(
                name=name, kind=kind, unit_bytes=unit, points=int(values.size),  # type: ignore[arg-type]
                first_step=int(steps[0]) if values.size else None,
                last_step=int(steps[-1]) if values.size else None,
                first_value=float(values[0]) if values.size else None,
                last_value=float(values[-1]) if values.size else None,
                peak_value=float(values[peak_i]) if peak_i is not None else None,
                peak_step=int(steps[peak_i]) if peak_i is not None else None,
                slope_per_step=None if fit is None else fit.slope,
                fit_r2=None if fit is None else round(fit.r2, 4),
            )
        )
        if fit is not None and fit.is_leak:
            leaks.append((name, fit))

    findings.extend(_leak_findings(leaks, clean, capacity_bytes))
    frag = _fragmentation_finding(clean)
    if frag is not None:
        findings.append(frag)
    pressure, headline = _pressure(clean, capacity_bytes, warnings)
    if pressure is not None:
        findings.append(pressure)
    return findings, stats_out, headline, warnings


_LEAK_PREFERENCE = {"allocated": 0, "rss": 1, "other": 2, "reserved": 3}


def _leak_findings(
    leaks: list[tuple[str, LeakFit]],
    clean: dict[str, tuple[np.ndarray, np.ndarray, int | None, str]],
    capacity_bytes: int | None,
) -> list[Finding]:
    """One memory_leak finding, on the most telling series; the others that grow are listed with it."""
    if not leaks:
        return []
    leaks.sort(key=lambda item: _LEAK_PREFERENCE.get(clean[item[0]][3], 9))
    name, fit = leaks[0]
    steps, values, unit, _ = clean[name]
    x0, x1 = int(steps[fit.start_index]), int(steps[-1])
    fitted0 = fit.intercept + fit.slope * x0
    fitted1 = fit.intercept + fit.slope * x1
    per_step = _fmt(fit.slope, unit)
    evidence = [
        Evidence(metric=name, step=x0, value=json_number(values[fit.start_index]),
                 expected=f"start of the stretch analysed (first {WARMUP_FRACTION:.0%} of points skipped as warm-up)"),
        Evidence(metric=name, step=x1, value=json_number(values[-1]),
                 expected=f"about {_fmt(fitted0, unit)} if memory were flat after warm-up; "
                 f"grew {fit.growth_fraction:.1%} (threshold {MIN_GROWTH_FRACTION:.0%})"),
        Evidence(metric=f"{name}:slope_per_step", step=x1, value=json_number(fit.slope),
                 expected=f"<= 0 after warm-up; Theil-Sen fit, R^2 {fit.r2:.2f}, rising in each of 4 quarters "
                 f"({', '.join(_fmt(m, unit) for m in fit.quarter_medians)})"),
    ]
    details: dict = {
        "slope_per_step": fit.slope, "slope_per_step_bytes": fit.slope * unit if unit else None,
        "r2": round(fit.r2, 4), "growth_fraction": round(fit.growth_fraction, 4),
        "warmup_points_skipped": fit.start_index, "also_growing": [n for n, _ in leaks[1:]],
        "projected_exhaustion_step": None,
    }
    severity = "warning"
    message = (
        f"{name} grows by {per_step} per step after warm-up, in every quarter of the run "
        f"(R^2 {fit.r2:.2f}), {_fmt(fitted0, unit)} -> {_fmt(fitted1, unit)} from step {x0} to {x1}."
    )
    if capacity_bytes and unit:
        cap = capacity_bytes / unit
        steps_left = (cap - fitted1) / fit.slope
        projected = int(x1 + max(0.0, steps_left))
        details["projected_exhaustion_step"] = projected
        evidence.append(Evidence(
            metric=f"{name}:projected", step=projected, value=json_number(capacity_bytes),
            expected=f"capacity {format_bytes(capacity_bytes)} reached at this step at the current slope",
        ))
        message += f" At this rate it reaches capacity ({format_bytes(capacity_bytes)}) near step {projected}."
        if steps_left <= (x1 - int(steps[0])):
            severity = "critical"
    elif capacity_bytes is None:
        message += " Pass capacity (e.g. --capacity 80GiB) to project the step at which it runs out."
    if details["also_growing"]:
        message += f" Also growing: {', '.join(details['also_growing'])}."
    confidence = min(0.95, 0.55 + 0.35 * fit.r2 + (0.05 if len(leaks) > 1 else 0.0))
    return [make_finding(
        "memory_leak", severity, f"{name} grows steadily: {per_step} per step",  # type: ignore[arg-type]
        message, confidence=confidence, evidence=evidence, series=name, step_start=x0, step_end=x1,
        details=details,
    )]


def _pair_reserved_allocated(clean: dict) -> tuple[str, str] | None:
    reserved = [n for n, v in clean.items() if v[3] == "reserved"]
    allocated = [n for n, v in clean.items() if v[3] == "allocated"]
    for r in reserved:
        for candidate in (r.replace("reserved", "allocated"), r.replace("reserved", "alloc"),
                          r.replace("cached", "allocated")):
            if candidate in allocated:
                return r, candidate
    if len(reserved) == 1 and len(allocated) == 1:
        return reserved[0], allocated[0]
    return None


def _fragmentation_finding(clean: dict) -> Finding | None:
    """Reserved far above allocated over the second half of the run: memory held but not used."""
    pair = _pair_reserved_allocated(clean)
    if pair is None:
        return None
    r_name, a_name = pair
    r_steps, r_vals, r_unit, _ = clean[r_name]
    a_steps, a_vals, a_unit, _ = clean[a_name]
    if r_unit != a_unit:
        return None
    common, ri, ai = np.intersect1d(r_steps, a_steps, return_indices=True)
    if common.size < 2:
        return None
    res, alloc = r_vals[ri], a_vals[ai]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(res > 0, (res - alloc) / res, 0.0)
    half = common.size // 2
    median_frac = float(bn.median(frac[half:]))
    waste = res - alloc
    worst = half + int(np.argmax(waste[half:]))
    waste_bytes = float(waste[worst]) * r_unit if r_unit else None
    if median_frac < FRAGMENTATION_FRACTION:
        return None
    if waste_bytes is not None and waste_bytes < FRAGMENTATION_MIN_BYTES:
        return None
    step = int(common[worst])
    return make_finding(
        "memory_pressure", "warning",
        f"reserved memory far above allocated: {median_frac:.0%} of reserved is unused",
        f"Over the second half of the run, {median_frac:.0%} (median) of what the caching allocator reserved "
        f"({r_name}) held no tensor ({a_name}); at step {step}, {_fmt(float(res[worst]), r_unit)} reserved for "
        f"{_fmt(float(alloc[worst]), r_unit)} allocated. That is fragmentation or a cache sized by an "
        "earlier, larger peak; it can cause OOM with memory nominally free.",
        confidence=0.7, series=r_name, step_start=int(common[half]), step_end=int(common[-1]),
        evidence=[
            Evidence(metric=r_name, step=step, value=json_number(res[worst]),
                     expected=f"close to {a_name}"),
            Evidence(metric=a_name, step=step, value=json_number(alloc[worst])),
            Evidence(metric=f"{r_name}:unused_fraction", step=step, value=round(median_frac, 4),
                     expected=f"< {FRAGMENTATION_FRACTION:.0%} of reserved"
                     + (f" (and > {format_bytes(FRAGMENTATION_MIN_BYTES)} wasted)" if r_unit else "")),
        ],
        details={"kind": "fragmentation", "unused_fraction": round(median_frac, 4),
                 "unused_bytes_at_worst": waste_bytes},
    )


_PEAK_ORDER = ("max_reserved", "reserved", "max_allocated", "allocated", "rss", "other")


def _pressure(
    clean: dict, capacity_bytes: int | None, warnings: list[str]
) -> tuple[Finding | None, dict]:
    """Peak memory against capacity, on the series closest to what the device sees (reserved first)."""
    candidates = [(n, v) for n, v in clean.items() if v[1].size and v[2]]
    if not candidates:
        return None, {}
    candidates.sort(key=lambda item: _PEAK_ORDER.index(item[1][3]))
    name, (steps, values, unit, kind) = candidates[0]
    i = int(np.argmax(values))
    peak_bytes = float(values[i]) * unit
    headline: dict = {"peak_series": name, "peak_bytes": int(peak_bytes), "peak_human": format_bytes(peak_bytes),
                      "peak_step": int(steps[i]), "capacity_bytes": capacity_bytes}
    if capacity_bytes is None:
        warnings.append(
            f"capacity unknown: peak {format_bytes(peak_bytes)} ({name}, step {int(steps[i])}) reported as an "
            "absolute number. Pass capacity (--capacity 80GiB) to compare it with the device."
        )
        return None, headline
    share = peak_bytes / capacity_bytes
    headline["peak_fraction_of_capacity"] = round(share, 4)
    if share < PRESSURE_WARNING:
        return None, headline
    severity = "critical" if share >= PRESSURE_CRITICAL else "warning"
    return make_finding(
        "memory_pressure", severity,  # type: ignore[arg-type]
        f"peak memory at {share:.0%} of capacity",
        f"{name} peaks at {format_bytes(peak_bytes)} at step {int(steps[i])}, {share:.0%} of the "
        f"{format_bytes(capacity_bytes)} capacity: little headroom for a longer sequence, a bigger batch or "
        "allocator fragmentation.",
        confidence=0.85 if kind in ("reserved", "max_reserved") else 0.7, series=name,
        step_start=int(steps[i]), step_end=int(steps[i]),
        evidence=[Evidence(metric=name, step=int(steps[i]), value=json_number(peak_bytes),
                           expected=f"< {PRESSURE_WARNING:.0%} of capacity "
                           f"({format_bytes(PRESSURE_WARNING * capacity_bytes)})")],
        details={"kind": "peak", "peak_fraction": round(share, 4)},
    ), headline
