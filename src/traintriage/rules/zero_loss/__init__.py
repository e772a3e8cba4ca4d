"""``zero_loss``: the loss at or near zero: a leak, or a bug in the loss or the labels.

Detector: :func:`traintriage.detectors.loss.numeric.detect_zero_loss`.
"""

from __future__ import annotations

from ..base import Cause, Diagnosis, Rule, Signal, Step, fmt
from ..common import LR_JUMP_CAUSE, STAGE_CHANGE

LEAK = Cause(
    "data",
    lambda s, fired: (
        "The loss reaches (almost) zero: the model can read the answer from its inputs (label leakage), or the "
        "loss is computed on the wrong tensors."
    ),
    (
        Signal(
            "loss_near_zero",
            0.6,
            "A real task almost never allows zero loss, so a leak or a loss bug is likely; a trivially easy "
            "dataset does the same, hence not higher.",
            lambda s: "loss at or near zero",
        ),
    ),
)


def _plan(s) -> list[Step]:
    return [
        Step(
            f"look for label leakage: the loss reached {fmt(s.level(s.start))} at step {s.start}; check that "
            "no input feature contains the target and that the loss is computed on logits vs labels",
            "a realistic, non-zero training loss and a validation loss that tracks it",
            "low",
            s.loss_name,
            "stays clearly above zero; validation loss close to training loss",
        )
    ]


RULE = Rule(
    code="zero_loss",
    meaning="loss at or near zero: a leak, or a bug in the loss or labels",
    area="loss",
    default_severity="critical",
    anchor_rank=50,
    detectors=("traintriage.detectors.loss.numeric:detect_zero_loss",),
    causes=(LR_JUMP_CAUSE, STAGE_CHANGE, LEAK),
    plan=_plan,
    diagnosis=Diagnosis(
        causes=(
            "target leaked into the inputs (a feature derived from the label, or future data)",
            "the loss is masked out or reduced wrongly (all positions ignored, sum over an empty tensor)",
            "evaluation on the training set, or duplicated train/val examples",
        ),
        first_fix="Shuffle the labels and train 100 steps: if the loss still goes to ~0, the inputs carry the label.",
    ),
)
