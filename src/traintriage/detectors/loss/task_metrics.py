"""Task metrics (accuracy, mAP, F1, BLEU, WER...) as evidence beside the losses.

Real logs carry what the run is for next to its loss: a detector's mAP, a classifier's accuracy, a
translator's BLEU. They answer questions the loss cannot:

- **Counter-signal.** A validation loss that rises while the validation mAP keeps improving is not
  overfitting: the model got better at the task and less calibrated (YOLO's last epochs, when mosaic
  augmentation is switched off, do exactly this). :func:`improved_since` tells.
- **Corroboration.** A validation loss that rises while accuracy falls is overfitting for certain.
- **A run that never learned the task.** A loss can fall for a hundred epochs while mAP stays at 1 %:
  :func:`never_learned` tells.

A metric's direction comes from its name (:func:`direction`); only *validation* metrics count (a
training accuracy keeps rising in an overfitting run by definition).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ...signals import Series, is_loss_name

HIGHER_IS_BETTER = (
    "map", "ap", "miou", "iou", "dice", "top1", "top5", "acc", "accuracy", "f1", "auc", "auroc", "bleu",
    "rouge", "chrf", "meteor", "mcc", "precision", "recall", "exact", "em", "r2", "hellaswag", "hella",
)
"""Name words (trailing digits and suffixes dropped: ``mAP50`` -> ``map``) of metrics to maximise, in order
of preference when a run logs several: the first one found is the run's primary task metric."""
LOWER_IS_BETTER = ("wer", "cer", "ter", "error", "err")
"""Metrics to minimise. Perplexity, NLL and bits per byte are left out (the loss, transformed), and so are MAE,
MSE and RMSE: a regression model's other losses, not a task measure the loss stands in for."""
EVAL_ONLY = frozenset({"map", "ap", "miou", "bleu", "rouge", "chrf", "meteor", "wer", "cer", "ter", "hellaswag"})
"""Metrics only ever computed on held-out data, so a name without a phase word still means validation."""
_VAL_WORDS = frozenset({"val", "valid", "validation", "eval", "evaluation", "test", "dev", "metrics", "coco", "bbox",
                        "segm", "voc"})
_TRAIN_WORDS = frozenset({"train", "training", "trn"})
_SPLIT = re.compile(r"[/_.\-\s():@\[\]]+")
_TRAILING = re.compile(r"^([a-z]+?)(?:\d+)?$")
BOUNDED_FLOOR = 0.05
"""A bounded metric (0-1, or 0-100 %) whose best is below 5 % of its scale after >= NEVER_LEARNED_EVALS
evaluations never learned the task: mAP 0.01 after 100 epochs, accuracy 2 %."""
NEVER_LEARNED_EVALS = 5
BOUNDED = frozenset({"map", "ap", "miou", "iou", "dice", "acc", "accuracy", "top1", "top5", "f1", "auc", "auroc"})


def _words(name: str) -> list[str]:
    """The words of a name, each also without its trailing digits (``map50`` gives ``map50`` and ``map``)."""
    out = []
    for word in _SPLIT.split(name.lower()):
        out.append(word)
        match = _TRAILING.match(word)
        if match and match.group(1) != word:
            out.append(match.group(1))
    return out


def direction(name: str) -> int | None:
    """+1 for a metric to maximise, -1 for one to minimise, None for anything else (losses included)."""
    if is_loss_name(name):
        return None
    words = _words(name)
    if any(w in HIGHER_IS_BETTER for w in words):
        return 1
    if any(w in LOWER_IS_BETTER for w in words):
        return -1
    return None


def _kind(name: str) -> str | None:
    words = _words(name)
    return next((w for w in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER) if w in words), None)


def is_validation_metric(name: str) -> bool:
    """A task metric measured on held-out data: a phase word says so (``val_accuracy``, ``metrics/mAP50(B)``,
    ``coco/bbox_mAP``), or the metric is only ever computed there (``bleu``, ``wer``, ``mAP``)."""
    if direction(name) is None:
        return False
    words = set(_SPLIT.split(name.lower()))
    if words & _TRAIN_WORDS or any("best" in w for w in words):  # a running best only ever improves
        return False
    return bool(words & _VAL_WORDS) or _kind(name) in EVAL_ONLY


@dataclass(frozen=True)
class TaskMetric:
    name: str
    direction: int
    series: Series


def primary_metric(series: Mapping[str, Series], names: Iterable[str] | None = None) -> TaskMetric | None:
    """The run's main validation metric (by :data:`HIGHER_IS_BETTER` / :data:`LOWER_IS_BETTER` order, then
    the shortest name: ``metrics/mAP50-95(B)`` before ``metrics/mAP50(B)``... by preferring names with
    ``95``), with >= 3 finite points."""
    order = {w: i for i, w in enumerate((*HIGHER_IS_BETTER, *LOWER_IS_BETTER))}
    candidates = []
    for name in names if names is not None else series:
        s = series.get(name)
        if s is None or not is_validation_metric(name) or int(np.isfinite(s.values).sum()) < 3:
            continue
        strictest = "95" in name or "0.5:0.95" in name  # COCO's mAP@[.5:.95], the one detectors are ranked by
        candidates.append((order.get(_kind(name) or "", 99), not strictest, len(name), name))
    if not candidates:
        return None
    name = min(candidates)[3]
    return TaskMetric(name, direction(name) or 1, series[name])


def _value_at(s: Series, step: int) -> float | None:
    """The metric's value logged at or last before ``step`` (else its first value)."""
    ok = np.isfinite(s.values)
    steps, values = s.steps[ok], s.values[ok]
    if values.size == 0:
        return None
    i = int(np.searchsorted(steps, step, side="right")) - 1
    return float(values[max(i, 0)])


KEEPS_IMPROVING_TAU = 0.5
"""Kendall tau (in the metric's good direction) over the evaluations from a step to the end above which a
metric *keeps* improving, rather than having improved early and then stalled."""


def improved_since(metric: TaskMetric, step: int) -> tuple[float, float] | None:
    """``(value at step, final value)`` when the metric kept improving from ``step`` to the end: over >= 3
    evaluations it improves as a trend (Kendall tau >= :data:`KEEPS_IMPROVING_TAU`), and its final level
    (median of the last two values) is better than its value at ``step`` by >= 1 % of that value and by more
    than its own point-to-point noise. None otherwise."""
    from .robust import kendall_tau

    s = metric.series
    before = _value_at(s, step)
    after = s.values[(s.steps > step) & np.isfinite(s.values)]
    if before is None or after.size < 2:
        return None
    final = float(np.median(after[-2:]))
    finite = s.values[np.isfinite(s.values)]
    noise = float(np.median(np.abs(np.diff(finite)))) if finite.size > 2 else 0.0
    gain = metric.direction * (final - before)
    trend = kendall_tau(metric.direction * np.concatenate([[before], after]))
    return (before, final) if gain > max(0.01 * abs(before), noise) and trend >= KEEPS_IMPROVING_TAU else None


def frozen(metric: TaskMetric) -> float | None:
    """The value of a validation metric that is exactly the same at every one of >= NEVER_LEARNED_EVALS
    evaluations (accuracy 0.5000 eight times): the model's predictions on held-out data do not change, so
    whatever the loss does, the model is not learning the task. None otherwise."""
    values = metric.series.values[np.isfinite(metric.series.values)]
    if values.size < NEVER_LEARNED_EVALS or np.ptp(values) > 0:
        return None
    value = float(values[0])
    saturated = value <= 0 if metric.direction < 0 else value in (1.0, 100.0)  # perfect: nothing left to learn
    return None if saturated else value


def never_learned(metric: TaskMetric) -> float | None:
    """The best value of a bounded metric (accuracy, mAP, IoU...) that stayed below :data:`BOUNDED_FLOOR` of
    its scale over >= :data:`NEVER_LEARNED_EVALS` evaluations, else None."""
    if metric.direction != 1 or _kind(metric.name) not in BOUNDED:
        return None
    values = metric.series.values[np.isfinite(metric.series.values)]
    if values.size < NEVER_LEARNED_EVALS or values.min() < 0:
        return None
    scale = 100.0 if values.max() > 1.0 else 1.0
    best = float(values.max())
    return best if best < BOUNDED_FLOOR * scale else None
