"""``loss_spike``: a sudden, short jump of the loss far above its LOCAL level.

Why local: a loss falls by orders of magnitude, so a jump to 3x the loss of step 5000 can sit below
the median of the whole run; only a rolling baseline sees late spikes. Why log space and a noise
scale: minibatch noise grows with the loss level and with a smaller batch (batch 8 MSE varies by
~50 % point to point), so the same jump is a spike in a smooth run and noise in a noisy one.
"""

from __future__ import annotations

import math

import bottleneck as bn
import numpy as np

from ...findings import Evidence, Finding, json_number, make_finding
from ...rules.loss_spike.thresholds import (
    CRITICAL_RATIO,
    ISOLATED_MIN_RATIO,
    ISOLATED_Z,
    LOCAL_NOISE_FLOOR,
    MAX_EVENT_FRACTION,
    MIN_IMPACT,
    MIN_POINTS,
    MIN_RATIO,
    PERSIST_POINTS,
    PERSIST_RATIO,
    RECOVER_BAND,
    SMOOTH_MIN_RATIO,
    SPIKE_EVENT_MAX_GAP,
    Z_THRESHOLD,
)
from ..robust_stats import group_spike_points, rolling_median
from .robust import SMOOTH_NOISE, diff_noise, trailing_noise
from .schedule import Schedule


def ratio_floor(run_sigma: float) -> float:
    """The smallest jump (log ratio) that can be a spike in a series whose point-to-point noise is
    ``run_sigma``: :data:`MIN_RATIO`, or :data:`SMOOTH_MIN_RATIO` for a smooth series (``robust.SMOOTH_NOISE``)."""
    return math.log(SMOOTH_MIN_RATIO) if run_sigma < SMOOTH_NOISE else math.log(MIN_RATIO)


def baseline_window(n: int) -> int:
    """Trailing window: long enough for a stable median, short enough to follow a falling loss."""
    return int(min(50, max(8, n // 20)))


def detect_loss_spikes(
    name: str, steps: np.ndarray, y: np.ndarray, *, log: bool = True, schedule: Schedule | None = None
) -> list[Finding]:
    """Spike events in ``y`` (the loss, in log space when ``log``) with their recovery.

    Threshold per point: ``y - trailing median > max(floor, Z_THRESHOLD x local sigma)``, the floor
    :func:`ratio_floor` of the run's noise (3x for a per-step minibatch loss, 1.3x for a smooth one),
    where the local sigma is the robust point-to-point noise of the trailing window (floored at a
    quarter of the run's noise, so one quiet window cannot make a small bump a spike). Flagged points
    at most ``SPIKE_EVENT_MAX_GAP`` points apart form one event (the rule ``gradient_spike``
    shares); an event longer than ``MAX_EVENT_FRACTION`` of the run is a level shift, not a spike.
    Recovery: the first point after the event whose rolling median is back within ``RECOVER_BAND`` (or
    3 sigma) of the pre-spike baseline. When the series is not positive (no log space) the ratio floor
    becomes 0.5 run-ranges of the local noise-free scale.
    """
    n = y.size
    if n < MIN_POINTS:
        return []
    w = baseline_window(n)
    base = rolling_median(y, w, trailing=True)
    run_sig = diff_noise(y)
    floor = ratio_floor(run_sig) if log else 0.5 * float(np.subtract(*np.percentile(y, [95, 5])))
    excess = y - base
    # The limit is never below the floor, so only points above it can be flagged: the local noise (a
    # rolling MAD, most of this detector's cost) is needed at those few points only (NaN elsewhere).
    above_floor = np.flatnonzero((excess > floor) & (np.arange(n) >= 5))
    if above_floor.size == 0:
        return []
    sig = trailing_noise(y, w, at=above_floor)
    sig = np.maximum(np.nan_to_num(sig, nan=run_sig), LOCAL_NOISE_FLOOR * run_sig)
    limit = np.maximum(floor, Z_THRESHOLD * sig)
    flagged = above_floor[excess[above_floor] > limit[above_floor]]
    if flagged.size == 0:
        return []
    events = group_spike_points(flagged, SPIKE_EVENT_MAX_GAP)
    findings = []
    max_len = max(3, int(MAX_EVENT_FRACTION * n))
    scale = float(bn.median(y[: max(3, min(10, n // 20))]))
    for ev in events:
        a, b = ev[0], ev[-1]
        if b - a + 1 > max_len:
            continue
        peak_i = a + int(np.argmax(y[a : b + 1]))
        if log and math.exp(y[peak_i]) - math.exp(base[a]) < MIN_IMPACT * math.exp(scale):
            continue
        post = y[peak_i + 1 : peak_i + 1 + PERSIST_POINTS]
        persistent = post.size > 0 and float(bn.median(post)) - base[a] >= (
            math.log(PERSIST_RATIO) if log else limit[a] / 2
        )
        heavy_tailed = not log or floor >= math.log(MIN_RATIO)  # minibatch noise; a smooth series has no tails
        if not persistent and heavy_tailed:
            z = (y[peak_i] - base[a]) / max(sig[a], 1e-12)
            big = y[peak_i] - base[a] >= (math.log(ISOLATED_MIN_RATIO) if log else 2 * limit[a])
            if not (big and z >= ISOLATED_Z):
                continue
        findings.append(_event_finding(name, steps, y, a, b, base[a], sig[a], limit[a], log, schedule, w, floor))
    return findings


def _show(y: float, log: bool) -> float:
    return math.exp(y) if log else y


def _event_finding(name, steps, y, a, b, base, sig, limit, log, schedule, w, floor) -> Finding:
    n = y.size
    peak_i = a + int(np.argmax(y[a : b + 1]))
    peak, base_v = _show(y[peak_i], log), _show(base, log)
    ratio_txt = f"{peak / base_v:.3g}x" if log and base_v > 0 else f"+{y[peak_i] - base:.3g}"
    band = max(RECOVER_BAND, 3 * sig) if log else max(limit / 2, 3 * sig)
    after = y[b + 1 :]
    rec_i = None
    if after.size:
        smooth_after = rolling_median(after, 5)
        ok = np.flatnonzero(smooth_after - base <= band)
        if ok.size:
            rec_i = b + 1 + int(ok[0])
    recovered = rec_i is not None
    tail = y[rec_i : rec_i + w] if recovered else y[b + 1 : b + 1 + w]
    level_after = _show(float(bn.median(tail)), log) if tail.size else None
    evidence = [
        Evidence(
            metric=name,
            step=int(steps[peak_i]),
            value=json_number(peak),
            expected=f"< {_show(base + limit, log):.4g} (max({math.exp(floor):.3g}x, {Z_THRESHOLD:g} local sigma) "
            f"above the trailing median {base_v:.4g} of {w} points)"
            if log
            else f"< {base + limit:.4g} (trailing median {base:.4g} + max(half the run's range, 6 sigma))",
        ),
        Evidence(
            metric=name,
            step=int(steps[max(a - 1, 0)]),
            value=json_number(_show(y[max(a - 1, 0)], log)),
            expected="last point before the spike",
        ),
    ]
    if recovered:
        evidence.append(
            Evidence(
                metric=name,
                step=int(steps[rec_i]),
                value=json_number(_show(y[rec_i], log)),
                expected=f"back within {math.exp(band) if log else band:.3g}{'x' if log else ''} of the baseline "
                f"{base_v:.4g}",
            )
        )
    lr_note = ""
    details: dict = {
        "peak": peak,
        "baseline": base_v,
        "ratio": peak / base_v if log and base_v > 0 else None,
        "points": int(b - a + 1),
        "recovered": recovered,
        "recovery_steps": int(steps[rec_i] - steps[peak_i]) if recovered else None,
        "level_after": level_after,
        "local_noise": float(sig),
    }
    if schedule is not None and schedule.known:
        gap = int(steps[a] - steps[max(a - 3, 0)]) + 1
        bump = schedule.bump_near(int(steps[a]), before=gap)
        if bump is not None:
            lr_note = f" The LR was raised from {bump.before:.3g} to {bump.after:.3g} at step {bump.step}, just before."
            evidence.append(
                Evidence(
                    metric=schedule.name or "lr",
                    step=bump.step,
                    value=bump.after,
                    expected=f"~{bump.before:.3g} (LR before the change)",
                )
            )
            details["lr_change"] = {"step": bump.step, "before": bump.before, "after": bump.after}
    rel = (y[peak_i] - base) / max(limit, 1e-12)
    conf = min(0.97, 0.6 + 0.15 * min(rel - 1.0, 2.0) + (0.1 if b - a < 3 else 0.0) + (0.05 if recovered else 0.0))
    rec_txt = (
        f"It recovered in {int(steps[rec_i] - steps[peak_i])} steps, to a level of {level_after:.4g}."
        if recovered
        else "It did not return to its pre-spike level"
        + (f" (level afterwards {level_after:.4g})." if level_after is not None else " before the run ended.")
    )
    ratio = peak / base_v if log and base_v > 0 else None
    # Not recovering, or a 100x jump, is critical: the run is damaged, not just noisy for a moment.
    severity = "critical" if log and (not recovered or (ratio or 0) >= CRITICAL_RATIO) else "warning"
    return make_finding(
        "loss_spike",
        severity,
        f"{name} spikes to {peak:.4g} ({ratio_txt} its local level)",
        f"At step {int(steps[a])} {name} jumps to {peak:.4g} against a local median of {base_v:.4g} "
        f"({b - a + 1} point{'s' if b > a else ''}). {rec_txt}{lr_note}",
        confidence=max(0.5, conf) if n >= 50 else max(0.4, conf - 0.15),
        series=name,
        step_start=int(steps[a]),
        step_end=int(steps[b]),
        evidence=evidence,
        details=details,
    )
