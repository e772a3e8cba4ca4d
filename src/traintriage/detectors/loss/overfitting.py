"""``overfitting``: the validation loss rises while the training loss keeps falling.

Validation is logged every N steps, training every step: the two are aligned by STEP (the training
level at a validation step is the median of the training points around it), never by index.
"""

from __future__ import annotations

import math

import bottleneck as bn
import numpy as np

from ...findings import Evidence, Finding, json_number, make_finding
from ...rules.overfitting.thresholds import (
    CONSISTENT_POINTS,
    CONSISTENT_TAU,
    CONSISTENT_Z,
    DISRUPTION_JUMP,
    DISRUPTION_Z,
    EPISODE_MIN_POINTS,
    EPISODE_RISE,
    EPISODE_TAU,
    MEMO_GAP,
    MEMO_TAIL,
    MEMO_TRAIN_FALL,
    MIN_RISE,
    MIN_TAU,
    MIN_VAL_POINTS,
    RISE_Z,
    ROBUST_BEST_POINTS,
    SHORT_RISE,
    SHORT_TRAIN_FALL,
    STALL_FRACTION,
    STALL_POINTS,
    STALL_TRAIN_FALL,
    TRAIN_FALL,
    VAL_STALL,
    VAL_STALL_Z,
)
from ..windows import slice_medians
from .robust import diff_noise, kendall_tau


def train_level_at(train_steps: np.ndarray, train_y: np.ndarray, at: np.ndarray, half_width: float) -> np.ndarray:
    """Median of the training points within +-``half_width`` steps of each step in ``at`` (nearest point if none)."""
    lo = np.searchsorted(train_steps, np.asarray(at) - half_width, side="left")
    hi = np.searchsorted(train_steps, np.asarray(at) + half_width, side="left")
    hi = np.maximum(hi, lo + 1)
    past_end = lo >= train_steps.size
    lo[past_end], hi[past_end] = train_steps.size - 1, train_steps.size
    return slice_medians(train_y, lo, hi)


def best_point(steps: np.ndarray, y: np.ndarray) -> tuple[int, float]:
    """Index of the best validation value and the level a rise is measured from.

    With >= :data:`ROBUST_BEST_POINTS` values the level is the lowest median of three consecutive values
    and the index that of the lowest logged value among those three (a logged value at a logged step);
    with fewer, the lowest value itself.
    """
    if y.size < ROBUST_BEST_POINTS:
        i = int(np.argmin(y))
        return i, float(y[i])
    med3 = bn.median(np.stack([y[:-2], y[1:-1], y[2:]]), axis=0)  # centred on 1..n-2
    c = int(np.argmin(med3)) + 1
    i = c - 1 + int(np.argmin(y[c - 1 : c + 2]))
    return i, float(med3[c - 1])


def detect_overfitting(
    val_name: str,
    val_steps: np.ndarray,
    val_y: np.ndarray,
    train_name: str,
    train_steps: np.ndarray,
    train_y: np.ndarray,
    *,
    log: bool = True,
) -> list[Finding]:
    """Thresholds: after its best point the validation loss rises to a final level (median of the last
    two points) above the best by ``max(MIN_RISE, RISE_Z x its noise)`` with Kendall tau >= ``MIN_TAU``
    over at least 3 points, while the training loss (aligned by step) fell by >= ``TRAIN_FALL``.
    """
    n = val_y.size
    if n < MIN_VAL_POINTS or train_y.size < 3:
        return _short_overfitting(val_name, val_steps, val_y, train_name, train_steps, train_y) if log else []
    best_i, best = best_point(val_steps, val_y)
    after = val_y[best_i:]
    if after.size < 3:
        return []
    final = float(bn.median(val_y[-2:]))
    sig = diff_noise(val_y) if n >= 6 else 0.0
    limit = max(MIN_RISE, RISE_Z * sig) if log else max(RISE_Z * sig, 0.05 * abs(best) or 1e-12)
    tau = kendall_tau(after)
    spacing = float(bn.median(np.diff(val_steps))) if n > 1 else 1.0
    tr = train_level_at(train_steps, train_y, val_steps, max(1.0, spacing / 2))
    fall = float(tr[best_i] - bn.median(tr[-2:]))
    train_fell = fall >= (TRAIN_FALL if log else 0.0)
    if not (final - best > limit and tau >= MIN_TAU) and after.size >= CONSISTENT_POINTS + 1 and tau >= CONSISTENT_TAU:
        limit = max(MIN_RISE, CONSISTENT_Z * sig) if log else max(CONSISTENT_Z * sig, 0.05 * abs(best) or 1e-12)
    rising = final - best > limit and tau >= MIN_TAU and train_fell
    memorizing = log and not rising and _memorizing(val_steps, val_y, tr, sig)
    if not (rising or memorizing):
        episode = _episode(val_steps, val_y, tr, sig) if log else None
        if episode is not None:
            return [_episode_finding(val_name, val_steps, val_y, train_name, tr, *episode)]
        if log and _stalled(val_steps, val_y, tr, best_i, best):
            return [_stalled_finding(val_name, val_steps, val_y, train_name, tr, best_i)]
        return []
    if memorizing:
        return [_memorization_finding(val_name, val_steps, val_y, train_name, tr, best_i)]
    gap = val_y - tr
    gap_slope = float(np.polyfit(val_steps[best_i:], gap[best_i:], 1)[0]) * 1000 if after.size >= 2 else 0.0

    def show(v: float) -> float:
        return math.exp(v) if log else v

    rise = math.exp(final - best) if log else final - best
    best_step = int(val_steps[best_i])
    logged_best = float(val_y[best_i])  # the value logged at the best step (the rise is from the robust level)
    conf = min(0.97, 0.6 + 0.2 * min(1.0, (final - best - limit) / max(limit, 1e-9)) + 0.2 * (tau - MIN_TAU) / 0.7)
    return [
        make_finding(
            "overfitting",
            "warning",
            f"{val_name} rises after step {best_step} while {train_name} falls",
            f"{val_name} was best at step {best_step} ({show(logged_best):.4g}) and ends at {show(final):.4g} "
            f"({rise:.3g}{'x' if log else ''}), while {train_name} fell from {show(tr[best_i]):.4g} to "
            f"{show(float(np.median(tr[-2:]))):.4g}. Early stopping would keep the step-{best_step} checkpoint.",
            confidence=conf,
            series=val_name,
            step_start=best_step,
            step_end=int(val_steps[-1]),
            evidence=_best_end_train(
                val_name, best_step, show(logged_best), int(val_steps[-1]), show(final),
                f"<= {show(best + limit):.4g} (max({math.exp(MIN_RISE) if log else 0:.3g}x, {RISE_Z:g} sigma of its "
                "noise) above the best)",
                train_name, show(float(bn.median(tr[-2:]))), show(tr[best_i]),
            ),
            details={
                "best_step": best_step,
                "best_value": show(logged_best),
                "final_value": show(final),
                "gap_at_best": show(val_y[best_i]) - show(tr[best_i]) if log else gap[best_i],
                "gap_at_end": show(val_y[-1]) - show(tr[-1]) if log else gap[-1],
                "gap_trend_per_1k_steps_log": gap_slope,
                "kendall_tau": round(tau, 3),
            },
        )
    ]


def _best_end_train(val_name: str, best_step: int, v_best: float, end_step: int, v_end: float, end_expected: str,
                    train_name: str, t_end: float, t_best: float) -> list[Evidence]:
    """The evidence every overfitting form gives: the best validation value (the early-stopping point), the
    validation value it ended at against what was expected, and the training level then and at the best."""
    return [
        Evidence(metric=val_name, step=best_step, value=json_number(v_best), expected="best (early-stopping point)"),
        Evidence(metric=val_name, step=end_step, value=json_number(v_end), expected=end_expected),
        Evidence(metric=train_name, step=end_step, value=json_number(t_end),
                 expected=f"training level at the best step was {t_best:.4g}"),
    ]


def _short_overfitting(val_name, val_steps, val_y, train_name, train_steps, train_y) -> list[Finding]:
    if val_y.size != 3 or train_y.size < 3:
        return []
    best_i = int(np.argmin(val_y[:2]))
    rise = float(val_y[-1] - val_y[best_i])
    spacing = float(bn.median(np.diff(val_steps)))
    tr = train_level_at(train_steps, train_y, val_steps, max(1.0, spacing / 2))
    if rise < SHORT_RISE or val_y[-1] < val_y.max() or float(tr[best_i] - tr[-1]) < SHORT_TRAIN_FALL:
        return []
    best_step, v_best, v_end = int(val_steps[best_i]), math.exp(float(val_y[best_i])), math.exp(float(val_y[-1]))
    t_best, t_end = math.exp(float(tr[best_i])), math.exp(float(tr[-1]))
    return [
        make_finding(
            "overfitting",
            "warning",
            f"{val_name} rose {v_end / v_best:.3g}x after step {best_step} while {train_name} fell",
            f"Over its 3 evaluations {val_name} was best at step {best_step} ({v_best:.4g}) and ends at {v_end:.4g} "
            f"({v_end / v_best:.3g}x), while {train_name} fell from {t_best:.4g} to {t_end:.4g}: the model fits its "
            f"training set past the point where it generalised best. Keep the step-{best_step} checkpoint (3 "
            "evaluations only: the verdict rests on one rise).",
            confidence=0.55,
            series=val_name,
            step_start=best_step,
            step_end=int(val_steps[-1]),
            evidence=_best_end_train(
                val_name, best_step, v_best, int(val_steps[-1]), v_end,
                f"< {v_best * math.exp(SHORT_RISE):.4g} ({math.exp(SHORT_RISE):.3g}x the best; 3 evaluations)",
                train_name, t_end, t_best,
            ),
            details={"best_step": best_step, "best_value": v_best, "final_value": v_end, "kind": "short",
                     "evaluations": 3},
        )
    ]


def _stalled(val_steps: np.ndarray, val_y: np.ndarray, tr: np.ndarray, best_i: int, best: float) -> bool:
    """The validation loss never beat its best (robust level) again over >= STALL_FRACTION of the run (>=
    STALL_POINTS evaluations), sat typically >= MIN_RISE above it there and ends no better, while the training
    loss fell >= STALL_TRAIN_FALL meanwhile."""
    span = float(val_steps[-1] - val_steps[0])
    after = val_y[best_i + 1 :]
    if span <= 0 or after.size < STALL_POINTS or (val_steps[-1] - val_steps[best_i]) < STALL_FRACTION * span:
        return False
    final = float(bn.median(val_y[-2:]))
    worse_meanwhile = float(bn.median(after)) - best >= MIN_RISE
    return final >= best and worse_meanwhile and float(tr[best_i] - bn.median(tr[-2:])) >= STALL_TRAIN_FALL


def _stalled_finding(val_name, val_steps, val_y, train_name, tr, best_i) -> Finding:
    best_step = int(val_steps[best_i])
    share = (val_steps[-1] - val_steps[best_i]) / max(1.0, float(val_steps[-1] - val_steps[0]))
    v_best, v_end = math.exp(float(val_y[best_i])), math.exp(float(bn.median(val_y[-2:])))
    t_best, t_end = math.exp(float(tr[best_i])), math.exp(float(bn.median(tr[-2:])))
    evals = val_y.size - 1 - best_i
    return make_finding(
        "overfitting",
        "warning",
        f"{val_name} has not improved since step {best_step} ({share:.0%} of the run) while {train_name} fell",
        f"{val_name} was best at step {best_step} ({v_best:.4g}); none of the {evals} evaluations after it did "
        f"better (it ends at {v_end:.4g}), while {train_name} fell {1 - t_end / t_best:.0%} ({t_best:.4g} -> "
        f"{t_end:.4g}): from there on the model fit its training set, not the task. Early stopping would keep the "
        f"step-{best_step} checkpoint and save {share:.0%} of the compute.",
        confidence=min(0.85, 0.55 + 0.02 * evals),
        series=val_name,
        step_start=best_step,
        step_end=int(val_steps[-1]),
        evidence=_best_end_train(
            val_name, best_step, v_best, int(val_steps[-1]), v_end,
            f"below {v_best:.4g} at some evaluation in {share:.0%} of the run if it still generalised better "
            f"({evals} evaluations)",
            train_name, t_end, t_best,
        ),
        details={"best_step": best_step, "best_value": v_best, "final_value": v_end, "kind": "stalled",
                 "evaluations_after_best": int(evals)},
    )


def _memorizing(val_steps: np.ndarray, val_y: np.ndarray, tr: np.ndarray, sig: float) -> bool:
    k = int(np.searchsorted(val_steps, val_steps[0] + (1 - MEMO_TAIL) * (val_steps[-1] - val_steps[0])))
    if val_y.size - k < 2:
        return False
    val_gain = float(val_y[k] - bn.median(val_y[-2:]))
    train_fall = float(tr[k] - bn.median(tr[-2:]))
    gap = float(bn.median(val_y[-2:]) - bn.median(tr[-2:]))
    return val_gain < max(VAL_STALL, VAL_STALL_Z * sig) and train_fall >= MEMO_TRAIN_FALL and gap >= MEMO_GAP


def _memorization_finding(val_name, val_steps, val_y, train_name, tr, best_i) -> Finding:
    k = int(np.searchsorted(val_steps, val_steps[0] + (1 - MEMO_TAIL) * (val_steps[-1] - val_steps[0])))
    best_step = int(val_steps[best_i])
    v_end, t_k, t_end = math.exp(float(bn.median(val_y[-2:]))), math.exp(tr[k]), math.exp(float(bn.median(tr[-2:])))
    return make_finding(
        "overfitting",
        "warning",
        f"{train_name} keeps falling while {val_name} stalls (memorization)",
        f"From step {int(val_steps[k])} {train_name} falls {t_k / t_end:.3g}x (to {t_end:.3g}) while {val_name} "
        f"no longer improves (ends at {v_end:.4g}, {v_end / t_end:.3g}x the training loss): the model is learning the "
        f"training set, not the task. Best validation step: {best_step}.",
        confidence=0.75,
        series=val_name,
        step_start=int(val_steps[k]),
        step_end=int(val_steps[-1]),
        evidence=[
            Evidence(
                metric=val_name,
                step=best_step,
                value=json_number(math.exp(val_y[best_i])),
                expected="best (early-stopping point)",
            ),
            Evidence(
                metric=val_name,
                step=int(val_steps[-1]),
                value=json_number(v_end),
                expected=f"improving with training (>= {math.exp(VAL_STALL):.3g}x over the last "
                f"{MEMO_TAIL:.0%} of the run)",
            ),
            Evidence(
                metric=train_name,
                step=int(val_steps[-1]),
                value=json_number(t_end),
                expected=f"train/val gap < {math.exp(MEMO_GAP):.3g}x; train fell {t_k / t_end:.3g}x from "
                f"{t_k:.3g} at step {int(val_steps[k])}",
            ),
        ],
        details={
            "best_step": best_step,
            "best_value": math.exp(val_y[best_i]),
            "final_value": v_end,
            "kind": "memorization",
            "gap_ratio_at_end": v_end / t_end,
        },
    )


def _first_peak_after(y: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``peak[i] = i + argmax(y[i : end])`` for every i, where ``end`` is the first entry of ``ends``
    (sorted segment ends, the last one ``y.size``) above i: the first position of the maximum that
    follows i within its segment. O(n): a suffix maximum per segment, then the next position at
    which ``y`` equals its suffix maximum (the first maximum of the suffix is that position)."""
    n = y.size
    peak = np.empty(n, dtype=np.int64)
    start = 0
    for end in ends.tolist():
        if end <= start:
            continue
        seg = y[start:end]
        suffix_max = np.maximum.accumulate(seg[::-1])[::-1]
        idx = np.arange(start, end)
        at_max = np.where(seg == suffix_max, idx, end)
        peak[start:end] = np.minimum.accumulate(at_max[::-1])[::-1]
        start = end
    return peak


def _episode(val_steps: np.ndarray, val_y: np.ndarray, tr: np.ndarray, sig: float) -> tuple[int, int] | None:
    """The strongest rise of the validation loss from a running best that a disruption cut short:
    (best index, peak index), or None. Log-space values (finite: the caller passes the finite prefix).

    Every running best ``b`` is a candidate; its stretch ends at the next disruption, its peak ``p`` is
    the first maximum within the stretch. The cheap conditions are checked for all candidates at once
    and Kendall's tau only for the survivors, strongest rise first (ties: the earliest best), so the
    first survivor that also rises steadily is the answer.
    """
    n = val_y.size
    jumps = np.diff(val_y)
    disruptions = np.flatnonzero(jumps > max(DISRUPTION_JUMP, DISRUPTION_Z * sig)) + 1
    limit = max(EPISODE_RISE, RISE_Z * sig)
    running_min = np.minimum.accumulate(val_y)
    bs = np.flatnonzero(val_y <= running_min)
    if bs.size == 0:
        return None
    seg_ends = np.append(disruptions, n)
    ends = seg_ends[np.searchsorted(disruptions, bs, side="right")]
    ps = _first_peak_after(val_y, seg_ends)[bs]
    ok = (ends - bs >= EPISODE_MIN_POINTS) & (ps - bs + 1 >= EPISODE_MIN_POINTS)
    bs, ps = bs[ok], ps[ok]
    if bs.size == 0:
        return None
    # The level at the peak: median of the peak and the two evaluations before it (p - b >= 4 here).
    level = np.sort(np.stack([val_y[ps - 2], val_y[ps - 1], val_y[ps]], axis=1), axis=1)[:, 1]
    rise = level - val_y[bs]
    ok = ~(rise <= limit) & ~(tr[bs] - tr[ps] < TRAIN_FALL)
    bs, ps, rise = bs[ok], ps[ok], rise[ok]
    for k in np.lexsort((bs, -rise)).tolist():
        b, p = int(bs[k]), int(ps[k])
        if not kendall_tau(val_y[b : p + 1]) < EPISODE_TAU:
            return b, p
    return None


def _episode_finding(val_name, val_steps, val_y, train_name, tr, b: int, p: int) -> Finding:
    best_step, peak_step = int(val_steps[b]), int(val_steps[p])
    v_best, v_peak = math.exp(float(val_y[b])), math.exp(float(val_y[p]))
    t_best, t_peak = math.exp(float(tr[b])), math.exp(float(tr[p]))
    after = "; it was cut short at the next evaluation (a disruption, e.g. a loss spike)" if p + 1 < val_y.size else ""
    return make_finding(
        "overfitting",
        "warning",
        f"{val_name} rose {v_peak / v_best:.3g}x from step {best_step} to {peak_step} while {train_name} fell",
        f"{val_name} was best at step {best_step} ({v_best:.4g}) and rose steadily to {v_peak:.4g} by step "
        f"{peak_step} while {train_name} fell from {t_best:.4g} to {t_peak:.4g}: the model was memorising the "
        f"training set{after}. Early stopping would keep the step-{best_step} checkpoint.",
        confidence=0.7,
        series=val_name,
        step_start=best_step,
        step_end=peak_step,
        evidence=_best_end_train(
            val_name, best_step, v_best, peak_step, v_peak,
            f"<= {v_best * math.exp(EPISODE_RISE):.4g} ({math.exp(EPISODE_RISE):.3g}x the best) and no steady rise "
            f"(here Kendall tau >= {EPISODE_TAU:g} over {p - b + 1} evaluations)",
            train_name, t_peak, t_best,
        ),
        details={
            "best_step": best_step,
            "best_value": v_best,
            "peak_step": peak_step,
            "peak_value": v_peak,
            "kind": "episode",
        },
    )
