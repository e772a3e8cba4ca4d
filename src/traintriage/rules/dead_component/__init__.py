"""``dead_component``: a component's gradient norm is zero (or below a floor) on most steps.

Detector: :func:`traintriage.detectors.gradnorm.health.detect_dead`.
"""

from __future__ import annotations

from ..base import Cause, Rule, Signal, Step
from ..common import LR_JUMP_CAUSE, STAGE_CHANGE


def _component(s) -> str:
    return s.anchor.component or "a component"


CUT_OFF = Cause(
    "architecture",
    lambda s, fired: (
        f"{_component(s)} receives (almost) no gradient"
        + (f" since step {s.anchor.step_start}" if s.anchor.step_start is not None else "")
        + ": it is cut off from the loss (detached, multiplied by zero, an activation that never fires, or its "
        "parameters are not in the optimizer)."
    ),
    (
        Signal(
            "gradient_below_floor",
            0.75,
            "No gradient at all can only mean the component is off the path to the loss or out of the optimizer; "
            "short of certain because a logging bug looks the same.",
            lambda s: f"{_component(s)} gradient below the floor on most steps",
        ),
    ),
)


def _plan(s) -> list[Step]:
    comp = s.anchor.component or "the component"
    return [
        Step(
            f"the {comp} branch has had (almost) zero gradient"
            + (f" since step {s.anchor.step_start}" if s.anchor.step_start is not None else "")
            + ": check it is on the path to the loss (no .detach(), no multiplication by 0, an activation "
            "that fires), and that its parameters are in the optimizer",
            f"{comp} receives gradient and learns",
            "low",
            s.component_series(comp),
            "non-zero on most steps",
        )
    ]


RULE = Rule(
    code="dead_component",
    meaning="a component's gradient norm is zero (or below a floor) on most steps",
    area="gradients",
    default_severity="critical",
    anchor_rank=60,
    detectors=("traintriage.detectors.gradnorm.health:detect_dead",),
    causes=(LR_JUMP_CAUSE, STAGE_CHANGE, CUT_OFF),
    plan=_plan,
    groups_by_component=True,
)
