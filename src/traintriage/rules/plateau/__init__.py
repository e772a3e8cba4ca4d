"""``plateau``: the loss stops improving for a long stretch (slow convergence, stagnation).

Detectors: :func:`traintriage.detectors.loss.trend.detect_plateau` and the task-metric check
:func:`traintriage.detectors.loss.task_metrics.detect_task_not_learned`. ``correlate`` asks first
whether the LR was ever large enough to learn, then whether the labels carry signal.
"""

from __future__ import annotations

from ..base import Cause, Diagnosis, Rule, Signal, Step, fmt
from ..common import (
    CONFIGURED_RISK,
    LR_JUMP,
    STAGE_CHANGE,
    configured_risk,
    jump_explanation,
    no_optimizer_signal,
)
from .thresholds import TINY_PEAK_LR


def _tiny_lr(s) -> str | None:
    peak = s.lr_peak
    return f"peak learning rate only {fmt(peak)}" if peak is not None and peak <= TINY_PEAK_LR else None


def _optimizer_explanation(s, fired: tuple[str, ...]) -> str:
    if "tiny_peak_lr" in fired:
        return f"The learning rate never exceeds {fmt(s.lr_peak)}: updates are too small to make progress."
    if "lr_jump" in fired:
        return jump_explanation(s)
    d = configured_risk(s.all_findings, s.code).details
    return (
        f"{d.get('setting')} = {d.get('value')} ({d.get('source')}) is outside the documented range "
        f"({d.get('documented')}; {d.get('reference')}): steps that large keep the model at a trivial solution "
        "(the class prior, the unigram distribution) instead of letting it learn."
    )


TINY_LR = Cause(
    "optimizer",
    _optimizer_explanation,
    (
        LR_JUMP,
        Signal(
            "tiny_peak_lr",
            0.6,
            "A peak LR this small is a typo or a schedule bug more often than a choice, but a model can still "
            "plateau for other reasons under it.",
            _tiny_lr,
        ),
        CONFIGURED_RISK,
    ),
)


def _at_chance(s) -> bool:
    return "chance" in (s.anchor.message + s.anchor.title).lower()


NO_SIGNAL_IN_LABELS = Cause(
    "data",
    lambda s, fired: (
        "The loss stalls"
        + (" at chance level" if _at_chance(s) else "")
        + " while gradients flow: the labels carry little signal the model can use (corrupted, shuffled or "
        "misaligned labels), or the task is too hard for the model."
    ),
    (
        Signal(
            "plateau_at_chance",
            0.45,
            "A loss stuck at the class prior says the inputs tell the model nothing about the labels.",
            lambda s: "plateau at chance level" if _at_chance(s) else None,
        ),
        Signal(
            "plateau",
            0.3,
            "A plateau elsewhere is as often a model or task limit as a label problem: weak.",
            lambda s: None if _at_chance(s) else "plateau",
        ),
    ),
    applies=no_optimizer_signal,
)


def _plan(s) -> list[Step]:
    level = fmt(s.level(s.start))
    risk = configured_risk(s.ctx.findings, s.code) if s.cause == "optimizer" else None
    if risk is not None:  # a configured LR far too high: bring it into range, never raise it
        from ..hyperparameter_risk import config_step

        return [config_step(risk.details)]
    if s.cause == "optimizer" and s.lr_peak is not None:
        return [
            Step(
                f"raise peak LR from {fmt(s.lr_peak)} (logged) to {fmt(s.lr_peak * 10)}",
                "faster progress out of the plateau",
                "medium",
                s.loss_name,
                f"below its plateau level {level} within the same number of steps",
            )
        ]
    return [
        Step(
            "check the labels and inputs of a few batches by hand (shuffled or corrupted labels keep the "
            "loss at chance level), then try a 10x larger learning rate on a small subset",
            "the model can fit a small clean subset; the full run leaves the plateau",
            "low",
            s.loss_name,
            f"below its plateau level {level}",
        )
    ]


def _specialise(finding, causes: list[str], fix: str) -> tuple[list[str], str]:
    classes = finding.details.get("chance_classes")
    if classes:
        causes.insert(0, f"the model predicts the class prior ({classes} classes): labels carry no signal about inputs")
        fix = "Check that inputs and labels stay paired (one shuffle for both) and that labels are not constant."
    return causes, fix


RULE = Rule(
    code="plateau",
    meaning="loss stops improving for a long stretch (slow convergence, stagnation)",
    area="loss",
    default_severity="warning",
    anchor_rank=160,
    detectors=(
        "traintriage.detectors.loss.trend:detect_plateau",
        "traintriage.detectors.loss.task_metrics:detect_task_not_learned",
    ),
    causes=(TINY_LR, STAGE_CHANGE, NO_SIGNAL_IN_LABELS),
    plan=_plan,
    diagnosis=Diagnosis(
        causes=(
            "learning rate far too low (a typo, or decayed too early)",
            "labels carry no signal (shuffled, mis-joined) when the loss sits at chance level",
            "model or features cannot fit the task (too small, frozen, saturated activations)",
        ),
        first_fix="Run a short LR range test (10x steps of the LR) and check that a batch of 32 examples can be "
        "overfitted to ~0 loss; if it cannot, check labels and the data pipeline.",
        specialise=_specialise,
    ),
)
