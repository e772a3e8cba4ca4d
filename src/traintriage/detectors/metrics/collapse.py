"""``metric_collapse``: a metric that should keep varying falls to (near) zero or freezes at one value.

The metrics watched are the run's ``collapse_metric`` role (prediction std or variance, output entropy,
diversity, halting or ponder statistics, distinct-output counts: inferred from names, overridable with
``--role collapse_metric=SERIES``) and its accuracy series, which a model that predicts one class pins at
that class's share. Thresholds and their reasons: ``rules/metric_collapse/thresholds.py``.

Two things look like a collapse and are not: an entropy that falls while the loss falls and accuracy
rises (a model growing confident as it learns), and a metric that is constant from its first point (by
design: a fixed halting budget, a count that never varies in this setup).
"""

from __future__ import annotations

from dataclasses import dataclass

import bottleneck as bn
import numpy as np

from ...findings import Evidence, Finding, json_number, make_finding
from ...rules.metric_collapse.thresholds import (
    COLLAPSE_FRACTION,
    CONSTANT_TOLERANCE,
    EARLY_SHARE,
    GROUP_INTERVALS,
    LEARNING_LOSS_DROP,
    MIN_COLLAPSED_POINTS,
    MIN_CONSTANT_POINTS,
    MIN_POINTS,
    PINNED_DROP,
    PINNED_EVALS,
    STAY_SHARE,
)
from ...signals import EARLIER_RUN_PREFIX, RunData, Series
from ..loss.task_metrics import direction

ACCURACY_WORDS = ("acc", "accuracy", "top1")


@dataclass(frozen=True)
class Collapse:
    """Where a metric left its earlier range and what it did: ``kind`` is ``near_zero``, ``constant`` or
    ``pinned`` (an accuracy frozen below its best)."""

    series: str
    kind: str
    onset_step: int
    before: float
    after: float
    earlier_low: float
    earlier_high: float
    points_after: int
    level: float
    """The earlier level the collapse is measured against (median of the first quarter; for a pinned accuracy,
    its best before)."""


def _finite(s: Series) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(s.values)
    return s.steps[ok], s.values[ok]


def _near_zero_onset(v: np.ndarray, level: float) -> int | None:
    """The first index from which >= STAY_SHARE of the points (the last included) stay at or below
    COLLAPSE_FRACTION of ``level``, with >= MIN_COLLAPSED_POINTS of them; None when there is none."""
    if level <= 0:
        return None
    low = v <= COLLAPSE_FRACTION * level
    if not low[-1]:
        return None
    n = v.size
    low_after = np.cumsum(low[::-1])[::-1]  # collapsed points from i to the end
    share = low_after / (n - np.arange(n))
    candidates = np.flatnonzero(low & (share >= STAY_SHARE) & (low_after >= MIN_COLLAPSED_POINTS))
    return int(candidates[0]) if candidates.size else None


def _constant_onset(v: np.ndarray, scale: float) -> int | None:
    """The first index of the run's final constant stretch, when it holds >= MIN_CONSTANT_POINTS points."""
    tolerance = CONSTANT_TOLERANCE * max(scale, 1e-12)
    far = np.flatnonzero(np.abs(v - v[-1]) > tolerance)
    onset = int(far[-1]) + 1 if far.size else 0
    return onset if v.size - onset >= MIN_CONSTANT_POINTS else None


def find_collapse(s: Series) -> Collapse | None:
    """A collapse of a watched metric (to near zero, or to a constant after it varied), else None."""
    steps, v = _finite(s)
    if v.size < MIN_POINTS:
        return None
    early = v[: max(3, round(EARLY_SHARE * v.size))]
    level = float(bn.median(early))
    scale = float(np.max(np.abs(early)))
    if np.ptp(early) <= CONSTANT_TOLERANCE * max(scale, 1e-12):
        return None  # constant from the first points: by design, not a collapse
    onset, kind = _near_zero_onset(v, level), "near_zero"
    constant = _constant_onset(v, scale)
    if constant is not None and constant > 0 and (onset is None or constant < onset):
        onset, kind = constant, "constant"
    if onset is None or onset < 2:
        return None
    before = v[:onset]
    after = float(bn.median(v[onset:])) + 0.0  # + 0.0: a median of signed zeros may be -0.0, printed "near -0"
    return Collapse(s.name, kind, int(steps[onset]), float(bn.median(before)), after,
                    float(np.min(before)), float(np.max(before)), int(v.size - onset), level)


def is_accuracy(name: str) -> bool:
    """An accuracy series of the run analysed (not one of an earlier run logged in the same file)."""
    if name.startswith(EARLIER_RUN_PREFIX):
        return False
    words = name.lower().replace("/", "_").replace(".", "_").replace("-", "_").split("_")
    return direction(name) == 1 and any(w in ACCURACY_WORDS for w in words)


def find_pinned_accuracy(s: Series) -> Collapse | None:
    """An accuracy identical at >= PINNED_EVALS consecutive points to the end, after it varied, at least
    PINNED_DROP (of its scale) below its median before: the model's predictions stopped changing at a level it had
    left behind (a small evaluation set that repeats its usual value is not pinned)."""
    steps, v = _finite(s)
    if v.size < PINNED_EVALS + 2:
        return None
    far = np.flatnonzero(v != v[-1])
    if not far.size:
        return None  # constant from the start: plateau's frozen-metric check says so
    onset = int(far[-1]) + 1
    scale = 100.0 if np.max(v) > 1.0 else 1.0
    before = v[:onset]
    best = float(np.max(before))
    pinned = float(v[-1])
    if v.size - onset < PINNED_EVALS or float(bn.median(before)) - pinned < PINNED_DROP * scale or pinned <= 0:
        return None
    return Collapse(s.name, "pinned", int(steps[onset]), float(bn.median(before)), pinned,
                    float(np.min(before)), best, int(v.size - onset), best)


def _level(s: Series | None, lo: int | None, hi: int | None) -> float | None:
    """Median of a series' finite values with ``lo <= step < hi`` (open ends when None)."""
    if s is None:
        return None
    steps, v = _finite(s)
    keep = np.ones(steps.shape, dtype=bool)
    if lo is not None:
        keep &= steps >= lo
    if hi is not None:
        keep &= steps < hi
    return float(bn.median(v[keep])) if keep.any() else None


def _before_after(s: Series | None, c: Collapse) -> tuple[float | None, float | None]:
    return _level(s, None, c.onset_step), _level(s, c.onset_step, None)


def _confident_learning(run: RunData, c: Collapse) -> bool:
    """An entropy that fell while the loss fell (by >= LEARNING_LOSS_DROP) and accuracy, when logged, rose."""
    if "entropy" not in c.series.lower():
        return False
    loss_before, loss_after = _before_after(run.get(run.roles.train_loss), c)
    if loss_before is None or loss_after is None or loss_after > (1 - LEARNING_LOSS_DROP) * loss_before:
        return False
    for name in [n for n in run.series if is_accuracy(n)]:
        acc_before, acc_after = _before_after(run.series[name], c)
        if acc_before is not None and acc_after is not None and acc_after <= acc_before:
            return False
    return True


def _loss_story(run: RunData, c: Collapse) -> tuple[str, Evidence | None]:
    """What the training loss did across the collapse, in words and as evidence."""
    name = run.roles.train_loss
    before, after = _before_after(run.get(name), c)
    if name is None or before is None or after is None:
        return "", None
    ratio = after / before if before > 0 else None
    if ratio is not None and ratio > 1 + LEARNING_LOSS_DROP:
        words = f"the loss rose from {before:.4g} to {after:.4g} ({ratio:.3g}x)"
    elif ratio is not None and ratio < 1 - LEARNING_LOSS_DROP:
        words = f"the loss kept falling ({before:.4g} -> {after:.4g})"
    else:
        words = f"the loss stayed near {after:.4g}"
    return words, Evidence(metric=name, step=c.onset_step, value=json_number(after),
                           expected=f"{before:.4g} (median before step {c.onset_step}): {words}")


def _evidence(c: Collapse) -> Evidence:
    if c.kind == "pinned":
        expected = f"varying below its best {c.earlier_high:.4g}; identical for the last {c.points_after} points"
    elif c.kind == "constant":
        expected = f"within its earlier range {c.earlier_low:.4g}..{c.earlier_high:.4g} and varying"
    else:
        expected = f"> {COLLAPSE_FRACTION:g} x its earlier level {c.level:.4g} (range {c.earlier_low:.4g}.." \
                   f"{c.earlier_high:.4g})"
    return Evidence(metric=c.series, step=c.onset_step, value=json_number(c.after), expected=expected)


def _sentence(c: Collapse) -> str:
    if c.kind == "pinned":
        return (f"{c.series} has been exactly {c.after:.4g} for the last {c.points_after} points (from step "
                f"{c.onset_step}), below the {c.earlier_high:.4g} it reached before: the model's predictions stopped "
                "changing; on a fixed evaluation set, a model predicting one class for every input scores exactly "
                "that class's share (the majority class's, usually)")
    if c.kind == "constant":
        return (f"{c.series} varied between {c.earlier_low:.4g} and {c.earlier_high:.4g}, then froze at "
                f"{c.after:.4g} from step {c.onset_step} ({c.points_after} points)")
    return (f"{c.series} left its earlier range ({c.earlier_low:.4g}..{c.earlier_high:.4g}, median {c.before:.4g}) at "
            f"step {c.onset_step} and stayed near {c.after:.4g} ({c.points_after} points)")


def _finding(run: RunData, group: list[Collapse]) -> Finding:
    first = min(group, key=lambda c: c.onset_step)
    loss_words, loss_evidence = _loss_story(run, first)
    sentences = "; ".join(_sentence(c) for c in group)
    title_metric = ", ".join(c.series for c in group[:3]) + (" ..." if len(group) > 3 else "")
    message = (
        f"{sentences}. "
        + (f"Meanwhile {loss_words}. " if loss_words else "")
        + "A metric that should vary stopped varying: the model produces one output whatever its input (mode "
        "collapse), or a component feeding it died."
    )
    evidence = [_evidence(c) for c in group] + ([loss_evidence] if loss_evidence is not None else [])
    return make_finding(
        "metric_collapse",
        "warning",
        f"{title_metric} collapsed at step {first.onset_step}",
        message,
        confidence=0.8 if len(group) == 1 else 0.9,
        series=first.series,
        step_start=first.onset_step,
        step_end=max(int(run.series[c.series].steps[-1]) for c in group),
        evidence=evidence,
        details={
            "kind": first.kind,
            "metrics": [
                {"series": c.series, "kind": c.kind, "onset_step": c.onset_step, "before": c.before, "after": c.after,
                 "earlier_level": c.level}
                for c in group
            ],
            "loss": loss_words or None,
        },
    )


def _interval(s: Series) -> int:
    return int(bn.median(np.diff(s.steps))) if len(s) > 1 else 1


def detect_metric_collapse(run: RunData, tolerance: int) -> list[Finding]:
    """One ``metric_collapse`` finding per event: the watched metrics and accuracies that collapsed, those whose
    onsets lie within ``tolerance`` steps (or :data:`GROUP_INTERVALS` logging intervals) of each other grouped
    as one."""
    collapses: list[Collapse] = []
    for name in run.roles.collapse_metric:
        s = run.get(name)
        c = find_collapse(s) if s is not None else None
        if c is not None and not _confident_learning(run, c):
            collapses.append(c)
    for name in sorted(run.series):
        if is_accuracy(name) and name not in run.roles.collapse_metric:
            c = find_pinned_accuracy(run.series[name])
            if c is not None:
                collapses.append(c)
    groups: list[list[Collapse]] = []
    for c in sorted(collapses, key=lambda c: c.onset_step):
        near = max(tolerance, GROUP_INTERVALS * _interval(run.series[c.series]))
        if groups and c.onset_step - groups[-1][0].onset_step <= near:
            groups[-1].append(c)
        else:
            groups.append([c])
    return [_finding(run, group) for group in groups]
