"""``heavy_clipping``: gradient clipping is active on a large share of steps.

Detector: :func:`traintriage.detectors.gradnorm.clipping.detect_heavy_clipping`.
"""

from __future__ import annotations

from ..base import Rule, Signal, Step, fmt
from ..common import STAGE_CHANGE, lr_jump_or

CLIPPING_SETS_THE_STEP = lr_jump_or(
    Signal(
        "clipping_rescales_most_updates",
        0.6,
        "When most updates are rescaled, the clip threshold (or the LR behind the large norms) sets the "
        "step size by definition; which of the two is for the plan to test.",
        lambda s: "clipping rescales most updates",
    ),
    lambda s: (
        "Gradient clipping is active on most steps: the clip threshold is far below the typical gradient norm (or "
        "the learning rate is too high), so clipping, not the optimizer, sets the step size."
    ),
)


def _plan(s) -> list[Step]:
    threshold = s.clip_threshold()
    return [
        Step(
            "raise the clip threshold "
            + (f"from {fmt(threshold)} " if threshold is not None else "")
            + f"to about {fmt(s.grad_p95 or s.grad_p50)} (p95 pre-clip norm), or lower the learning rate",
            "clipping becomes a safety net on rare steps instead of rescaling every update",
            "low",
            s.roles.grad_preclip or s.roles.grad_total or "grad norm",
            "clipped on < 10% of steps",
        )
    ]


RULE = Rule(
    code="heavy_clipping",
    meaning="gradient clipping is active on a large share of steps",
    area="gradients",
    default_severity="warning",
    anchor_rank=110,
    detectors=("traintriage.detectors.gradnorm.clipping:detect_heavy_clipping",),
    causes=(CLIPPING_SETS_THE_STEP, STAGE_CHANGE),
    plan=_plan,
    attaches_to_loss_event=True,
)
