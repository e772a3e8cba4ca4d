"""Scale-free statistics of gradient-norm series: pure functions over numpy arrays.

Gradient norms span many orders of magnitude across models, layers and training phases, and their
noise is multiplicative, so everything here works on ``log10`` of the norm and on ratios: a rule that
says "100x the local level" means the same for a 10-parameter MLP and a 7B transformer. Robust
location/scale (median, MAD) keeps a handful of spikes from moving the baselines they are judged against.
"""

from __future__ import annotations

from dataclasses import dataclass

import bottleneck as bn
import numpy as np

from ..robust_stats import robust_sigma
from ..windows import full_window_medians


def align(steps_list: list[np.ndarray], values_list: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Values of several series on the steps they all share: ``(steps, matrix[k, n_steps])``.

    Aligned by step, never by index: components logged on different grids only meet where both exist.
    Steps are sorted and unique (:class:`~traintriage.signals.Series`), so membership is a binary
    search; components logged together (the usual case) share one step array and skip even that.
    """
    if not steps_list:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0))
    common = steps_list[0]
    for s in steps_list[1:]:
        if s.size == common.size and np.array_equal(s, common):
            continue
        pos = np.minimum(np.searchsorted(s, common), max(s.size - 1, 0))
        common = common[s[pos] == common] if s.size else common[:0]
    mat = np.empty((len(steps_list), common.size))
    for i, (s, v) in enumerate(zip(steps_list, values_list, strict=True)):
        mat[i] = v if s.size == common.size else v[np.searchsorted(s, common)]
    return common, mat


def safe_log10(values: np.ndarray) -> np.ndarray:
    """log10 of positive finite values; zero, negative and non-finite values become NaN.

    One ufunc pass and one masked fill: log10 already maps a negative or NaN value to NaN, zero to
    -inf and +inf to +inf, so only the infinities need replacing (half the time of gathering the
    valid values through a boolean index and scattering them back; stats, spikes and depth each call it
    on every component).
    """
    x = np.asarray(values, dtype=np.float64)
    out = np.empty_like(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.log10(x, out=out)
    np.copyto(out, np.nan, where=~np.isfinite(out))
    return out


def window_medians(x: np.ndarray, window: int) -> np.ndarray:
    """``m[j] = np.median(x[j : j + window])`` for every full window (``x`` finite), bit for bit."""
    return full_window_medians(x, window)


def window_median(x: np.ndarray, start: float, stop: float) -> float:
    """Median of the finite values in the fractional slice [start, stop) of ``x`` (at least 3 points)."""
    n = x.size
    lo, hi = int(np.floor(start * n)), int(np.ceil(stop * n))
    if hi - lo < 3:
        lo, hi = (max(0, hi - 3), hi) if stop >= 1 else (lo, min(n, lo + 3))
    seg = x[lo:hi]
    seg = seg[np.isfinite(seg)]
    return float(bn.median(seg)) if seg.size else float("nan")


def log_slope(steps: np.ndarray, logv: np.ndarray) -> float:
    """Least-squares slope of log10(norm) per 1000 steps, over finite points (NaN if under 5)."""
    ok = np.isfinite(logv)
    if ok.sum() < 5 or np.ptp(steps[ok]) == 0:
        return float("nan")
    t = steps[ok].astype(np.float64)
    t -= t.mean()
    y = logv[ok]
    # Sums of products rather than np.dot, whose multi-threaded BLAS hand-off costs more than the sum.
    return float((t * (y - y.mean())).sum() / (t * t).sum() * 1000.0)


def volatility(logv: np.ndarray) -> float:
    """Typical step-to-step change of log10(norm): MAD of the first differences (decades)."""
    d = np.diff(logv[np.isfinite(logv)])
    return robust_sigma(d) if d.size >= 3 else float("nan")


@dataclass(frozen=True)
class Shift:
    step: int
    before: float
    after: float


def regime_shifts(steps: np.ndarray, logv: np.ndarray, *, min_decades: float = 0.5, max_shifts: int = 5) -> list[Shift]:
    """Sustained level changes of log10(norm): medians of the windows either side differ by >= min_decades.

    The window is a tenth of the run (at least 10 points), so a spike (a few points) is not a shift;
    0.5 decades (about 3x) is well above the drift of a healthy run within a tenth of it.

    The largest differences are taken first, at least a window apart. A clean step makes the
    difference equal over a stretch of about a window around it (each window still holds a majority
    from its own side), so a stretch of equal differences is one shift, placed at its middle: where
    the step is. Ties are broken by position, never by the order an unstable sort happens to leave
    them in, which can change with the NumPy build or the CPU's sorting kernels.
    """
    ok = np.isfinite(logv)
    x, st = logv[ok], steps[ok]
    n = x.size
    w = max(10, n // 10)
    if n < 2 * w + 1:
        return []
    m = window_medians(x, w)  # m[j] = median(x[j : j + w])
    diffs = np.full(n, 0.0)
    diffs[w : n - w + 1] = m[w:] - m[: n - 2 * w + 1]  # after-window minus before-window median at i
    size = np.abs(diffs)
    candidates = np.flatnonzero(size >= min_decades)
    if candidates.size == 0:
        return []
    # Stretches of equal differences: run r spans [run_start[r], run_start[r + 1]).
    run_start = np.concatenate([[0], np.flatnonzero(diffs[1:] != diffs[:-1]) + 1, [n]])
    shifts: list[Shift] = []
    used = np.zeros(n, dtype=bool)
    seen_runs: set[int] = set()
    for i in candidates[np.argsort(-size[candidates], kind="stable")].tolist():
        if len(shifts) >= max_shifts:
            break
        r = int(np.searchsorted(run_start, i, side="right")) - 1
        if r in seen_runs:
            continue
        seen_runs.add(r)
        at = (int(run_start[r]) + int(run_start[r + 1]) - 1) // 2
        if used[max(0, at - w) : at + w].any():
            continue
        used[at] = True
        shifts.append(Shift(int(st[at]), float(10 ** m[at - w]), float(10 ** m[at])))
    return sorted(shifts, key=lambda s: s.step)


def percent(mask: np.ndarray) -> float:
    return float(100.0 * mask.mean()) if mask.size else 0.0
