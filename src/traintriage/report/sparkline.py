"""One-line unicode sparklines (``▁▂▃▄▅▆▇█``) for a series, for text, markdown and HTML reports.

Each character is one bucket of steps and shows the bucket's *maximum*, so a one-step spike shows up
in a 40-character line instead of being averaged away. Values that span two decades or more are drawn
on a log scale (and the caller is told, so it can say so). A bucket holding a NaN or Inf is ``×``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BARS = "▁▂▃▄▅▆▇█"
NONFINITE = "×"
LOG_DECADES = 2.0


@dataclass(frozen=True)
class Spark:
    text: str
    log: bool


def sparkline(values: np.ndarray, width: int = 40) -> Spark:
    y = np.asarray(values, dtype=np.float64)
    if not len(y):
        return Spark("", False)
    width = max(1, min(width, len(y)))
    edges = np.linspace(0, len(y), width + 1).astype(np.int64)
    finite = np.isfinite(y)
    positive = y[finite]
    log = bool(len(positive) and (positive > 0).all() and np.log10(positive.max() / positive.min()) >= LOG_DECADES)
    scaled = np.where(finite, np.log10(np.where(finite & (y > 0), y, 1.0)) if log else y, np.nan)
    chars = []
    starts = edges[:-1]  # every bucket holds at least one point (width <= len(y))
    tops_arr = np.maximum.reduceat(np.where(finite, scaled, -np.inf), starts)
    tops_arr[~np.logical_and.reduceat(finite, starts)] = np.nan  # a bucket with a NaN/Inf is drawn ×
    good = np.isfinite(tops_arr)
    lo, hi = (tops_arr[good].min(), tops_arr[good].max()) if good.any() else (0.0, 0.0)
    for t in tops_arr:
        if not np.isfinite(t):
            chars.append(NONFINITE)
        elif hi == lo:
            chars.append(BARS[len(BARS) // 2])
        else:
            chars.append(BARS[min(int((t - lo) / (hi - lo) * len(BARS)), len(BARS) - 1)])
    return Spark("".join(chars), log)
