"""``metric_collapse``: a monitored metric that should vary collapses to (near) zero or to a constant.

Detector: :func:`traintriage.detectors.metrics.collapse.detect_metric_collapse` (thresholds in
``thresholds.py``, explained in ``reference.md``). ``correlate`` weighs an LR jump or ramp just before the
collapse (the updates threw the model into a degenerate solution), a component whose gradient died at the
same time (a dead output), and a curriculum stage change.
"""

from __future__ import annotations

from ..base import Cause, Diagnosis, Rule, Signal, Step, fmt
from ..common import LR_JUMP, LR_RAMP, STAGE_CHANGE, optimizer_steps
from .thresholds import COLLAPSE_FRACTION


def _metric(s) -> str:
    return s.anchor.series or "the metric"


def _optimizer_explanation(s, fired: tuple[str, ...]) -> str:
    if "lr_jump" in fired:
        j = s.lr_jump
        how = f"jumped from {fmt(j.before)} to {fmt(j.after)} at step {j.step}"
    else:
        how = f"rose {s.lr_growth:.3g}x (to {fmt(s.lr_now)})"
    return (
        f"The learning rate {how}, just before {_metric(s)} collapsed at step {s.start}: updates that large "
        "throw a model into a degenerate solution (ReLU units that never fire again, one output for every "
        "input) that it does not leave when the LR comes back down."
    )


def _died(s) -> str | None:
    died = s.ctx.components_died_at(s.start)
    if died:
        names = ", ".join(name for name, _, _ in died[:3])
        return f"gradient norm of {names} fell to ~0 at step {s.start}"
    dead = s.any_finding("dead_component")
    return f"{dead.component} receives no gradient (dead_component)" if dead is not None else None


DEAD_OUTPUT = Cause(
    "architecture",
    lambda s, fired: (
        f"{_metric(s)} collapsed at step {s.start} while a component stopped receiving gradient: its units died "
        "(ReLUs pushed negative on every input), so everything downstream sees a constant and the model gives "
        "one output whatever its input."
    ),
    (
        Signal(
            "component_died",
            0.55,
            "A component whose gradient vanishes as the metric collapses is the dead part that explains a constant "
            "output; not certain alone, because a collapsed output also starves the layers before it of gradient.",
            _died,
        ),
    ),
)


def _lr_steps(s) -> list[Step]:
    if s.cause == "optimizer":
        return optimizer_steps(s)
    lr = s.lr_at_start
    if lr is None:
        return []
    return [
        Step(
            f"lower {s.lr_name} from {fmt(lr)} (in force at step {s.start}, where {s.anchor.series} collapsed) to "
            f"{fmt(lr / 3)}",
            "smaller updates do not knock the model into one output",
            "low",
            s.anchor.series or s.code,
            f"stays above its collapse threshold after step {s.start}",
        )
    ]


def _dead_steps(s) -> list[Step]:
    died = s.ctx.components_died_at(s.start)
    if not died:
        return []
    name, before, after = died[0]
    return [
        Step(
            f"{name}'s gradient norm fell from {fmt(before)} to {fmt(after)} at step {s.start}: its units died; "
            "use LeakyReLU or GELU there (or re-initialise it), and keep the learning rate that killed it out of "
            "the schedule",
            f"{name} keeps receiving gradient; the model's outputs keep varying",
            "medium",
            s.component_series(name),
            f"no fall below a thousandth of {fmt(before)} after step {s.start}",
        )
    ]


def _watch_step(s) -> list[Step]:
    details = s.anchor.details.get("metrics") or [{}]
    first = details[0]
    before = first.get("earlier_level")
    if first.get("kind") == "pinned":
        expectation = f"varies and ends above {fmt(first.get('after'))} (its pinned value from step {s.start})"
    else:
        expectation = (f"stays above {fmt(COLLAPSE_FRACTION * before)} ({COLLAPSE_FRACTION:g} x its earlier level "
                       f"{fmt(before)}) after step {s.start}") if isinstance(before, int | float) else "keeps varying"
    return [
        Step(
            f"log {s.anchor.series} with the loss on the next run and stop it when it leaves its earlier range",
            "a collapse is caught when it begins, not at the end",
            "low",
            s.anchor.series or s.code,
            expectation,
        )
    ]


RULE = Rule(
    code="metric_collapse",
    meaning="a monitored metric that should vary (prediction variance, entropy, diversity, halting variance) "
    "collapses to (near) zero or a constant: mode collapse, a dead output",
    area="metrics",
    default_severity="warning",
    anchor_rank=65,
    detectors=("traintriage.detectors.metrics.collapse:detect_metric_collapse",),
    causes=(Cause("optimizer", _optimizer_explanation, (LR_JUMP, LR_RAMP)), DEAD_OUTPUT, STAGE_CHANGE),
    plan=lambda s: _lr_steps(s) + _dead_steps(s) + _watch_step(s),
    diagnosis=Diagnosis(
        causes=(
            "an LR jump or a too-high LR that killed units or sent the model to one output (mode collapse)",
            "a dead output path: ReLUs that never fire, a gate saturated shut, a head cut off from the loss",
            "a loss with a degenerate optimum (a GAN generator's single mode, an ACT halting penalty too strong)",
        ),
        first_fix="Find the step where the metric left its range; undo any LR change there, and check the gradient "
        "norm of each layer at that step for one that fell to zero.",
    ),
)
