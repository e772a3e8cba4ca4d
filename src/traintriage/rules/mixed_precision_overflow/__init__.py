"""``mixed_precision_overflow``: fp16 loss scaling keeps overflowing: the loss scale keeps falling, steps are
skipped.

Detectors: :func:`traintriage.detectors.messages.scale_verdict` (a logged loss-scale series, role
``loss_scale``) and :func:`traintriage.detectors.messages.overflow_message_findings` (apex, DeepSpeed and
fairseq overflow messages). Thresholds in ``thresholds.py``, explained in ``reference.md``. The cause is
numerics, also when the finding joins a NaN or a spike at the same steps; the plan moves to bf16, lowers the
LR, clips after unscaling and locates the layer that overflows.
"""

from __future__ import annotations

from ..base import Cause, Rule, Signal, Step, fmt


def _scale_fell(s) -> str | None:
    f = next((f for f in s.issue.findings if f.code == "mixed_precision_overflow" and f.severity != "info"), None)
    if f is None:
        return None
    low = f.details.get("min_scale")
    return f"loss scale down to {fmt(low)}, {f.details.get('skipped_steps')} skipped step(s)"


def _explain(s, fired) -> str:
    f = next(f for f in s.issue.findings if f.code == "mixed_precision_overflow")
    low = fmt(f.details.get("min_scale"))
    return (f"fp16 gradients overflow step after step: the dynamic loss scale fell to {low} "
            f"and {f.details.get('skipped_steps')} optimizer step(s) were skipped. Activations or gradients exceed "
            "fp16's range (65504) at their true size: a learning rate too high, unnormalised inputs, or one layer "
            "whose outputs grow.")


OVERFLOW = Cause(
    "numerics",
    _explain,
    (
        Signal(
            "loss_scale_fell",
            0.75,
            "A loss scale pushed down to a tiny value, or far below where it settled, is measured: fp16 cannot "
            "hold the gradients. Why they grew (LR, inputs, one layer) is for the plan, hence not higher.",
            _scale_fell,
        ),
    ),
    also_when_attached=True,
)


def _plan(s) -> list[Step]:
    if s.cause != "numerics":
        return []
    lr = s.lr_peak
    metric = s.anchor.series or "loss scale"
    steps = [
        Step("train in bf16 instead of fp16 (torch.autocast(device_type, dtype=torch.bfloat16), no GradScaler; "
             "HF: bf16=True; DeepSpeed: \"bf16\": {\"enabled\": true}) where the hardware has it",
             "bf16 has fp32's range: nothing overflows, no step is skipped", "low", metric,
             "no overflow message; no skipped step"),
    ]
    if lr is not None:
        steps.append(Step(f"lower the peak LR from {fmt(lr)} (logged) to {fmt(lr / 2)}",
                          "smaller updates keep activations and gradients inside fp16's range", "low", s.loss_name,
                          "falls with the loss scale steady"))
    steps += [
        Step("clip gradients after unscaling: scaler.scale(loss).backward(); scaler.unscale_(optimizer); "
             "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); scaler.step(optimizer); scaler.update()",
             "the clip acts on the true gradients, not on scaled ones", "low", metric,
             f"stays above {fmt(1.0)} and within 4x of where it settles"),
        Step("locate the layer that overflows: after scaler.unscale_(optimizer), log the names of parameters whose "
             "grad is not finite (torch.isfinite(p.grad).all()), or run one step under "
             "torch.autograd.set_detect_anomaly(True)",
             "the layer is named; normalise its input or keep it in fp32 (autocast(enabled=False))", "low", metric,
             "no overflow after the fix"),
    ]
    return steps


RULE = Rule(
    code="mixed_precision_overflow",
    meaning="fp16 loss scaling keeps overflowing: the loss scale keeps falling, steps are skipped",
    area="gradients",
    default_severity="warning",
    anchor_rank=117,
    detectors=(
        "traintriage.detectors.messages:scale_verdict",
        "traintriage.detectors.messages:overflow_message_findings",
    ),
    causes=(OVERFLOW,),
    plan=_plan,
    attaches_to_loss_event=True,
)
