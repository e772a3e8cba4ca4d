"""Descriptive statistics of a loss curve: levels, reduction, convergence rate, noise, phases."""

from __future__ import annotations

import math

import bottleneck as bn
import numpy as np

from ..robust_stats import rolling_median
from .report import Phase
from .robust import SMOOTH_NOISE, block_medians, diff_noise, theil_sen_slope
from .schedule import Schedule


def _show(v: float, log: bool) -> float:
    return float(math.exp(v)) if log else float(v)


def levels(steps: np.ndarray, y: np.ndarray, log: bool) -> dict:
    """Initial/final levels (medians, not single points), the best (a logged value at a logged step: the lowest
    one in a smooth series; in a noisy one, where the rolling median is lowest, the value logged nearest that
    level, so neither a smoothed number nor a lucky minibatch), reduction, rates and noise."""
    n = y.size
    if n == 0:
        return {}
    k = max(1, min(10, n // 20))
    initial, final = float(bn.median(y[:k])), float(bn.median(y[-k:]))
    window = max(3, min(50, n // 20)) | 1
    noise = diff_noise(y) if n >= 3 else 0.0
    if noise < SMOOTH_NOISE:  # epoch averages, evaluations: the lowest value logged is the best
        b = int(np.nanargmin(y))
    else:  # minibatch noise: where the curve is lowest, the value logged nearest that level (no lucky batch)
        smooth = rolling_median(y, window)
        c = int(np.nanargmin(smooth))
        lo = max(0, c - window // 2)
        b = lo + int(np.nanargmin(np.abs(y[lo : c + window // 2 + 1] - smooth[c])))
    span = float(steps[-1] - steps[0]) if n > 1 else 0.0
    rate = (initial - final) / span * 1000 if log and span > 0 else None
    q = max(3, n // 4)
    recent = -theil_sen_slope(steps[-q:], y[-q:]) * 1000 if log and n >= 6 else None
    out = {
        "initial": _show(initial, log),
        "final": _show(final, log),
        "best": _show(float(y[b]), log),
        "best_step": int(steps[b]),
        "convergence_rate_per_1k": rate,
        "recent_rate_per_1k": recent,
        "noise_level": noise if n >= 3 else None,
    }
    init_v, fin_v = out["initial"], out["final"]
    out["reduction_pct"] = 100.0 * (init_v - fin_v) / abs(init_v) if init_v else None
    return out


def phases(steps: np.ndarray, y: np.ndarray, log: bool, schedule: Schedule | None) -> list[Phase]:
    """Split the curve into warmup / fast descent / slow descent / plateau / rising stretches.

    Block medians (~20 blocks); each block-to-block change is compared with the block noise: a drop of
    at least a quarter of the steepest drop is fast descent, any significant drop slow descent, a
    significant rise rising, the rest plateau. Warmup comes from the LR schedule.
    """
    n = y.size
    if n < 10:
        return []
    nb = int(min(20, max(4, n // 5)))
    meds, starts = block_medians(y, nb)
    nb = meds.size
    sig = 1.25 * diff_noise(y) / math.sqrt(max(1.0, n / nb))
    tol = max(3 * sig, 0.01 if log else 0.0)
    drops = -np.diff(meds)
    steepest = max(float(drops.max()), 0.0)
    labels = []
    for d in drops:
        if d > tol and d >= 0.25 * steepest:
            labels.append("fast_descent")
        elif d > tol:
            labels.append("slow_descent")
        elif d < -tol:
            labels.append("rising")
        else:
            labels.append("plateau")
    ends = [*starts[1:].tolist(), n - 1]
    out: list[Phase] = []
    for j, lab in enumerate(labels):
        a, b = int(starts[j]), (int(ends[j]) if j < len(labels) - 1 else n - 1)
        if out and out[-1].kind == lab:
            out[-1].step_end = int(steps[b])
            out[-1].end_value = _show(meds[j + 1], log)
        else:
            out.append(
                Phase(
                    kind=lab,
                    step_start=int(steps[a]),
                    step_end=int(steps[b]),
                    start_value=_show(meds[j], log),
                    end_value=_show(meds[j + 1], log),
                )
            )
    if schedule is not None and schedule.warmup_end is not None and schedule.warmup_end > int(steps[0]):
        w_end = min(schedule.warmup_end, int(steps[-1]))
        i = int(np.searchsorted(steps, w_end, side="right")) - 1
        out = [p for p in out if p.step_end > w_end]
        for p in out:
            p.step_start = max(p.step_start, w_end)
        out.insert(
            0,
            Phase(
                kind="warmup",
                step_start=int(steps[0]),
                step_end=w_end,
                start_value=_show(float(bn.median(y[: max(1, min(5, i + 1))])), log),
                end_value=_show(float(y[max(i, 0)]), log),
            ),
        )
    return out
