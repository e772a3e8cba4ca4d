"""``vanishing_gradients``: the gradient norm of some layers sits orders of magnitude below the rest.

Detector: :func:`traintriage.detectors.gradnorm.depth.detect_depth` (the depth profile of per-layer norms).
"""

from __future__ import annotations

from ..base import Cause, Rule, Signal, Step
from ..common import LR_JUMP_CAUSE, STAGE_CHANGE

SHRINKS_ON_THE_WAY_BACK = Cause(
    "architecture",
    lambda s, fired: (
        "Front layers get gradients orders of magnitude smaller than back layers: saturating activations "
        "(sigmoid/tanh) or a deep stack without normalization or residuals shrink the signal on its way back."
    ),
    (
        Signal(
            "front_far_below_back",
            0.65,
            "A monotone decay of norms towards the input is what saturation or a missing residual path produces; "
            "a deliberately frozen front does the same, hence not higher.",
            lambda s: "front layers orders of magnitude below back layers",
        ),
    ),
)


def _plan(s) -> list[Step]:
    return [
        Step(
            "add normalization (LayerNorm/BatchNorm) and residual connections, or replace saturating "
            "activations (sigmoid/tanh) with ReLU/GELU; use a fan-in initialization (Kaiming/Xavier)",
            "front layers receive gradients within one or two orders of magnitude of back layers",
            "medium",
            "front-layer grad norm",
            "within 100x of the back layers",
        )
    ]


RULE = Rule(
    code="vanishing_gradients",
    meaning="gradient norm of some layers orders of magnitude below the rest, near zero",
    area="gradients",
    default_severity="warning",
    anchor_rank=70,
    detectors=("traintriage.detectors.gradnorm.depth:detect_depth",),
    causes=(LR_JUMP_CAUSE, STAGE_CHANGE, SHRINKS_ON_THE_WAY_BACK),
    plan=_plan,
    groups_by_component=True,
)
