"""Cause signals and plan steps that several rules share.

A loss spike, a divergence and a NaN are often the same story told at different moments (the optimizer
overshoots), so their rules weigh the same optimizer signals and propose the same first changes. Those
live here once; each rule lists the ones it uses, so its module still says everything it considers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .base import Cause, Signal, Step, fmt

if TYPE_CHECKING:
    from ..triage.scenes import AttributionScene, PlanScene

RAMP_GROWTH = 3.0
"""An LR at least this many times its earlier minimum where the loss turns was ramping into the failure (an
LR range test left on, a warmup to a peak that is too high): the plan names the LRs the run itself showed."""


# --- optimizer signals ------------------------------------------------------------------------------


def _lr_jump(s: AttributionScene) -> str | None:
    j = s.lr_jump
    return f"LR x{j.ratio:.3g} at step {j.step}" if j is not None and j.ratio > 1 else None


LR_JUMP = Signal(
    "lr_jump",
    0.7,
    "An abrupt LR increase just before the event is the most common single cause of spikes and divergence; "
    "not certain alone, because a bad batch can coincide with it.",
    _lr_jump,
)


def _grad_spike_alone(s: AttributionScene) -> str | None:
    if s.has("gradient_spike") and not s.has("exploding_gradients"):
        return "gradient-norm spike at the same steps"
    return None


GRAD_SPIKE_ALONE = Signal(
    "grad_spike_alone",
    0.35,
    "A gradient spike at the same steps says the update was unstable but not why (the LR, or that batch); "
    "inside an exploding trend it is a consequence of the growth, so it only counts when it stands alone.",
    _grad_spike_alone,
)


def _lr_ramp(s: AttributionScene) -> str | None:
    ramp = s.lr_growth
    if s.lr_jump is None and ramp is not None and ramp >= RAMP_GROWTH:
        return f"LR grew {ramp:.3g}x before step {s.start}"
    return None


LR_RAMP = Signal(
    "lr_ramp",
    0.6,
    "An LR that grew several-fold into the failure (a range test left on, warmup to a peak too high) is a "
    "strong sign the LR crossed its stable range; weaker than a jump because schedules legitimately grow.",
    _lr_ramp,
)


def _grad_growth(s: AttributionScene) -> str | None:
    if s.lr_jump is not None:
        return None
    exploding = s.any_finding("exploding_gradients")
    if exploding is not None:
        return f"gradient norms exploding from step {exploding.step_start}"
    spike = next((f for f in s.issue.findings if f.code == "gradient_spike"), None)
    return f"gradient spike at step {spike.step_start}" if spike is not None else None


GRAD_GROWTH = Signal(
    "grad_growth",
    0.45,
    "Gradient norms growing or spiking under a steady LR point to updates too large for the curvature; "
    "moderate, because a data problem can grow them too.",
    _grad_growth,
)


def _routine_clipping(s: AttributionScene) -> str | None:
    if s.lr_jump is None and s.any_finding("heavy_clipping") is not None:
        return "clipping active on most steps: updates are routinely too large"
    return None


ROUTINE_CLIPPING = Signal(
    "routine_clipping",
    0.25,
    "Clipping on most steps shows updates are routinely too large, but a wrong threshold does the same: weak.",
    _routine_clipping,
)


def configured_risk(findings, code: str):
    """The run's ``hyperparameter_risk`` finding that predicts ``code`` (a too-high LR predicts divergence,
    oscillation, spikes and NaN), or None."""
    return next((f for f in findings if f.code == "hyperparameter_risk" and code in f.details.get("predicts", ())),
                None)


def _configured_risk(s: AttributionScene) -> str | None:
    risk = configured_risk(s.all_findings, s.code)
    if risk is None:
        return None
    d = risk.details
    return f"{d.get('setting')} = {d.get('value')} configured, outside {d.get('documented')}"


CONFIGURED_RISK = Signal(
    "configured_risk",
    0.5,
    "A configured value outside its documented range (an Adam LR of 0.1) predicts exactly this failure, so it "
    "supports the optimizer as strongly as a gradient spike would; not more, because the log does not show the "
    "value acting (a schedule may never have reached it).",
    _configured_risk,
)


def jump_explanation(s: AttributionScene) -> str:
    j = s.lr_jump
    return (
        f"The learning rate jumped from {fmt(j.before)} to {fmt(j.after)} at step {j.step}, just before the "
        f"{s.code_words} at step {s.start}: the optimizer overshoots."
    )


def optimizer_explanation(s: AttributionScene, fired: tuple[str, ...]) -> str:
    """The most specific optimizer story the signals tell: a ramp, a jump, a gradient spike, else a high LR."""
    if "lr_ramp" in fired:
        return (
            f"The learning rate rose {s.lr_growth:.3g}x (to {fmt(s.lr_now)}) before the {s.code_words} at step "
            f"{s.start}: past some value the optimizer overshoots."
        )
    if "lr_jump" in fired:
        return jump_explanation(s)
    risk = configured_risk(s.all_findings, s.code) if "configured_risk" in fired else None
    if risk is not None and not {"lr_jump", "grad_spike_alone"} & set(fired):
        d = risk.details
        return (
            f"{d.get('setting')} = {d.get('value')} ({d.get('source')}) is outside the documented range "
            f"({d.get('documented')}; {d.get('reference')}): updates that large make the loss "
            f"{'swing' if s.code == 'oscillation' else 'climb'} from step {s.start}."
        )
    if "grad_spike_alone" in fired:
        return (
            f"The gradient norm spiked at the same steps as the {s.code_words}: an unstable update (learning rate "
            "too high for that batch, or no clipping)."
        )
    return (
        f"The learning rate ({fmt(s.lr_peak)} at peak) is too high for this model and data: updates overshoot "
        f"and the loss {'swings' if s.code == 'oscillation' else 'climbs'}."
    )


def optimizer_cause(*signals: Signal) -> Cause:
    """The optimizer hypothesis of a loss event, weighed on ``signals`` and on a configured value outside its
    documented range that predicts the event (:data:`CONFIGURED_RISK`)."""
    return Cause("optimizer", optimizer_explanation, (*signals, CONFIGURED_RISK))


def lr_jump_or(signal: Signal, explain: Callable[[AttributionScene], str]) -> Cause:
    """The optimizer hypothesis of a code with one signal of its own besides an LR jump at the issue's start;
    its own signal, when it fires, tells the more specific story."""
    return Cause(
        "optimizer",
        lambda s, fired: explain(s) if signal.name in fired else jump_explanation(s),
        (LR_JUMP, signal),
    )


LR_JUMP_CAUSE = Cause("optimizer", lambda s, fired: jump_explanation(s), (LR_JUMP,))
"""Weighed for every issue whose rule has no optimizer signal of its own: an LR jump where it begins."""


# --- curriculum -------------------------------------------------------------------------------------


def _stage_change(s: AttributionScene) -> str | None:
    return f"stage change at step {s.stage.step}" if s.stage is not None else None


def stage_explanation(s: AttributionScene, fired: tuple[str, ...]) -> str:
    st = s.stage
    return (
        f"The curriculum moved from stage {st.before:g} to {st.after:g} at step {st.step}, where the "
        f"{s.code_words} begins: the new stage's data is harder or differently distributed and the model has "
        "not adapted."
    )


STAGE_CHANGE = Cause(
    "curriculum",
    stage_explanation,
    (
        Signal(
            "stage_change",
            0.6,
            "A logged curriculum stage change where an issue begins is a likely cause of any of them, but the "
            "timing alone does not prove it.",
            _stage_change,
        ),
    ),
)
"""Weighed for every issue: a curriculum stage change where it begins."""


def no_optimizer_signal(s: AttributionScene) -> bool:
    """Precondition of the causes that only stand when the optimizer hypothesis found nothing."""
    return not s.has_signals("optimizer")


# --- data ------------------------------------------------------------------------------------------


def _data_shift(s: AttributionScene) -> str | None:
    return "no optimizer signal at the event" if s.stage is None else None


def _data_shift_explanation(s: AttributionScene, fired: tuple[str, ...]) -> str:
    return (
        f"The loss rose at step {s.start} with no learning-rate change or gradient instability before it: "
        "the data changed (a shifted distribution, a bad shard, corrupted batches)."
    )


DATA_SHIFT = Cause(
    "data",
    _data_shift_explanation,
    (
        Signal(
            "no_optimizer_signal",
            0.35,
            "Only the absence of an optimizer or curriculum signal points at the data: weak, it is what is left.",
            _data_shift,
        ),
    ),
    applies=no_optimizer_signal,
)
"""A loss that rises with nothing in the optimizer or the curriculum to explain it: the data changed."""


# --- plan steps -------------------------------------------------------------------------------------


def _ramp_cap(s: PlanScene) -> Step | None:
    """Cap the LR at its value where the loss was lowest, when the LR ramped into the divergence: the run
    measured the safe LR itself, so the plan names it (and the LR at the onset), not a fraction of the peak."""
    growth, start = s.lr_growth(), s.start
    if start is None or growth is None or growth < RAMP_GROWTH or s.ctx.data.get(s.roles.train_loss) is None:
        return None
    lowest = s.lowest_loss_before(start)
    lr_onset = s.lr_value_at(start)
    if lowest is None or lr_onset is None:
        return None
    best_step, lr_best = lowest
    lr_name = s.roles.lr or "the learning rate"
    loss = s.loss_name
    return Step(
        f"cap {lr_name} at {fmt(lr_best)}, its value where {loss} was lowest (step {best_step}); it diverged "
        f"from step {start} with the LR at {fmt(lr_onset)} ({growth:.3g}x its start): stop the ramp (an LR range "
        f"test left on, or a warmup to a peak too high) at {fmt(lr_best)} or below",
        "the LR never reaches the range where this run diverged",
        "low",
        loss,
        f"falls steadily past step {start} with {lr_name} <= {fmt(lr_best)}",
    )


def optimizer_steps(s: PlanScene) -> list[Step]:
    """When the optimizer is the cause of a loss event: undo the LR jump (or cap the ramp, or lower the peak),
    then clip at the run's own p95 gradient norm when nothing clips yet."""
    if s.cause != "optimizer":
        return []
    steps: list[Step] = []
    risk = configured_risk(s.ctx.findings, s.code)
    if risk is not None:
        from .hyperparameter_risk import config_step

        steps.append(config_step(risk.details))
    jump = s.lr_jump
    if jump is not None and jump.ratio > 1:
        steps.append(
            Step(
                f"remove the LR jump at step {jump.step}: keep {s.lr_name} at {fmt(jump.before)} instead of "
                f"{fmt(jump.after)} (logged), or ramp to it over several hundred steps",
                "no overshoot at that step; the loss keeps falling through it",
                "low",
                s.loss_name,
                f"no step above 3x its local median after step {jump.step}",
            )
        )
    elif (ramp := _ramp_cap(s)) is not None:
        steps.append(ramp)
    elif s.lr_peak is not None:
        target = s.lr_peak / (3 if s.code == "oscillation" else 2)
        steps.append(
            Step(
                f"lower peak LR from {fmt(s.lr_peak)} (logged) to {fmt(target)}",
                "smaller updates: the loss stops " + ("swinging" if s.code == "oscillation" else "climbing"),
                "low",
                s.loss_name,
                "falls steadily with no sustained rise" + (f" after step {s.start}" if s.start is not None else ""),
            )
        )
    if s.grad_p95 is not None and s.roles.grad_postclip is None:
        steps.append(
            Step(
                f"clip gradients at {fmt(s.grad_p95)} (p95 of the logged gradient norm; median {fmt(s.grad_p50)})",
                "rare huge updates are bounded while typical steps are untouched",
                "low",
                s.roles.grad_total or s.roles.grad_preclip or "grad norm",
                f"no spike above {fmt(s.grad_p95)} reaches the update",
            )
        )
    return steps


def data_steps(s: PlanScene) -> list[Step]:
    """When the data is the cause: standardise the inputs of a dominant component, else find the bad batches."""
    if s.cause != "data":
        return []
    dominant = s.dominant_component()
    if s.has_code("exploding_gradients") and dominant is not None:
        name, share = dominant
        return [
            Step(
                f"standardise the inputs that feed {name} (mean 0, std 1 per feature; log-transform counts): "
                f"it carries {share:.0%} of the squared gradient norm while the learning rate is constant",
                f"{name}'s gradient norm in line with the other components; no growth",
                "low",
                s.component_series(name),
                "no growth by orders of magnitude; within 10x of the other components",
            )
        ]
    return [
        Step(
            f"inspect the batches around step {s.start}: log sample ids and input statistics (mean, std, "
            "min, max per feature) to find a shifted, corrupted or mislabelled shard",
            "the bad data is found and fixed or filtered",
            "low",
            s.loss_name,
            f"no rise at step {s.start}",
        )
    ]


def finding_fix_step(s: PlanScene, risk: str, fallback: str) -> Step:
    """The fix the finding itself carries (memory and parameter analyses write one), else ``fallback``."""
    fix = s.anchor.details.get("first_fix") or s.anchor.details.get("fix")
    ev = s.anchor.evidence[0] if s.anchor.evidence else None
    return Step(
        fix if isinstance(fix, str) and fix else fallback,
        "see the finding's reference page",
        risk,  # type: ignore[arg-type]
        s.anchor.series or s.code,
        ev.expected if ev is not None and ev.expected else "the finding no longer appears",
    )
