"""Task metrics (accuracy, mAP, F1, BLEU, WER...) as evidence beside the losses.

Real logs carry what the run is for next to its loss: a detector's mAP, a classifier's accuracy, a
translator's BLEU. They answer questions the loss cannot:

- **Counter-signal.** A validation loss that rises while the validation mAP keeps improving is not
  overfitting: the model got better at the task and less calibrated (YOLO's last epochs, when mosaic
  augmentation is switched off, do exactly this). :func:`improved_since` tells, and
  :func:`weigh_overfitting` turns such an overfitting finding into a note.
- **Corroboration.** A validation loss that rises while accuracy falls is overfitting for certain.
- **A run that never learned the task.** A loss can fall for a hundred epochs while mAP stays at 1 %:
  :func:`never_learned` and :func:`frozen` tell, and :func:`detect_task_not_learned` reports it.

A metric's direction comes from its name (:func:`direction`); only *validation* metrics count (a
training accuracy keeps rising in an overfitting run by definition).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import bottleneck as bn
import numpy as np

from ...findings import Evidence, Finding, json_number, make_finding
from ...rules.overfitting.thresholds import CALIBRATION_RISE
from ...rules.plateau.thresholds import BOUNDED_FLOOR, NEVER_LEARNED_EVALS
from ...signals import Series, is_loss_name
from .robust import kendall_tau

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


def value_at(s: Series, step: int) -> float | None:
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
    s = metric.series
    before = value_at(s, step)
    after = s.values[(s.steps > step) & np.isfinite(s.values)]
    if before is None or after.size < 2:
        return None
    final = float(bn.median(after[-2:]))
    finite = s.values[np.isfinite(s.values)]
    noise = float(bn.median(np.abs(np.diff(finite)))) if finite.size > 2 else 0.0
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


def detect_task_not_learned(metric: TaskMetric | None) -> list[Finding]:
    """``plateau`` for a run whose main task metric shows the model learned nothing: a bounded metric that
    :func:`never_learned` its task, else one :func:`frozen` at a single value."""
    if metric is None:
        return []
    if (best := never_learned(metric)) is not None:
        return [_never_learned_finding(metric, best)]
    if (value := frozen(metric)) is not None:
        return [_frozen_finding(metric, value)]
    return []


def _never_learned_finding(metric: TaskMetric, best: float) -> Finding:
    s = metric.series
    ok = np.isfinite(s.values)
    i = int(np.argmax(np.where(ok, s.values, -np.inf)))
    return make_finding(
        "plateau",
        "warning",
        f"{metric.name} never rose above {best:.3g}: the model did not learn its task",
        f"Over {int(ok.sum())} evaluations (steps {int(s.steps[0])}-{int(s.steps[-1])}) {metric.name} never "
        f"exceeded {best:.3g} (best at step {int(s.steps[i])}): whatever the loss did, the model learned nothing "
        "the task measures. Check the labels and their format, the data pipeline (images and targets matched, "
        "classes mapped), and that the LR is not far too low or too high.",
        confidence=0.8,
        series=metric.name,
        step_start=int(s.steps[0]),
        step_end=int(s.steps[-1]),
        evidence=[Evidence(metric=metric.name, step=int(s.steps[i]), value=json_number(best),
                           expected=f">= {BOUNDED_FLOOR:.0%} of its scale after {NEVER_LEARNED_EVALS}+ evaluations")],
        details={"metric": metric.name, "best": best, "evaluations": int(ok.sum()), "kind": "task_never_learned"},
    )


def _frozen_finding(metric: TaskMetric, value: float) -> Finding:
    s = metric.series
    n = int(np.isfinite(s.values).sum())
    return make_finding(
        "plateau",
        "warning",
        f"{metric.name} is {value:.4g} at every evaluation: the model's predictions do not change",
        f"{metric.name} is exactly {value:.4g} at all {n} evaluations (steps {int(s.steps[0])}-{int(s.steps[-1])}): "
        "the model's predictions on held-out data never change, so it is not learning its task whatever the loss "
        "does (a constant output, often the majority class: a dead output layer, a learning rate far too high or "
        "too low, labels that do not match the inputs).",
        confidence=0.8,
        series=metric.name,
        step_start=int(s.steps[0]),
        step_end=int(s.steps[-1]),
        evidence=[Evidence(metric=metric.name, step=int(s.steps[-1]), value=json_number(value),
                           expected=f"a different value at some of the {n} evaluations")],
        details={"metric": metric.name, "value": value, "evaluations": n, "kind": "task_metric_frozen"},
    )


def weigh_overfitting(f: Finding, metric: TaskMetric | None) -> Finding:
    """An overfitting finding with the run's main task metric as evidence: when the metric kept improving
    after the validation loss's best and the loss rose only modestly (:data:`CALIBRATION_RISE`), the model got
    better at its task while the loss rose, and the finding becomes a note that says so."""
    if metric is None or f.code != "overfitting" or f.step_start is None:
        return f
    best, end = f.details.get("best_value"), f.details.get("final_value", f.details.get("peak_value"))
    ratio = end / best if best and end is not None and best > 0 else None
    kept_improving = improved_since(metric, f.step_start)
    at_its_best = kept_improving is not None and _best_at_end(metric)
    if kept_improving is None or ratio is None or (ratio > CALIBRATION_RISE and not at_its_best):
        at = value_at(metric.series, f.step_start)
        last = metric.series.values[np.isfinite(metric.series.values)][-1]
        better = "higher" if metric.direction > 0 else "lower"
        if kept_improving is not None:
            why = f"it still crept to {last:.4g}, but a {ratio:.3g}x loss rise is more than calibration"
        else:
            why = f"it did not keep improving: last {last:.4g}"
        if at is not None:
            f.evidence.append(Evidence(metric=metric.name, step=f.step_start, value=json_number(at),
                                       expected=f"{better} as a trend later if the model still improved at its "
                                       f"task ({why})"))
        return f
    was, now = kept_improving
    return f.model_copy(update={
        "severity": "info",
        "confidence": min(f.confidence, 0.5),
        "title": f"{f.title}, but {metric.name} kept improving",
        "message": f"{f.message} But {metric.name} kept improving over the same stretch ({was:.4g} -> {now:.4g}): "
        "the model got better at its task while its loss rose (less calibrated, or the loss and the metric "
        "weigh errors differently), so this is not overfitting. Keep the checkpoint with the best "
        f"{metric.name}.",
        "evidence": [*f.evidence, Evidence(metric=metric.name, step=f.step_end, value=json_number(now),
                                           expected=f"{'<' if metric.direction > 0 else '>'}= {was:.4g} (its value "
                                           f"at step {f.step_start}) if the model were overfitting")],
    })


def _best_at_end(metric: TaskMetric) -> bool:
    """Whether the metric's last evaluation is its best: the model is still improving at its task right now, so
    even a large loss rise is the loss's (calibration), not the model's."""
    v = metric.series.values[np.isfinite(metric.series.values)]
    return v.size >= 2 and bool(v[-1] == (v.max() if metric.direction > 0 else v.min()))
