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


class RankedSample:
    """A sample ranked once, whose ranks among any subset of its values are then cheap.

    Correlating a series with another at several lags ranks nearly the same values each time (a lag
    drops a few points at the ends). Removing values ``R`` lowers the average rank of each kept value
    ``v`` by ``#{r in R: r < v} + #{r in R: r == v} / 2``, exactly (ranks are multiples of 1/2), so a
    subset that drops few values costs a binary search instead of a sort.
    """

    REBUILD_ABOVE = 64  # dropping more values than this: rank the subset afresh

    def __init__(self, x: np.ndarray) -> None:
        self.x = np.asarray(x, dtype=np.float64)
        self.ranks = average_ranks(self.x)

    def ranks_of(self, keep: np.ndarray) -> np.ndarray:
        """``average_ranks(x[keep])``, bit for bit."""
        removed = self.x[~keep]
        if removed.size > self.REBUILD_ABOVE:
            return average_ranks(self.x[keep])
        kept_ranks = self.ranks[keep]
        if removed.size == 0:
            return kept_ranks
        r = np.sort(removed)  # NaN sorts last and never compares less or equal: it shifts no rank
        kept = self.x[keep]
        less = np.searchsorted(r, kept, side="left")
        equal = np.searchsorted(r, kept, side="right") - less
        return kept_ranks - less - equal / 2


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of two equal-length finite samples (NaN when either is constant)."""
    return rank_correlation(average_ranks(x), average_ranks(y))


def rank_correlation(rx: np.ndarray, ry: np.ndarray) -> float:
    """Pearson's r of two rank vectors: Spearman's rho once the samples are ranked (NaN if one is constant)."""
    rx = rx - rx.mean()
    ry = ry - ry.mean()
    # Sums of products, not np.dot: BLAS ddot goes multi-threaded above 10k elements and its thread
    # hand-off cost milliseconds per call on a busy machine.
    den = float(np.sqrt((rx * rx).sum() * (ry * ry).sum()))
    if den == 0.0:
        return float("nan")
    return float(np.clip((rx * ry).sum() / den, -1.0, 1.0))
