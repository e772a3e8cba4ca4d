"""How the training loss and the log gradient norm move together, at lags of a few logged points.

Aligned by step, not by index: the two series are intersected on the steps both logged. When the
grids differ (loss every 10 steps, norms every 50, or offset by one), the loss is interpolated onto the
norm's steps inside the range both cover, and ``alignment`` says so.

Spearman rank correlation (scale-free, robust to the heavy tails of both series) is computed on the
raw values (mostly shared trend) and on their deviations from a centred rolling median (the
step-to-step co-movement that ties loss spikes to gradient spikes). A positive ``best_lag`` k means
the gradient norm moves k logged points *before* the loss.
"""

from __future__ import annotations

import numpy as np

from ..rank import RankedSample, rank_correlation
from ..robust_stats import rolling_median
from .models import LagCorrelation, LossCorrelation
from .stats import safe_log10

MAX_LAG = 5
MIN_POINTS = 10


def _lag_spearman(a: RankedSample, b: RankedSample, lag: int) -> float | None:
    """Spearman's rho of the pairs (a[t], b[t + lag]) where both are finite (None: too few, or constant)."""
    n = a.x.size
    in_a = np.zeros(n, dtype=bool)
    in_b = np.zeros(n, dtype=bool)
    if lag >= 0:
        ok = np.isfinite(a.x[: n - lag]) & np.isfinite(b.x[lag:])
        in_a[: n - lag], in_b[lag:] = ok, ok
    else:
        ok = np.isfinite(a.x[-lag:]) & np.isfinite(b.x[: n + lag])
        in_a[-lag:], in_b[: n + lag] = ok, ok
    if ok.sum() < MIN_POINTS or np.ptp(a.x[in_a]) == 0 or np.ptp(b.x[in_b]) == 0:
        return None
    rho = rank_correlation(a.ranks_of(in_a), b.ranks_of(in_b))
    return round(float(rho), 4) if np.isfinite(rho) else None


def loss_correlation(
    loss_name: str,
    loss_steps: np.ndarray,
    loss: np.ndarray,
    norm_name: str,
    norm_steps: np.ndarray,
    norm: np.ndarray,
) -> LossCorrelation | None:
    common, li, ni = np.intersect1d(loss_steps, norm_steps, return_indices=True)
    if common.size >= MIN_POINTS and common.size >= 0.5 * min(loss_steps.size, norm_steps.size):
        lv, nv, alignment = loss[li], norm[ni], "intersect"
    else:
        lo, hi = max(loss_steps[0], norm_steps[0]), min(loss_steps[-1], norm_steps[-1])
        inside = (norm_steps >= lo) & (norm_steps <= hi)
        fl = np.isfinite(loss)
        if inside.sum() < MIN_POINTS or fl.sum() < 2:
            return None
        lv = np.interp(norm_steps[inside], loss_steps[fl], loss[fl])
        nv, alignment = norm[inside], "interpolated"
    ln = safe_log10(nv)
    w = max(5, min(25, lv.size // 10))
    w = 2 * (w // 2) + 1  # odd: a centred window with as many points after each point as before it
    with np.errstate(invalid="ignore"):  # inf - inf where the loss overflowed: NaN, left out (finite pairs only)
        l_dev = lv - rolling_median(lv, w)
        n_dev = ln - rolling_median(ln, w)
    # Each series is ranked once; every lag re-ranks only the few points it drops (see RankedSample).
    ranked = [RankedSample(x) for x in (ln, lv, n_dev, l_dev)]
    by_lag = []
    for lag in range(-MAX_LAG, MAX_LAG + 1):
        by_lag.append(
            LagCorrelation(
                lag=lag,
                spearman=_lag_spearman(ranked[0], ranked[1], lag),
                spearman_detrended=_lag_spearman(ranked[2], ranked[3], lag),
            )
        )
    scored = [c for c in by_lag if c.spearman_detrended is not None]
    best = max(scored, key=lambda c: abs(c.spearman_detrended or 0.0)).lag if scored else None
    zero = by_lag[MAX_LAG]
    return LossCorrelation(
        loss_series=loss_name,
        norm_series=norm_name,
        alignment=alignment,
        points=int(lv.size),
        spearman=zero.spearman,
        spearman_detrended=zero.spearman_detrended,
        best_lag=best,
        by_lag=by_lag,
    )
