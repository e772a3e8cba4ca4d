"""``overfitting``: the validation loss rises while the training loss keeps falling.

Detector: :func:`traintriage.detectors.loss.overfitting.detect_overfitting` (and the task-metric
weighing in :mod:`traintriage.detectors.loss.task_metrics`). The plan's first step is the run's own
early-stopping point.
"""

from __future__ import annotations

from ..base import Cause, Diagnosis, Rule, Signal, Step, fmt
from ..common import LR_JUMP_CAUSE, STAGE_CHANGE

MEMORISATION = Cause(
    "data",
    lambda s, fired: (
        "Validation loss rises while training loss keeps falling"
        + (f" after step {s.anchor.step_start}" if s.anchor.step_start is not None else "")
        + ": the model memorises a training set that is too small (or too easy) for its capacity."
    ),
    (
        Signal(
            "val_up_train_down",
            0.6,
            "The finding itself is the evidence for memorisation; a shifted validation set gives the same "
            "picture, hence not higher.",
            lambda s: "validation loss rising while training loss falls",
        ),
    ),
)


def _plan(s) -> list[Step]:
    best = s.best_validation()
    # The finding's own early-stopping point (before the rise it describes) beats the global minimum,
    # which may come after a disruption that ended the overfitting by accident.
    details = s.anchor.details
    if isinstance(details.get("best_step"), int) and isinstance(details.get("best_value"), float):
        name = s.anchor.series or (best[0] if best else "validation loss")
        best = (name, details["best_step"], details["best_value"])
    if best is None:
        return []
    name, step, value = best
    return [
        Step(
            f"stop at step {step}: best validation loss {fmt(value)} ({name}); keep that checkpoint "
            "(early stopping with patience of a few evaluations)",
            "the deployed model is the best one seen",
            "low",
            name,
            f"best value <= {fmt(value)}",
        ),
        Step(
            "add regularization (weight decay 0.01-0.1, dropout) or more / augmented training data",
            "validation loss keeps falling longer; the train/val gap narrows",
            "medium",
            name,
            f"no sustained rise after step {step}; best below {fmt(value)}",
        ),
    ]


def _specialise(finding, causes: list[str], fix: str) -> tuple[list[str], str]:
    best = finding.details.get("best_step")
    if best is not None:
        fix = f"Restore the checkpoint nearest step {best} (best validation) and stop there; {fix[0].lower()}{fix[1:]}"
    return causes, fix


RULE = Rule(
    code="overfitting",
    meaning="validation loss rises while training loss keeps falling",
    area="loss",
    default_severity="warning",
    anchor_rank=100,
    detectors=("traintriage.detectors.loss.overfitting:detect_overfitting",),
    causes=(LR_JUMP_CAUSE, STAGE_CHANGE, MEMORISATION),
    plan=_plan,
    diagnosis=Diagnosis(
        causes=(
            "too many epochs for the data size (memorization)",
            "too little regularization (weight decay, dropout, augmentation)",
            "a validation set drawn from a different distribution than training",
        ),
        first_fix="Keep the checkpoint at the best validation step (early stopping, patience of a few evaluations) "
        "and add weight decay / augmentation.",
        specialise=_specialise,
    ),
)
