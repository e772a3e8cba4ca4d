"""``curriculum_regression``: at a curriculum / data-stage transition the loss steps up beyond its
noise and does not come back.

Transitions come from a logged stage series (``roles.stage``: the steps where its value changes),
epoch boundaries (``roles.epoch``), or steps the user names. A new stage often costs a short bump;
a regression is a bump that stays: the loss at the end of the stage is still above where it was
before the transition.
"""

from __future__ import annotations

import math

import bottleneck as bn
import numpy as np

from ...findings import Evidence, Finding, json_number, make_finding
from ...rules.curriculum_regression.thresholds import JUMP, JUMP_Z, MIN_SIDE_POINTS, STAY, STAY_Z
from .robust import diff_noise


def transitions_from(steps: np.ndarray, values: np.ndarray) -> list[int]:
    """Steps at which a stage/epoch series changes value (the first step of the new stage)."""
    ok = np.isfinite(values)
    steps, values = steps[ok], values[ok]
    if values.size < 2:
        return []
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    return [int(steps[i]) for i in change]


def detect_curriculum_regression(
    name: str, steps: np.ndarray, y: np.ndarray, transitions: list[int], *, log: bool = True, source: str = "stage"
) -> list[Finding]:
    """Thresholds, per transition t with windows of w points on each side (w = min(50, a third of the
    distance to the neighbouring transitions)): ``median(after) - median(before) >= max(JUMP, JUMP_Z x
    sigma_level)`` and the median of the last w points before the next transition (or the end) is still
    ``>= max(STAY, 3 sigma_level)`` above the before-level.
    """
    if y.size < 2 * MIN_SIDE_POINTS or not transitions:
        return []
    sig = diff_noise(y)
    ts = sorted(set(int(t) for t in transitions))
    bounds = [int(steps[0]) - 1, *ts, int(steps[-1]) + 1]
    findings = []
    for k, t in enumerate(ts):
        i = int(np.searchsorted(steps, t, side="left"))
        prev_i = int(np.searchsorted(steps, bounds[k], side="right"))
        next_i = int(np.searchsorted(steps, bounds[k + 2], side="left"))
        w = int(min(50, max(MIN_SIDE_POINTS, (i - prev_i) // 3), max(MIN_SIDE_POINTS, (next_i - i) // 3)))
        before, after = y[max(prev_i, i - w) : i], y[i : min(next_i, i + w)]
        end = y[max(i, next_i - w) : next_i]
        if before.size < MIN_SIDE_POINTS or after.size < MIN_SIDE_POINTS or end.size < MIN_SIDE_POINTS:
            continue
        s_level = 1.25 * sig / math.sqrt(w)
        lv_b, lv_a, lv_e = float(bn.median(before)), float(bn.median(after)), float(bn.median(end))
        jump_lim = max(JUMP if log else 0.0, JUMP_Z * s_level)
        stay_lim = max(STAY if log else 0.0, STAY_Z * s_level)
        if lv_a - lv_b < jump_lim or lv_e - lv_b < stay_lim:
            continue

        def show(v: float) -> float:
            return math.exp(v) if log else v

        end_step = int(steps[next_i - 1])
        ratio_txt = f" ({math.exp(lv_e - lv_b):.3g}x)" if log else ""
        conf = min(0.95, 0.6 + 0.2 * min(1.0, (lv_e - lv_b) / max(stay_lim, 1e-9) - 1) + (0.1 if w >= 10 else 0.0))
        findings.append(
            make_finding(
                "curriculum_regression",
                "warning",
                f"{name} regresses at the {source} transition at step {t}",
                f"At step {t} ({source} transition) {name} jumps from {show(lv_b):.4g} to {show(lv_a):.4g} and is "
                f"still "
                f"at {show(lv_e):.4g}{ratio_txt} at step {end_step}: the new stage undid progress and the run did not "
                "win it back.",
                confidence=conf,
                series=name,
                step_start=t,
                step_end=end_step,
                evidence=[
                    Evidence(
                        metric=name,
                        step=int(steps[i - 1]),
                        value=json_number(show(lv_b)),
                        expected=f"level before the transition (median of {before.size} points)",
                    ),
                    Evidence(
                        metric=name,
                        step=t,
                        value=json_number(show(lv_a)),
                        expected=f"< {show(lv_b + jump_lim):.4g} (max({math.exp(JUMP) if log else 0:.3g}x, "
                        f"{JUMP_Z:g} sigma) above the level before)",
                    ),
                    Evidence(
                        metric=name,
                        step=end_step,
                        value=json_number(show(lv_e)),
                        expected=f"back below {show(lv_b + stay_lim):.4g} by the end of the stage",
                    ),
                ],
                details={
                    "transition_step": t,
                    "source": source,
                    "before": show(lv_b),
                    "after": show(lv_a),
                    "end_of_stage": show(lv_e),
                },
            )
        )
    return findings
