"""``dead_component``: a component's gradient norm is zero (or below a floor) on most steps.

Detectors: :func:`traintriage.detectors.gradnorm.health.detect_dead` (gradient norms); from a checkpoint's value
scan, :mod:`traintriage.checkpoints.health` (all-zero matrices, collapsed norm gains, stale embedding rows).
"""

from __future__ import annotations

from ..base import Cause, Rule, Signal, Step
from ..common import LR_JUMP_CAUSE, STAGE_CHANGE, finding_fix_step

CHECKPOINT_KINDS = ("all_zero", "collapsed_norm_gain", "stale_embedding_rows")
"""``details.kind`` of the findings read from a checkpoint's weights (:mod:`traintriage.checkpoints.health`): no
gradient was seen for them, so the gradient cause must not speak for them."""


def _component(s) -> str:
    return s.anchor.component or "a component"


def _from_checkpoint(s) -> bool:
    return s.anchor.details.get("kind") in CHECKPOINT_KINDS


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
            lambda s: None if _from_checkpoint(s) else f"{_component(s)} gradient below the floor on most steps",
        ),
    ),
)

DEAD_WEIGHTS = Cause(
    "architecture",
    lambda s, fired: s.anchor.message,
    (
        Signal(
            "dead_weights_read",
            0.8,
            "The weights were read from the checkpoint itself: all zero, a collapsed gain or stale rows are facts; "
            "the only doubt is whether they were meant (a zero-initialised branch, padding rows).",
            lambda s: s.anchor.title if _from_checkpoint(s) else None,
        ),
    ),
)


def _plan(s) -> list[Step]:
    if _from_checkpoint(s):
        return [finding_fix_step(s, "low", "exclude norm gains and biases from weight decay; check that the layer is "
                                 "in the optimizer and that the load reported no missing keys; for stale embedding "
                                 "rows, check that the data ever produces those tokens")]
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
    detectors=(
        "traintriage.detectors.gradnorm.health:detect_dead",
        "traintriage.checkpoints.health:dead_tensors",
        "traintriage.checkpoints.health:collapsed_gains",
        "traintriage.checkpoints.health:stale_embedding_rows",
    ),
    causes=(LR_JUMP_CAUSE, STAGE_CHANGE, CUT_OFF, DEAD_WEIGHTS),
    plan=_plan,
    groups_by_component=True,
)
