"""Robust, scale-free statistics the loss detectors share.

Losses span orders of magnitude during a run and their minibatch noise grows with their level, so
every comparison is made in log space (a ratio) against a *local* robust baseline (rolling median)
and a *local* robust noise scale (MAD of first differences); the shared pieces (``rolling_median``,
``robust_sigma``, ``MAD_TO_SIGMA``) live in :mod:`..robust_stats`. Medians and MADs ignore the very
outliers (spikes) we are looking for; first differences ignore the trend a falling loss always has.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import bottleneck as bn
import numpy as np

from ..robust_stats import MAD_TO_SIGMA, robust_sigma
from ..windows import trailing_mad

SMOOTH_NOISE = 0.05
"""A series whose point-to-point noise (:func:`diff_noise`, log space) is below 5 % is smooth: an epoch average or
an evaluation over a whole set, with none of a per-step minibatch loss's heavy tails."""


def log_space(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """``(log(values), True)`` when every value is positive, else ``(values, False)``.

    A loss below or at zero (a negative log-likelihood of a density, an ELBO) has no ratio scale; the
    detectors then work on differences and say so.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size and np.all(values > 0):
        return np.log(values), True
    return values.copy(), False


def diff_noise(y: np.ndarray) -> float:
    """Point-to-point noise of ``y``: robust sigma of first differences over sqrt(2).

    Differencing removes a smooth trend (a falling loss), so this measures the noise around the
    trend, not the trend itself. For a loss in log space it is the relative noise (0.2 = 20 %).
    """
    y = np.asarray(y, dtype=np.float64)
    if y.size < 3:
        return 0.0
    return robust_sigma(np.diff(y)) / np.sqrt(2.0)


def trailing_noise(y: np.ndarray, window: int, at: np.ndarray | None = None) -> np.ndarray:
    """Local point-to-point noise (see :func:`diff_noise`) of the ``window`` points before each point.

    NaN where fewer than 4 points precede. ``at``: compute it only at these indices (NaN elsewhere),
    for a caller that needs it at a few points; each value is the same either way.
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.size
    out = np.full(n, np.nan)
    if n < 5:
        return out
    d = np.diff(y)  # d[j] = y[j+1] - y[j]; the differences among y[i-window:i] are d[i-window : i-1]
    if at is None:
        rows = np.arange(4, n)
    else:
        at = np.asarray(at, dtype=np.int64)
        rows = at[at >= 4]
    if rows.size:
        out[rows] = MAD_TO_SIGMA * trailing_mad(d, rows - 1, window - 1) / np.sqrt(2.0)
    return out


def block_medians(y: np.ndarray, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``y`` into ``blocks`` contiguous, nearly equal blocks: (median of each, start index of each)."""
    n = y.size
    blocks = max(1, min(blocks, n))
    edges = np.linspace(0, n, blocks + 1).astype(int)
    if blocks > 8 and not np.isnan(y).any():  # one sort for all blocks: each block's values end up in a run
        block = np.repeat(np.arange(blocks), np.diff(edges))
        ys = y[np.lexsort((y, block))]
        lo, hi = edges[:-1] + (np.diff(edges) - 1) // 2, edges[:-1] + np.diff(edges) // 2
        return (ys[lo] + ys[hi]) / 2, edges[:-1]
    meds = np.array([bn.median(y[a:b]) for a, b in itertools.pairwise(edges)])
    return meds, edges[:-1]


KENDALL_MAX_POINTS = 2000


def kendall_tau(x: np.ndarray, *, max_points: int = KENDALL_MAX_POINTS) -> float:
    """Kendall's tau of ``x`` against its index: +1 strictly rising, -1 strictly falling, ~0 no trend.

    Exact up to ``max_points``: the sum over all pairs of ``sign(x[j] - x[i])`` (tau-a) is concordant minus
    discordant pairs, and the discordant pairs are the inversions of ``x``, counted by a bottom-up merge
    sort in O(n log^2 n) with numpy (all pairs at once cost ~25x more on 2,000 points, and the loss
    detectors call this a dozen times per run). A longer series is thinned evenly to ``max_points`` first,
    which keeps the trend test's answer and bounds its cost. A NaN (or two equal infinities, whose
    difference is NaN) gives NaN, as the pairwise signs do.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n < 3:
        return 0.0
    if n > max_points:
        x = x[np.linspace(0, n - 1, max_points).astype(int)]
        n = max_points
    if np.isnan(x).any() or (x == np.inf).sum() > 1 or (x == -np.inf).sum() > 1:
        return float("nan")
    keys = np.unique(x, return_inverse=True)[1].reshape(-1).astype(np.int64)  # equal values, equal ranks
    counts = np.bincount(keys)
    ties = int((counts * (counts - 1) // 2).sum())
    idx = np.arange(n)
    discordant = 0
    width = 1
    while width < n:  # keys are sorted within runs of `width`; count inversions between neighbouring runs
        pair = idx // (2 * width)
        left = (idx // width) % 2 == 0
        offset = pair * n  # one searchsorted serves every pair of runs
        lk = offset[left] + keys[left]
        ends = np.searchsorted(pair[left], pair[~left], side="right")
        discordant += int((ends - np.searchsorted(lk, offset[~left] + keys[~left], side="right")).sum())
        keys = np.sort(offset + keys) - offset
        width *= 2
    pairs = n * (n - 1) // 2
    return float((pairs - ties - 2 * discordant) / pairs)


def theil_sen_slope(t: np.ndarray, y: np.ndarray, *, max_points: int = 400) -> float:
    """Median of pairwise slopes: a trend estimate that outliers (spikes) cannot drag."""
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if t.size < 2:
        return 0.0
    if t.size > max_points:  # evenly thinned: the estimate needs the shape, not every point
        idx = np.linspace(0, t.size - 1, max_points).astype(int)
        t, y = t[idx], y[idx]
    i, j = _pairs(t.size)  # the pairs i < j, gathered directly: no n x n matrices
    dt = t[j] - t[i]
    ok = dt != 0
    if not np.any(ok):
        return 0.0
    return float(bn.median((y[j] - y[i])[ok] / dt[ok]))


@lru_cache(maxsize=8)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, 1)


def lag1_autocorr(x: np.ndarray) -> float:
    """Lag-1 autocorrelation (0.0 for a constant or too short series)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < 4:
        return 0.0
    x = x - x.mean()
    den = float((x * x).sum())  # not np.dot: see detectors.rank.rank_correlation
    return 0.0 if den == 0 else float((x[:-1] * x[1:]).sum() / den)
