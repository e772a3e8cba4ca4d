"""Downsampling for plots: a min/max envelope per pixel column.

A 1M-point series drawn as is costs seconds and shows nothing more than ~1000 columns of pixels can.
Keeping every k-th point is faster but drops spikes, the very thing a triage plot must show. So each
pixel column keeps its minimum and its maximum: the drawn line covers exactly the pixels the full
series would, spikes included, with at most 2 points per column.
"""

from __future__ import annotations

import numpy as np


def envelope(steps: np.ndarray, values: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) with at most ``2 * columns`` finite points that draw like the full series.

    Non-finite values are dropped here (the plot marks them separately); a series already short
    enough is returned as is.
    """
    finite = np.isfinite(values)
    x = np.asarray(steps[finite], dtype=np.float64)
    y = np.asarray(values[finite], dtype=np.float64)
    columns = max(int(columns), 1)
    if len(x) <= 2 * columns:
        return x, y
    lo, hi = x[0], x[-1]
    span = hi - lo if hi > lo else 1.0
    bins = np.minimum(((x - lo) * (columns / span)).astype(np.int64), columns - 1)
    starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
    ends = np.r_[starts[1:], len(x)] - 1
    mins = np.minimum.reduceat(y, starts)
    maxs = np.maximum.reduceat(y, starts)
    # Per column: its first step at the minimum, its last step at the maximum. Drawn in order, the
    # line sweeps the column's full vertical extent, which is what the full series would paint.
    out_x = np.empty(2 * len(starts))
    out_y = np.empty(2 * len(starts))
    out_x[0::2], out_x[1::2] = x[starts], x[ends]
    out_y[0::2], out_y[1::2] = mins, maxs
    return out_x, out_y


def moving_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving mean over ``window`` finite points (display smoothing; NaN where undefined)."""
    y = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(y) < window:
        return y.copy()
    ok = np.isfinite(y)
    filled = np.where(ok, y, 0.0)
    csum = np.cumsum(np.r_[0.0, filled])
    ccount = np.cumsum(np.r_[0, ok.astype(np.int64)])
    total = csum[window:] - csum[:-window]
    count = ccount[window:] - ccount[:-window]
    out = np.full(len(y), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[window - 1:] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out
