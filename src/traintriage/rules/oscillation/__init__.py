"""``oscillation``: large swings of the loss with no net progress.

Detector: :func:`traintriage.detectors.loss.oscillation.detect_oscillation`. ``correlate`` reads the
swings themselves as an optimizer signal (an LR too high for the curvature), strengthened by gradient
growth and routine clipping, or by an LR jump.
"""

from __future__ import annotations

from ..base import Diagnosis, Rule, Signal
from ..common import GRAD_GROWTH, LR_JUMP, ROUTINE_CLIPPING, STAGE_CHANGE, optimizer_cause, optimizer_steps

SWINGING = Signal(
    "swinging",
    0.5,
    "Swings with no net progress are the textbook sign of a step size too large for the curvature, but "
    "noisy small batches swing too: as likely as not on its own.",
    lambda s: "loss swings up and down with no net progress" if s.lr_jump is None else None,
)

RULE = Rule(
    code="oscillation",
    meaning="large swings of the loss with no net progress",
    area="loss",
    default_severity="warning",
    anchor_rank=90,
    detectors=("traintriage.detectors.loss.oscillation:detect_oscillation",),
    causes=(optimizer_cause(LR_JUMP, GRAD_GROWTH, SWINGING, ROUTINE_CLIPPING), STAGE_CHANGE),
    plan=optimizer_steps,
    diagnosis=Diagnosis(
        causes=(
            "learning rate too high for the curvature (alternating sign)",
            "momentum too high (slow waves), e.g. SGD momentum 0.99 or Adam beta1 close to 1",
            "a very small batch combined with a high LR",
        ),
        first_fix="Halve the LR (or lower momentum to 0.9) and compare 200 steps.",
    ),
)
