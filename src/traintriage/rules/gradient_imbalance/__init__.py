"""``gradient_imbalance``: one component takes nearly all of the gradient norm, or one takes almost none.

Detector: :func:`traintriage.detectors.gradnorm.health.detect_imbalance`.
"""

from __future__ import annotations

from ..base import Cause, Rule, Signal, Step
from ..common import LR_JUMP_CAUSE, STAGE_CHANGE

OUT_OF_SCALE = Cause(
    "architecture",
    lambda s, fired: (
        f"{s.anchor.component or 'a component'}'s share of the gradient is out of proportion to its siblings: its "
        "output is scaled (or initialised) far from the others, so it barely learns or dominates the update."
    ),
    (
        Signal(
            "share_far_from_siblings",
            0.6,
            "A share far from the siblings' points at scale or initialization, but some components are meant to "
            "differ (a small head, a frozen part): likely, not certain.",
            lambda s: "gradient share far from the other components",
        ),
    ),
)


def _plan(s) -> list[Step]:
    comp = s.anchor.component or "the component"
    return [
        Step(
            f"rescale {comp}'s output (or its initialization) to the size of its siblings, or give it its own "
            "learning rate",
            f"{comp}'s share of the gradient moves toward the others'",
            "medium",
            s.component_series(comp),
            "within 10x of the median of the other components",
        )
    ]


RULE = Rule(
    code="gradient_imbalance",
    meaning="one component takes nearly all of the gradient norm, or one takes almost none",
    area="gradients",
    default_severity="warning",
    anchor_rank=120,
    detectors=("traintriage.detectors.gradnorm.health:detect_imbalance",),
    causes=(LR_JUMP_CAUSE, STAGE_CHANGE, OUT_OF_SCALE),
    plan=_plan,
    groups_by_component=True,
)
