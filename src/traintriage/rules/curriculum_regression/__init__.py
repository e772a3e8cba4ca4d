"""``curriculum_regression``: the loss regresses at a curriculum / data-stage transition.

Detector: :func:`traintriage.detectors.loss.curriculum.detect_curriculum_regression`.
"""

from __future__ import annotations

from ..base import Cause, Diagnosis, Rule, Signal, Step, fmt
from ..common import LR_JUMP_CAUSE, stage_explanation

STAGE_CHANGE_AT_REGRESSION = Cause(
    "curriculum",
    stage_explanation,
    (
        Signal(
            "stage_change_at_regression",
            0.8,
            "A logged stage change exactly where the loss regresses is the direct explanation of this finding.",
            lambda s: f"stage change at step {s.stage.step}" if s.stage is not None else None,
        ),
    ),
)

TRANSITION = Cause(
    "curriculum",
    lambda s, fired: f"The loss regressed at a transition at step {s.start} and did not return to its earlier level.",
    (
        Signal(
            "regression_at_transition",
            0.6,
            "Without a logged stage the transition comes from the steps you gave: likely, not certain.",
            lambda s: "regression at a transition" if s.stage is None else None,
        ),
    ),
)


def _plan(s) -> list[Step]:
    at = s.stage_step()
    return [
        Step(
            f"soften the transition at step {at}: mix in the new stage's data gradually (e.g. 10% -> 100% over "
            "a few thousand steps) and re-warm the learning rate briefly",
            "no lasting regression at the transition",
            "medium",
            s.loss_name,
            f"back to its pre-transition level {fmt(s.level((at or 0) - 1))} after step {at}",
        )
    ]


RULE = Rule(
    code="curriculum_regression",
    meaning="loss regresses at a curriculum / data-stage transition",
    area="loss",
    default_severity="warning",
    anchor_rank=80,
    detectors=("traintriage.detectors.loss.curriculum:detect_curriculum_regression",),
    causes=(LR_JUMP_CAUSE, STAGE_CHANGE_AT_REGRESSION, TRANSITION),
    plan=_plan,
    diagnosis=Diagnosis(
        causes=(
            "the new stage's data differs too much from the previous stage (distribution jump)",
            "the LR schedule restarts or stays too high at the transition",
            "the stage change resets state (optimizer state, normalization statistics)",
        ),
        first_fix="Blend the stages (mix 10-30 % of the previous stage's data into the new one) and lower the LR at "
        "the transition.",
    ),
)
