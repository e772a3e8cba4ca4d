"""Rank statistics in plain NumPy.

Spearman's rho is the one rank statistic the detectors need; importing ``scipy.stats`` for it cost
~0.6 s on every cold start (more than reading a 1M-scalar run), so it is computed here the way
scipy does: average ranks for ties, then Pearson's r of the ranks.
"""

from __future__ import annotations

import math

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


def mann_whitney_u_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value of two finite samples, as ``scipy.stats.mannwhitneyu`` gives it
    by default: the exact null distribution when either sample has at most 8 values and there are no
    ties, else the normal approximation with tie and continuity corrections. NaN for an empty sample.

    Sweeps compare hyperparameters of a few dozen trials; the exact distribution (counts of the
    Gaussian binomial coefficient, in Python integers) costs nothing at those sizes.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n1, n2 = x.size, y.size
    if n1 == 0 or n2 == 0:
        return float("nan")
    both = np.concatenate([x, y])
    ranks = average_ranks(both)
    u1 = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2
    u = max(u1, n1 * n2 - u1)
    _, ties = np.unique(both, return_counts=True)
    if (n1 > 8 and n2 > 8) or (ties > 1).any():
        n = n1 + n2
        tie_term = float((ties.astype(np.float64) ** 3 - ties).sum())
        s = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
        numerator = u - n1 * n2 / 2 - 0.5
        # Every value tied (s == 0): the numerator is -0.5, and z = -inf gives p = 1, as scipy's 0-division does.
        z = numerator / s if s else math.copysign(math.inf, numerator)
        p = math.erfc(z / math.sqrt(2))  # 2 * P(N(0,1) > z)
    else:
        counts = _u_counts(min(n1, n2), max(n1, n2))
        p = 2 * sum(counts[int(u):]) / sum(counts)
    return min(max(p, 0.0), 1.0)


def _u_counts(m: int, n: int) -> list[int]:
    """How many arrangements of ``m`` + ``n`` distinct values give U = 0, 1, ..., m*n: the coefficients
    of the Gaussian binomial [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i)."""
    poly = [1]
    for i in range(1, m + 1):
        a = n + i
        grown = poly + [0] * a  # times (1 - q^a)
        for k in range(len(poly)):
            grown[k + a] -= poly[k]
        for k in range(i, len(grown)):  # divided by (1 - q^i), exactly: Q[k] = P[k] + Q[k - i]
            grown[k] += grown[k - i]
        poly = grown[: m * n + 1] if len(grown) > m * n + 1 else grown
    return poly
