"""``exploding_gradients``: the gradient norm grows by orders of magnitude, or front layers sit far above
back layers.

Detectors: :mod:`traintriage.detectors.gradnorm.depth` (growth over time, and the depth profile).
``correlate`` separates growth during training (optimizer), norms huge from the first step
(initialization) and one component carrying the whole norm under a constant LR (unscaled inputs).
"""

from __future__ import annotations

from ..base import Cause, Rule, Signal, Step, fmt
from ..common import RAMP_GROWTH, STAGE_CHANGE, data_steps, lr_jump_or

GREW_DURING_TRAINING = lr_jump_or(
    Signal(
        "grew_during_training",
        0.45,
        "Growth that starts mid-run points at the update size, but unscaled inputs grow norms too: moderate.",
        lambda s: None if s.starts_at_beginning else "gradient norm grew during training",
    ),
    lambda s: (
        "Gradient norms grew by orders of magnitude during training: the learning rate is too high, or nothing "
        "(clipping, normalization) bounds the updates."
    ),
)

HUGE_FROM_START = Cause(
    "initialization",
    lambda s, fired: (
        "Gradient norms are huge from the first steps: the initialization scale (or a deep stack without "
        "normalization) amplifies the signal layer after layer."
    ),
    (
        Signal(
            "huge_from_start",
            0.6,
            "Norms that are huge before the optimizer has done anything can only come from the model as built.",
            lambda s: "gradient norm huge from the start" if s.starts_at_beginning else None,
        ),
    ),
)


def _unscaled_input(s) -> bool:
    ramp = s.lr_growth
    return s.dominant_component is not None and s.lr_jump is None and not (ramp is not None and ramp >= RAMP_GROWTH)


UNSCALED_INPUT = Cause(
    "data",
    lambda s, fired: (
        f"The growth comes from one component, {s.dominant_component[0]} ({s.dominant_component[1]:.0%} of the "
        "squared gradient norm), under a constant learning rate: an input on a far larger scale than the rest (an "
        "unstandardised feature, raw counts, unnormalised targets) gives that part of the model a curvature the "
        "learning rate cannot handle."
    ),
    (
        Signal(
            "one_component_dominates",
            0.45,
            "One component carrying the whole norm localises the problem to what feeds it.",
            lambda s: f"{s.dominant_component[0]} holds {s.dominant_component[1]:.0%} of the gradient norm",
        ),
        Signal(
            "lr_constant",
            0.3,
            "With no LR change before the growth, the optimizer's schedule is not what changed.",
            lambda s: "no learning-rate change before the growth",
        ),
    ),
    applies=_unscaled_input,
    also_when_attached=True,
)


def _plan(s) -> list[Step]:
    steps = []
    if s.cause != "optimizer":
        steps.append(
            Step(
                f"clip gradients at {fmt(s.grad_p50)} (median logged norm) and add normalization or a smaller "
                "initialization scale",
                "norms stay bounded from the first steps",
                "medium",
                s.roles.grad_total or "grad norm",
                "no growth by orders of magnitude",
            )
        )
    return steps + data_steps(s)


RULE = Rule(
    code="exploding_gradients",
    meaning="gradient norm grows by orders of magnitude, or front layers far above back layers",
    area="gradients",
    default_severity="critical",
    anchor_rank=20,
    detectors=(
        "traintriage.detectors.gradnorm.depth:detect_growth",
        "traintriage.detectors.gradnorm.depth:detect_depth",
        "traintriage.detectors.gradnorm.depth:detect_non_finite",
    ),
    causes=(GREW_DURING_TRAINING, STAGE_CHANGE, HUGE_FROM_START, UNSCALED_INPUT),
    plan=_plan,
    attaches_to_loss_event=True,
)
