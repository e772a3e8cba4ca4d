"""Detectors that need no baseline: NaN/Inf values, a loss at zero, a loss that repeats itself.

Each is a pure function over a series' ``steps`` and ``values`` (numpy arrays) returning findings;
:func:`detect_zero_parts` looks at a run's loss parts together.
"""

from __future__ import annotations

from collections.abc import Mapping

import bottleneck as bn
import numpy as np

from ...components import zero_parts
from ...findings import Evidence, Finding, json_number, make_finding
from ...rules.stuck_loss.thresholds import (
    QUANTISED_REL,
    STUCK_CRITICAL_SHARE,
    STUCK_MIN_FRACTION,
    STUCK_MIN_POINTS,
    STUCK_MIN_RUN,
    STUCK_REL,
)
from ...rules.zero_loss.thresholds import MEMORIZED_RATIO, NEAR_ZERO_ABS, NEAR_ZERO_FALL, ZERO_ABS, ZERO_EXACT, ZERO_REL
from ...signals import Series

MAX_DECIMALS = 8


def detect_nan_inf(name: str, steps: np.ndarray, values: np.ndarray) -> list[Finding]:
    """``nan_inf``: the first step where ``values`` is NaN or Inf, and what was finite just before.

    Why: one non-finite loss poisons every weight through backward; whatever the run logs afterwards
    is meaningless. There is no threshold: a single non-finite value is a fact (confidence 1.0).
    """
    bad = ~np.isfinite(values)
    if not bad.any():
        return []
    i = int(np.argmax(bad))
    first = values[i]
    kind = "NaN" if np.isnan(first) else "Inf"
    evidence = [Evidence(metric=name, step=int(steps[i]), value=json_number(first), expected="finite")]
    before = ""
    if i > 0:
        prev = values[:i]
        finite_prev = np.flatnonzero(np.isfinite(prev))
        if finite_prev.size:
            j = int(finite_prev[-1])
            evidence.append(
                Evidence(metric=name, step=int(steps[j]), value=json_number(values[j]), expected="last finite value")
            )
            typical = float(bn.median(values[finite_prev]))
            before = f" The last finite value was {values[j]:.4g} at step {int(steps[j])} (run median {typical:.4g})."
    n_bad = int(bad.sum())
    recovered = bool(np.isfinite(values[i:]).any())
    after = (
        " Finite values appear again later (a loss scaler skipping steps, or a logging artifact)."
        if recovered
        else " It never became finite again."
    )
    return [
        make_finding(
            "nan_inf",
            "critical",
            f"{kind} in {name} from step {int(steps[i])}",
            f"{name} is {kind} at step {int(steps[i])} ({n_bad} of {values.size} points non-finite).{before}{after}",
            confidence=1.0,
            series=name,
            step_start=int(steps[i]),
            step_end=int(steps[np.flatnonzero(bad)[-1]]),
            evidence=evidence,
            details={"non_finite_points": n_bad, "first_value": json_number(first), "became_finite_again": recovered},
        )
    ]


def detect_zero_loss(
    name: str, steps: np.ndarray, values: np.ndarray, *, role: str = "train", reference: float | None = None
) -> list[Finding]:
    """``zero_loss``: the loss reaches (and stays at) zero or very near it.

    Why: a loss of zero means the model predicts its targets perfectly, which real data (label noise,
    ambiguity) does not allow: usually the target leaked into the inputs, the loss is masked out,
    or it is computed on the wrong tensor. Threshold: the median of the last 10 % of points is below
    ``max(ZERO_ABS, ZERO_REL x first value)`` when the first value is well above it; exactly zero
    (< 1e-8) is flagged whatever the first value was. Confidence rises with how fast it got there
    (a leak is learned in a few steps) and how close to zero it is. ``reference`` is the validation
    level: when it stays >= 100x above and far from zero, the training set was memorized (a small
    dataset) rather than leaked, and the finding is info (``overfitting`` carries it).
    """
    finite = np.isfinite(values)
    v, s = values[finite], steps[finite]
    if v.size < 5:
        return []
    tail = v[-max(3, v.size // 10) :]
    level = float(bn.median(tail))
    first = float(bn.median(v[: max(1, min(5, v.size // 20))]))
    limit = max(ZERO_ABS, ZERO_REL * abs(first))
    exact = abs(level) < ZERO_EXACT
    if not (exact or (0 <= level < limit and first > 10 * limit)):
        if role == "train" and reference is None and 0 <= level < NEAR_ZERO_ABS and first >= NEAR_ZERO_FALL * level:
            return [_near_zero_finding(name, s, v, level, first)]
        return []
    near = np.abs(v) < max(limit, ZERO_EXACT)
    i = int(np.argmax(near)) if near.any() else v.size - len(tail)
    reached_frac = (s[i] - s[0]) / max(1, s[-1] - s[0])
    conf = 0.95 if exact else 0.7 + 0.2 * (1 - reached_frac)
    memorized = reference is not None and reference > max(MEMORIZED_RATIO * max(level, 0.0), 10 * limit)
    severity = "info" if memorized else "critical" if exact else "warning"
    note = (
        f" The validation loss stays at {reference:.3g}: the training set was memorized (see overfitting)."
        if memorized
        else ""
    )
    return [
        make_finding(
            "zero_loss",
            severity,
            f"{role} loss {name} at {'zero' if exact else 'near zero'}",
            f"{name} reaches {v[i]:.3g} at step {int(s[i])} ({reached_frac:.0%} into the run) and ends at a median of "
            f"{level:.3g}, from {first:.3g} at the start. Real data does not allow a perfect fit: check for a label "
            "leak, a masked-out or mis-reduced loss, or evaluation on the training set." + note,
            confidence=min(conf, 0.5) if memorized else conf,
            series=name,
            step_start=int(s[i]),
            step_end=int(s[-1]),
            evidence=[
                Evidence(metric=name, step=int(s[0]), value=json_number(v[0]), expected="start of run"),
                Evidence(
                    metric=name,
                    step=int(s[i]),
                    value=json_number(v[i]),
                    expected=f"> {limit:.3g} (max({ZERO_ABS:g}, {ZERO_REL:g} x first value {first:.3g}))",
                ),
            ],
            details={"final_median": level, "first": first, "reached_fraction": round(float(reached_frac), 3)},
        )
    ]


def _near_zero_finding(name, s, v, level, first) -> Finding:
    i = int(np.argmax(v < NEAR_ZERO_ABS))
    return make_finding(
        "zero_loss",
        "warning",
        f"train loss {name} near zero ({level:.3g}, {first / max(level, 1e-12):.3g}x below its start)",
        f"{name} falls from {first:.3g} to a median of {level:.3g} over its last points (below {NEAR_ZERO_ABS:g} "
        f"from step {int(s[i])}): the model reproduces its training targets almost exactly. No validation loss "
        "was logged, so a leak (the target visible in the inputs, labels equal to the inputs) and a memorised "
        "training set cannot be told apart: log one.",
        confidence=0.6,
        series=name,
        step_start=int(s[i]),
        step_end=int(s[-1]),
        evidence=[
            Evidence(metric=name, step=int(s[0]), value=json_number(v[0]), expected="start of run"),
            Evidence(metric=name, step=int(s[-1]), value=json_number(v[-1]),
                     expected=f">= {NEAR_ZERO_ABS:g}, or < {NEAR_ZERO_FALL:g}x below the start ({first:.3g}) "
                     "(no validation loss to compare)"),
        ],
        details={"final_median": level, "first": first, "kind": "near_zero_no_validation"},
    )


def logged_resolution(values: np.ndarray) -> float | None:
    """The step between the values a log can print (10^-d for the fewest decimals d that write every finite
    value exactly), or None when the values carry full float precision."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return None
    for d in range(MAX_DECIMALS + 1):
        scaled = v * 10.0**d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, np.abs(scaled))):
            return 10.0**-d
    return None


def stuck_runs(values: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges ``[a, b]`` (inclusive) where consecutive values differ by less than ``STUCK_REL`` relative."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        return []
    scale = np.maximum(np.abs(v[:-1]), 1e-12)
    same = np.abs(np.diff(v)) <= STUCK_REL * scale
    runs, start = [], None
    for k, flag in enumerate(same):
        if flag and start is None:
            start = k
        elif not flag and start is not None:
            runs.append((start, k))
            start = None
    if start is not None:
        runs.append((start, v.size - 1))
    return runs


def detect_stuck_loss(name: str, steps: np.ndarray, values: np.ndarray) -> list[Finding]:
    """``stuck_loss``: the loss repeats the same value (beyond its 5th significant digit) log after log.

    Why: any update moves a loss in its 5th digit; a repeated value means no update happened (LR = 0,
    frozen parameters, optimizer not stepping, a cached batch AND no training) or the logger writes a
    stale number. Threshold: a run of at least ``STUCK_MIN_RUN`` consecutive points, covering at least
    ``STUCK_MIN_FRACTION`` of the series, whose relative differences stay below ``STUCK_REL``, judged
    against the log's own precision (:func:`logged_resolution`; see ``QUANTISED_REL``). A loss stuck at
    zero is left to ``zero_loss``.
    """
    finite = np.isfinite(values)
    v, s = values[finite], steps[finite]
    if v.size < STUCK_MIN_POINTS:
        return []
    resolution = logged_resolution(v)
    findings = []
    for a, b in stuck_runs(v):
        length = b - a + 1
        if length < max(STUCK_MIN_RUN, STUCK_MIN_FRACTION * v.size):
            continue
        if abs(v[a]) < ZERO_EXACT:
            continue
        if resolution is not None and resolution > QUANTISED_REL * abs(v[a]):
            continue  # repeats at the printed precision: the logger rounds it, the model may be moving
        share = length / v.size
        to_end = b == v.size - 1
        findings.append(
            make_finding(
                "stuck_loss",
                "critical" if share >= STUCK_CRITICAL_SHARE else "warning",
                f"{name} repeats {v[a]:.6g} for {length} points",
                f"{name} holds {v[a]:.6g} from step {int(s[a])} to step {int(s[b])} ({length} points, {share:.0%} of "
                "the run) with no change beyond float precision"
                + (" until the end of the run" if to_end else "")
                + ": no parameter update is reaching the loss (LR of 0, frozen parameters, optimizer not stepping) "
                "or the logger writes a stale value.",
                confidence=min(0.99, 0.75 + 0.25 * min(1.0, length / 50)),
                series=name,
                step_start=int(s[a]),
                step_end=int(s[b]),
                evidence=[
                    Evidence(metric=name, step=int(s[a]), value=json_number(v[a]), expected="changes every step"),
                    Evidence(
                        metric=name,
                        step=int(s[b]),
                        value=json_number(v[b]),
                        expected=f"relative change > {STUCK_REL:g} (a move in the 5th significant digit) over "
                        f">= {STUCK_MIN_RUN} points",
                    ),
                ],
                details={"points": int(length), "share": round(share, 3), "value": float(v[a])},
            )
        )
    return findings


def detect_zero_parts(series: Mapping[str, Series]) -> list[Finding]:
    """``zero_loss`` for a detector's localisation terms that are exactly 0 at every step (no ground-truth box
    reaches the loss). A class term at 0 is a single-class detector's by design, and is not reported."""
    by_prefix: dict[str, list[str]] = {}
    for name, kind in zero_parts(series):
        if kind == "no_targets":
            by_prefix.setdefault(name.rpartition("/")[0], []).append(name)
    findings = []
    for names in by_prefix.values():
        s = series[names[0]]
        findings.append(make_finding(
            "zero_loss",
            "warning",
            f"{', '.join(names)} exactly 0 at every step: no ground-truth box reaches the loss",
            f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} exactly 0 at all {len(s)} logged steps. A "
            "localisation loss is 0 only when no ground-truth box is matched to a prediction: the labels are empty, "
            "in the wrong format or folder (YOLO wants one .txt per image, class x y w h normalised), or filtered "
            "out. The model then learns only to say 'nothing here'.",
            confidence=0.85,
            series=names[0],
            step_start=int(s.steps[0]),
            step_end=int(s.steps[-1]),
            evidence=[Evidence(metric=n, step=int(series[n].steps[-1]), value=0.0,
                               expected="> 0 whenever a box is in the batch") for n in names],
            details={"parts": names, "kind": "no_targets"},
        ))
    return findings
