"""``divergence``: the loss trends upward over a sustained stretch, or grows without bound.

Detector: :func:`traintriage.detectors.loss.trend.detect_divergence`. ``correlate`` weighs an LR jump
or ramp into the turn, gradient growth and routine clipping (optimizer), a curriculum stage change, and
otherwise a data shift.
"""

from __future__ import annotations

from ..base import Diagnosis, Rule
from ..common import (
    DATA_SHIFT,
    GRAD_GROWTH,
    GRAD_SPIKE_ALONE,
    LR_JUMP,
    LR_RAMP,
    ROUTINE_CLIPPING,
    STAGE_CHANGE,
    data_steps,
    optimizer_cause,
    optimizer_steps,
)


def _specialise(finding, causes: list[str], fix: str) -> tuple[list[str], str]:
    ratio = finding.details.get("lr_ratio")
    if ratio:
        causes.insert(0, f"the LR rose {ratio:.3g}x while the loss climbed: the schedule keeps raising it")
        fix = "Cap the LR at its value at the turn step (or fix the schedule), and resume from before the turn."
    return causes, fix


RULE = Rule(
    code="divergence",
    meaning="loss trends upward over a sustained stretch, or grows without bound",
    area="loss",
    default_severity="critical",
    anchor_rank=10,
    detectors=("traintriage.detectors.loss.trend:detect_divergence",),
    causes=(
        optimizer_cause(LR_JUMP, GRAD_SPIKE_ALONE, LR_RAMP, GRAD_GROWTH, ROUTINE_CLIPPING),
        STAGE_CHANGE,
        DATA_SHIFT,
    ),
    plan=lambda s: optimizer_steps(s) + data_steps(s),
    diagnosis=Diagnosis(
        causes=(
            "learning rate too high for this stage of training (or an LR schedule that keeps growing)",
            "no or too loose gradient clipping",
            "numerical instability (fp16 without loss scaling, exploding activations)",
        ),
        first_fix="Lower the LR 3-10x from the turn step on (or fix the schedule), and resume from the checkpoint "
        "before the turn.",
        specialise=_specialise,
    ),
    same_event={"nan_inf": 4, "loss_spike": 4},
)
