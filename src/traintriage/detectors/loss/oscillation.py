"""``oscillation``: large, structured swings of the loss with no net progress.

Why it is not noise: minibatch noise is independent from step to step (lag-1 autocorrelation ~0
around the trend). An optimizer that overshoots produces structure: an alternating sign (lag-1
autocorrelation strongly negative, LR too high for the curvature) or slow swings many steps long
(strongly positive, momentum too high), crossing the trend again and again.
"""

from __future__ import annotations

import math

import bottleneck as bn
import numpy as np

from ...findings import Evidence, Finding, json_number, make_finding
from ...rules.oscillation.thresholds import (
    CHAOS_ABOVE,
    CHAOS_SWING,
    MIN_ABS_AUTOCORR,
    MIN_CROSSINGS,
    MIN_POINTS,
    MIN_SWING,
    PROGRESS_SHARE,
    TAIL_FRACTION,
    VAL_MIN_POINTS,
    VAL_SWING,
)
from ..robust_stats import rolling_median
from .robust import kendall_tau, lag1_autocorr


def detect_oscillation(name: str, steps: np.ndarray, y: np.ndarray, *, log: bool = True) -> list[Finding]:
    """Thresholds: on the last ``TAIL_FRACTION`` of the run, detrended by a rolling median of a fifth of
    it, the 10-90 % spread of the residual is >= ``MIN_SWING`` (log space: 2x; linear: half the
    spread of the whole run), |lag-1 autocorrelation| >= ``MIN_ABS_AUTOCORR``, the residual changes
    sign >= ``MIN_CROSSINGS`` times, and the trend fell by less than ``PROGRESS_SHARE`` of the swing.
    Or (chaotic) the swing is >= ``CHAOS_SWING`` with no progress while the tail sits >= ``CHAOS_ABOVE``
    above the best early level.
    """
    if y.size < MIN_POINTS:
        return []
    a = int(y.size * (1 - TAIL_FRACTION))
    ys, ss = y[a:], steps[a:]
    m = ys.size
    trend = rolling_median(ys, max(5, m // 5))
    resid = ys - trend
    q10, q90 = np.percentile(resid, [10, 90])
    swing = float(q90 - q10)
    floor = MIN_SWING if log else 0.5 * float(np.subtract(*np.percentile(y, [95, 5])))
    ac = lag1_autocorr(resid)
    signs = np.sign(resid[resid != 0])
    crossings = int(np.count_nonzero(signs[1:] != signs[:-1]))
    k = max(2, m // 10)
    progress = float(bn.median(trend[:k]) - bn.median(trend[-k:]))
    no_progress = progress < PROGRESS_SHARE * swing
    structured = swing >= floor and abs(ac) >= MIN_ABS_AUTOCORR and crossings >= MIN_CROSSINGS
    early = y[: max(5, y.size // 5)]
    early_best = float(np.min(rolling_median(early, max(5, y.size // 20))))  # a level, not a lucky batch
    chaotic = log and swing >= CHAOS_SWING and float(bn.median(ys)) - early_best >= CHAOS_ABOVE
    if not no_progress or not (structured or chaotic):
        return []
    if structured:
        kind = "alternating step to step" if ac < 0 else "in slow waves"
    else:
        kind = f"erratically, {math.exp(float(np.median(ys)) - early_best):.3g}x above the level it had reached early"
    lo, hi = (math.exp(ys.min()), math.exp(ys.max())) if log else (ys.min(), ys.max())
    ratio = math.exp(swing) if log else swing
    conf = min(0.95, 0.55 + 0.2 * min(1.0, (abs(ac) - MIN_ABS_AUTOCORR) / 0.4) + 0.2 * min(1.0, swing / floor - 1))
    i_hi = int(np.argmax(ys))
    return [
        make_finding(
            "oscillation",
            "warning",
            f"{name} oscillates {kind} without progress",
            f"From step {int(ss[0])} {name} swings between {lo:.4g} and {hi:.4g} ({kind}; 10-90 % swing "
            f"{ratio:.3g}{'x' if log else ''}, lag-1 autocorrelation {ac:.2f}, {crossings} crossings of its trend) "
            "and its trend makes no net progress: the optimizer overshoots (LR or momentum too high for the "
            "curvature).",
            confidence=conf,
            series=name,
            step_start=int(ss[0]),
            step_end=int(ss[-1]),
            evidence=[
                Evidence(
                    metric=name,
                    step=int(ss[i_hi]),
                    value=json_number(hi),
                    expected=f"10-90 % swing around the trend < {math.exp(floor) if log else floor:.3g}"
                    f"{'x' if log else ''} (measured {ratio:.3g})",
                ),
                Evidence(
                    metric=f"{name} (lag-1 autocorrelation of detrended)",
                    step=int(ss[0]),
                    value=round(ac, 3),
                    expected=f"|r1| < {MIN_ABS_AUTOCORR} (independent minibatch noise has r1 ~ 0)",
                ),
                Evidence(
                    metric=f"{name} (trend progress)",
                    step=int(ss[-1]),
                    value=round(math.exp(progress), 4) if log else progress,
                    expected=f">= {PROGRESS_SHARE:g} of the swing if the run were still making progress",
                ),
            ],
            details={"swing": ratio, "lag1_autocorr": round(ac, 3), "crossings": crossings},
        )
    ]


def detect_validation_oscillation(name: str, steps: np.ndarray, y: np.ndarray) -> list[Finding]:
    """``oscillation`` of a validation loss (``y`` in log space): see :data:`VAL_SWING`."""
    if y.size < VAL_MIN_POINTS:
        return []
    a = int(y.size * (1 - TAIL_FRACTION))
    tail, ts = y[a:], steps[a:]
    step_swing = float(bn.median(np.abs(np.diff(tail))))
    third = max(2, tail.size // 3)
    progress = float(bn.median(tail[:third]) - bn.median(tail[-third:]))
    climbing = kendall_tau(tail) >= 0.5
    if step_swing < VAL_SWING or progress >= PROGRESS_SHARE * step_swing or climbing:
        return []
    lo, hi = math.exp(float(tail.min())), math.exp(float(tail.max()))
    i_hi = int(np.argmax(tail))
    return [
        make_finding(
            "oscillation",
            "warning",
            f"{name} swings {math.exp(step_swing):.3g}x between evaluations without progress",
            f"From step {int(ts[0])} {name} jumps between {lo:.4g} and {hi:.4g}: the median change from one "
            f"evaluation to the next is {math.exp(step_swing):.3g}x, and its level makes no net progress. A validation "
            "loss averages the whole validation set, so the swings are the model's: its updates throw it around "
            "(an LR too high for the curvature; for Adam, try a third of it).",
            confidence=min(0.9, 0.55 + 0.2 * min(1.0, step_swing / VAL_SWING - 1) + 0.01 * tail.size),
            series=name,
            step_start=int(ts[0]),
            step_end=int(ts[-1]),
            evidence=[
                Evidence(metric=name, step=int(ts[i_hi]), value=json_number(hi),
                         expected=f"median change between evaluations < {math.exp(VAL_SWING):.3g}x (measured "
                         f"{math.exp(step_swing):.3g}x over {tail.size} evaluations)"),
                Evidence(metric=f"{name} (progress over the stretch)", step=int(ts[-1]),
                         value=round(math.exp(progress), 4),
                         expected=f">= {PROGRESS_SHARE:g} of the swing if the model were still improving"),
            ],
            details={"swing": math.exp(step_swing), "evaluations": int(tail.size), "kind": "validation"},
        )
    ]
