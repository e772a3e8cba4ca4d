"""``nan_inf``: NaN or Inf in a loss, a gradient norm or a weight.

Detectors: :func:`traintriage.detectors.loss.numeric.detect_nan_inf` (loss),
:func:`traintriage.detectors.gradnorm.depth.detect_non_finite` (gradients) and
:func:`traintriage.checkpoints.imbalance.nonfinite_finding` (weights). ``correlate`` weighs the
optimizer signals of a divergence (an overflow is often a divergence that ran out of range) against
numerics: where the non-finite values appear first.
"""

from __future__ import annotations

from ..base import Cause, Diagnosis, Rule, Signal, Step
from ..common import (
    GRAD_GROWTH,
    GRAD_SPIKE_ALONE,
    LR_JUMP,
    LR_RAMP,
    ROUTINE_CLIPPING,
    STAGE_CHANGE,
    data_steps,
    no_optimizer_signal,
    optimizer_cause,
    optimizer_steps,
)
from ..log_message.thresholds import NEAR_EVENT_STEPS


def _first_place(s) -> str | None:
    first = s.first_nan
    return f"NaN/Inf first in {first.series or first.component}" if first is not None else None


_NUMERIC_KINDS = ("numerical_warning", "nan_detected")


def _message_before(s):
    """A numerical warning or NaN message printed at most ``NEAR_EVENT_STEPS`` (or the step tolerance) before the
    NaN, or at its steps: the ``log_message`` finding, else None."""
    if s.start is None:
        return None
    near = max(NEAR_EVENT_STEPS, s.ctx.tolerance)
    for f in s.all_findings:
        if (f.code == "log_message" and f.details.get("kind") in _NUMERIC_KINDS and f.step_start is not None
                and s.start - near <= f.step_start <= s.start + s.ctx.tolerance):
            return f
    return None


def _message_signal(s) -> str | None:
    f = _message_before(s)
    return None if f is None else f"\"{f.details.get('first_text', '')[:120]}\" printed at step {f.step_start}"


def _numerics_explanation(s, fired) -> str:
    if "numerical_message" in fired and ("nan_first_in" not in fired or s.first_nan is None):
        f = _message_before(s)
        return (f"The log printed \"{f.details.get('first_text', '')[:200]}\" at step {f.step_start}, just before "
                f"the loss went non-finite at step {s.start}: that operation produced the NaN/Inf.")
    first = s.first_nan
    in_grads = first.component is not None or "grad" in (first.series or "").lower()
    said = _message_before(s) if "numerical_message" in fired else None
    return (
        f"Non-finite values appear first in {'the gradients' if in_grads else 'the loss'} "
        f"({first.series or first.component}) at step {first.step_start}"
        + (
            ": an overflow in the backward pass (large activations, fp16 without loss scaling)."
            if in_grads
            else ": the loss itself produced NaN/Inf (log of 0, division by 0, or an overflow in the forward)."
        )
        + (f" The log printed \"{said.details.get('first_text', '')[:200]}\" at step {said.step_start}, just "
           "before: that operation produced it." if said is not None else "")
    )


NUMERICS = Cause(
    "numerics",
    _numerics_explanation,
    (
        Signal(
            "nan_first_in",
            0.5,
            "Where NaN appears first (gradients or loss) locates the overflow, but NaN is also the end of any "
            "divergence: as likely as not on its own.",
            _first_place,
        ),
        Signal(
            "no_growth_before",
            0.2,
            "With no LR or gradient growth before it, an optimizer overshoot is less likely, which leaves numerics.",
            lambda s: "no learning-rate or gradient growth before it" if no_optimizer_signal(s) else None,
        ),
        Signal(
            "numerical_message",
            0.6,
            "A numerical warning printed just before the NaN (var() of one element, invalid value in a divide) "
            "names the operation that made it; a warning can also come from a harmless statistic, so not more.",
            _message_signal,
        ),
    ),
    also_when_attached=True,
)


def _numerics_steps(s) -> list[Step]:
    if s.cause != "numerics":
        return []
    return [
        Step(
            f"find the first non-finite op: run the steps before {s.start} under "
            "torch.autograd.set_detect_anomaly(True); guard log/div with an epsilon; use bf16 or a "
            "GradScaler with fp16",
            "the operation that overflows is named and fixed",
            "low",
            s.loss_name,
            "finite at every step",
        )
    ]


RULE = Rule(
    code="nan_inf",
    meaning="NaN or Inf in a loss, gradient norm or weight",
    area="loss",
    default_severity="critical",
    anchor_rank=0,
    detectors=(
        "traintriage.detectors.loss.numeric:detect_nan_inf",
        "traintriage.detectors.gradnorm.depth:detect_non_finite",
        "traintriage.checkpoints.imbalance:nonfinite_finding",
    ),
    causes=(
        optimizer_cause(LR_JUMP, GRAD_SPIKE_ALONE, LR_RAMP, GRAD_GROWTH, ROUTINE_CLIPPING),
        STAGE_CHANGE,
        NUMERICS,
    ),
    plan=lambda s: optimizer_steps(s) + _numerics_steps(s) + data_steps(s),
    diagnosis=Diagnosis(
        causes=(
            "learning rate too high (the loss grew before it became non-finite)",
            "fp16 overflow without a loss scaler, or log/sqrt/division of zero in the loss",
            "bad input: NaN/Inf in a batch, or labels out of range",
        ),
        first_fix="Lower the peak LR 3-10x and add gradient clipping (torch.nn.utils.clip_grad_norm_(params, 1.0)); "
        "check the batch at the first non-finite step with torch.isfinite.",
    ),
    attaches_to_loss_event=True,
    same_event={"divergence": 4, "loss_spike": 4, "nan_inf": 4},
)
