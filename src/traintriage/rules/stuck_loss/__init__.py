"""``stuck_loss``: the loss is identical, or nearly, step after step: learning is switched off.

Detector: :func:`traintriage.detectors.loss.numeric.detect_stuck_loss`. ``correlate`` checks the LR at
the stuck step first (0 means the scheduler switched learning off), then blames the training loop.
"""

from __future__ import annotations

from ..base import Cause, Diagnosis, Rule, Signal, Step, fmt
from ..common import STAGE_CHANGE, lr_jump_or, no_optimizer_signal


def _lr_zero(s) -> str | None:
    return f"learning rate is 0 at step {s.start}" if s.lr_now is not None and s.lr_now == 0 else None


LR_ZERO = lr_jump_or(
    Signal(
        "lr_zero",
        0.85,
        "A logged LR of exactly 0 where the loss stops moving explains it almost by itself.",
        _lr_zero,
    ),
    lambda s: f"The learning rate is 0 from step {s.start}: the optimizer makes no updates.",
)

NO_UPDATES = Cause(
    "pipeline",
    lambda s, fired: (
        "The loss is identical step after step while the learning rate is not zero: the optimizer does not "
        "update the model (optimizer.step() skipped, parameters frozen, or the same batch and eval mode every step)."
    ),
    (
        Signal(
            "loss_constant_lr_nonzero",
            0.5,
            "A constant loss under a non-zero LR leaves the training loop as the likeliest culprit, but the "
            "logger can also write a stale value: as likely as not.",
            lambda s: "loss constant with a non-zero learning rate",
        ),
    ),
    applies=no_optimizer_signal,
)


def _plan(s) -> list[Step]:
    return [
        Step(
            f"check the optimizer and scheduler: {s.lr_name} is {fmt(s.lr_at_start)} at step {s.start}; make sure "
            "optimizer.step() runs, parameters require grad and are in the optimizer's param groups",
            "the loss moves again",
            "low",
            s.loss_name,
            f"changes between consecutive steps after step {s.start}",
        )
    ]


RULE = Rule(
    code="stuck_loss",
    meaning="loss identical, or nearly, step after step: learning is switched off",
    area="loss",
    default_severity="critical",
    anchor_rank=40,
    detectors=("traintriage.detectors.loss.numeric:detect_stuck_loss",),
    causes=(LR_ZERO, STAGE_CHANGE, NO_UPDATES),
    plan=_plan,
    diagnosis=Diagnosis(
        causes=(
            "learning rate is exactly 0 (scheduler total_steps too small, or warmup never started)",
            "optimizer.step() not called, or parameters frozen (requires_grad=False, not in the optimizer)",
            "the logger writes a stale value (loss.item() of an old tensor)",
        ),
        first_fix="Log the LR and the parameter update norm at the stuck steps; fix the scheduler length "
        "(num_training_steps) or the optimizer's param groups.",
    ),
)
