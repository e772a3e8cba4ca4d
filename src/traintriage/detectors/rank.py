"""Rank statistics in plain NumPy.

Spearman's rho is the one rank statistic the detectors need; importing ``scipy.stats`` for it cost
~0.6 s on every cold start (more than reading a 1M-scalar run), so it is computed here the way
scipy does: average ranks for ties, then Pearson's r of the ranks.
"""

from __future__ import annotations

import numpy as np


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x``, tied values sharing the mean of their ranks (scipy's ``method="average"``)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # Runs of equal values: each gets the mean of the ranks its members would take.
    new_run = np.concatenate([[True], xs[1:] != xs[:-1]])
    run_id = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    ends = np.concatenate([starts[1:], [xs.size]])
    mean_rank = (starts + ends + 1) / 2.0  # ranks starts+1 .. ends, averaged
    ranks = np.empty(x.size)
    ranks[order] = mean_rank[run_id]
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of two equal-length finite samples (NaN when either is constant)."""
    rx, ry = average_ranks(x), average_ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    den = float(np.sqrt(np.dot(rx, rx) * np.dot(ry, ry)))
    if den == 0.0:
        return float("nan")
    return float(np.clip(np.dot(rx, ry) / den, -1.0, 1.0))
