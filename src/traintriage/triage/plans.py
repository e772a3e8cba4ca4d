"""Remediation and validation plans, with values taken from the run.

A plan a person can act on names numbers: "lower peak LR from 2e-3 (logged) to 1e-3", "clip at 1.2:
p95 pre-clip norm", "stop at step 1150: best validation loss 0.146". Each step says what it addresses,
what should change, and its risk; steps are ordered smallest safe change first (risk, then issue
rank). The validation plan says which metrics the next run must improve, with the values to beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..findings import Finding
from ..signals import Series
from .context import RunContext, lr_growth_into, percentile, value_at
from .models import RemediationStep, TriageIssue, ValidationCheck

RISK_ORDER = {"low": 0, "medium": 1, "high": 2}


@dataclass
class Step:
    change: str
    expected_effect: str
    risk: str
    metric: str
    expectation: str


def _g(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def _grad_series(ctx: RunContext) -> Series | None:
    roles = ctx.data.roles
    return ctx.data.get(roles.grad_preclip) or ctx.data.get(roles.grad_total)


def _best_val(ctx: RunContext) -> tuple[str, int, float] | None:
    for name in ctx.data.roles.val_loss:
        s = ctx.data.get(name)
        if s is None or not len(s):
            continue
        finite = np.isfinite(s.values)
        if finite.any():
            i = int(np.nanargmin(np.where(finite, s.values, np.inf)))
            return name, int(s.steps[i]), float(s.values[i])
    return None


RAMP_GROWTH = 3.0
"""An LR at least this many times its earlier minimum where the loss turns was ramping into the failure (an
LR range test left on, a warmup to a peak that is too high): the plan names the LRs the run itself showed."""


def _ramp_cap(ctx: RunContext, start: int | None) -> Step | None:
    """Cap the LR at its value where the loss was lowest, when the LR ramped into the divergence: the run
    measured the safe LR itself, so the plan names it (and the LR at the onset), not a fraction of the peak."""
    loss = ctx.data.get(ctx.data.roles.train_loss)
    growth = lr_growth_into(ctx.lr, start)
    if loss is None or start is None or growth is None or growth < RAMP_GROWTH:
        return None
    before = (loss.steps <= start) & np.isfinite(loss.values)
    if not before.any():
        return None
    i = int(np.argmin(np.where(before, loss.values, np.inf)))
    best_step = int(loss.steps[i])
    lr_best, lr_onset = value_at(ctx.lr, best_step), value_at(ctx.lr, start)
    if lr_best is None or lr_onset is None:
        return None
    lr_name = ctx.data.roles.lr or "the learning rate"
    return Step(
        f"cap {lr_name} at {_g(lr_best)}, its value where {loss.name} was lowest (step {best_step}); it diverged "
        f"from step {start} with the LR at {_g(lr_onset)} ({growth:.3g}x its start): stop the ramp (an LR range "
        f"test left on, or a warmup to a peak too high) at {_g(lr_best)} or below",
        "the LR never reaches the range where this run diverged",
        "low",
        loss.name,
        f"falls steadily past step {start} with {lr_name} <= {_g(lr_best)}",
    )


def steps_for(issue: TriageIssue, anchor: Finding, ctx: RunContext) -> list[Step]:
    """The changes that address ``issue``, most targeted first."""
    code = anchor.code
    cause = issue.root_cause.category
    loss_name = ctx.data.roles.train_loss or "loss"
    start = issue.step_start
    lr_peak = percentile(ctx.lr, 100)
    lr_at = value_at(ctx.lr, start) if start is not None else None
    lr_name = ctx.data.roles.lr or "learning rate"
    grad = _grad_series(ctx)
    grad_p50, grad_p95 = percentile(grad, 50), percentile(grad, 95)
    steps: list[Step] = []
    jump = ctx.lr_jump_near(start)

    if code in ("loss_spike", "divergence", "nan_inf", "oscillation") and cause == "optimizer":
        if jump is not None and jump.ratio > 1:
            steps.append(
                Step(
                    f"remove the LR jump at step {jump.step}: keep {lr_name} at {_g(jump.before)} instead of "
                    f"{_g(jump.after)} (logged), or ramp to it over several hundred steps",
                    "no overshoot at that step; the loss keeps falling through it",
                    "low",
                    loss_name,
                    f"no step above 3x its local median after step {jump.step}",
                )
            )
        elif (ramp := _ramp_cap(ctx, start)) is not None:
            steps.append(ramp)
        elif lr_peak is not None:
            target = lr_peak / (3 if code == "oscillation" else 2)
            steps.append(
                Step(
                    f"lower peak LR from {_g(lr_peak)} (logged) to {_g(target)}",
                    "smaller updates: the loss stops " + ("swinging" if code == "oscillation" else "climbing"),
                    "low",
                    loss_name,
                    "falls steadily with no sustained rise" + (f" after step {start}" if start is not None else ""),
                )
            )
        if grad_p95 is not None and ctx.data.roles.grad_postclip is None:
            steps.append(
                Step(
                    f"clip gradients at {_g(grad_p95)} (p95 of the logged gradient norm; median {_g(grad_p50)})",
                    "rare huge updates are bounded while typical steps are untouched",
                    "low",
                    ctx.data.roles.grad_total or ctx.data.roles.grad_preclip or "grad norm",
                    f"no spike above {_g(grad_p95)} reaches the update",
                )
            )
    if code == "nan_inf" and cause == "numerics":
        steps.append(
            Step(
                f"find the first non-finite op: run the steps before {start} under "
                "torch.autograd.set_detect_anomaly(True); guard log/div with an epsilon; use bf16 or a "
                "GradScaler with fp16",
                "the operation that overflows is named and fixed",
                "low",
                loss_name,
                "finite at every step",
            )
        )
    if code == "stuck_loss":
        steps.append(
            Step(
                f"check the optimizer and scheduler: {lr_name} is {_g(lr_at)} at step {start}; make sure "
                "optimizer.step() runs, parameters require grad and are in the optimizer's param groups",
                "the loss moves again",
                "low",
                loss_name,
                f"changes between consecutive steps after step {start}",
            )
        )
    if code == "plateau":
        if cause == "optimizer" and lr_peak is not None:
            steps.append(
                Step(
                    f"raise peak LR from {_g(lr_peak)} (logged) to {_g(lr_peak * 10)}",
                    "faster progress out of the plateau",
                    "medium",
                    loss_name,
                    f"below its plateau level {_g(_level(ctx, start))} within the same number of steps",
                )
            )
        else:
            steps.append(
                Step(
                    "check the labels and inputs of a few batches by hand (shuffled or corrupted labels keep the "
                    "loss at chance level), then try a 10x larger learning rate on a small subset",
                    "the model can fit a small clean subset; the full run leaves the plateau",
                    "low",
                    loss_name,
                    f"below its plateau level {_g(_level(ctx, start))}",
                )
            )
    if code == "zero_loss":
        steps.append(
            Step(
                f"look for label leakage: the loss reached {_g(_level(ctx, start))} at step {start}; check that "
                "no input feature contains the target and that the loss is computed on logits vs labels",
                "a realistic, non-zero training loss and a validation loss that tracks it",
                "low",
                loss_name,
                "stays clearly above zero; validation loss close to training loss",
            )
        )
    if code == "overfitting":
        best = _best_val(ctx)
        # The finding's own early-stopping point (before the rise it describes) beats the global minimum,
        # which may come after a disruption that ended the overfitting by accident.
        if isinstance(anchor.details.get("best_step"), int) and isinstance(anchor.details.get("best_value"), float):
            best = (anchor.series or (best[0] if best else "validation loss"), anchor.details["best_step"],
                    anchor.details["best_value"])
        if best is not None:
            name, step, value = best
            steps.append(
                Step(
                    f"stop at step {step}: best validation loss {_g(value)} ({name}); keep that checkpoint "
                    "(early stopping with patience of a few evaluations)",
                    "the deployed model is the best one seen",
                    "low",
                    name,
                    f"best value <= {_g(value)}",
                )
            )
            steps.append(
                Step(
                    "add regularization (weight decay 0.01-0.1, dropout) or more / augmented training data",
                    "validation loss keeps falling longer; the train/val gap narrows",
                    "medium",
                    name,
                    f"no sustained rise after step {step}; best below {_g(value)}",
                )
            )
    if code == "curriculum_regression":
        stage = ctx.stage_change_near(start)
        at = stage.step if stage is not None else start
        steps.append(
            Step(
                f"soften the transition at step {at}: mix in the new stage's data gradually (e.g. 10% -> 100% over "
                "a few thousand steps) and re-warm the learning rate briefly",
                "no lasting regression at the transition",
                "medium",
                loss_name,
                f"back to its pre-transition level {_g(_level(ctx, (at or 0) - 1))} after step {at}",
            )
        )
    if code == "heavy_clipping":
        threshold = _clip_threshold(anchor, ctx)
        steps.append(
            Step(
                (
                    f"raise the clip threshold from {_g(threshold)} "
                    if threshold is not None
                    else "raise the clip threshold "
                )
                + f"to about {_g(grad_p95 or grad_p50)} (p95 pre-clip norm), or lower the learning rate",
                "clipping becomes a safety net on rare steps instead of rescaling every update",
                "low",
                ctx.data.roles.grad_preclip or ctx.data.roles.grad_total or "grad norm",
                "clipped on < 10% of steps",
            )
        )
    if code == "dead_component":
        comp = anchor.component or "the component"
        steps.append(
            Step(
                f"the {comp} branch has had (almost) zero gradient"
                + (f" since step {anchor.step_start}" if anchor.step_start is not None else "")
                + ": check it is on the path to the loss (no .detach(), no multiplication by 0, an activation "
                "that fires), and that its parameters are in the optimizer",
                f"{comp} receives gradient and learns",
                "low",
                _component_series(ctx, comp),
                "non-zero on most steps",
            )
        )
    if code == "gradient_imbalance":
        comp = anchor.component or "the component"
        steps.append(
            Step(
                f"rescale {comp}'s output (or its initialization) to the size of its siblings, or give it its own "
                "learning rate",
                f"{comp}'s share of the gradient moves toward the others'",
                "medium",
                _component_series(ctx, comp),
                "within 10x of the median of the other components",
            )
        )
    if code == "vanishing_gradients":
        steps.append(
            Step(
                "add normalization (LayerNorm/BatchNorm) and residual connections, or replace saturating "
                "activations (sigmoid/tanh) with ReLU/GELU; use a fan-in initialization (Kaiming/Xavier)",
                "front layers receive gradients within one or two orders of magnitude of back layers",
                "medium",
                "front-layer grad norm",
                "within 100x of the back layers",
            )
        )
    if code == "exploding_gradients" and cause != "optimizer":
        steps.append(
            Step(
                f"clip gradients at {_g(grad_p50)} (median logged norm) and add normalization or a smaller "
                "initialization scale",
                "norms stay bounded from the first steps",
                "medium",
                ctx.data.roles.grad_total or "grad norm",
                "no growth by orders of magnitude",
            )
        )
    if cause == "data" and code in ("divergence", "loss_spike", "exploding_gradients", "nan_inf"):
        dominant = max(ctx.component_shares.items(), key=lambda kv: kv[1], default=None)
        if issue.has_code("exploding_gradients") and dominant is not None and dominant[1] >= 0.9:
            name, share = dominant
            steps.append(
                Step(
                    f"standardise the inputs that feed {name} (mean 0, std 1 per feature; log-transform counts): "
                    f"it carries {share:.0%} of the squared gradient norm while the learning rate is constant",
                    f"{name}'s gradient norm in line with the other components; no growth",
                    "low",
                    _component_series(ctx, name),
                    "no growth by orders of magnitude; within 10x of the other components",
                )
            )
        else:
            steps.append(
                Step(
                    f"inspect the batches around step {start}: log sample ids and input statistics (mean, std, "
                    "min, max per feature) to find a shifted, corrupted or mislabelled shard",
                    "the bad data is found and fixed or filtered",
                    "low",
                    loss_name,
                    f"no rise at step {start}",
                )
            )
    if code in ("memory_leak", "memory_pressure", "architecture_imbalance"):
        steps.append(
            Step(
                _first_fix(anchor),
                "see the finding's reference page",
                "low" if code == "memory_leak" else "medium",
                anchor.series or code,
                _validation_from_finding(anchor),
            )
        )
    if not steps:
        steps.append(
            Step(
                f"follow the fixes on the {code} reference page (traintriage explain {code}); the evidence above "
                "says which applies",
                "the finding no longer appears",
                "medium",
                anchor.series or anchor.component or code,
                "the finding no longer appears",
            )
        )
    return steps


def _first_fix(f: Finding) -> str:
    fix = f.details.get("first_fix") or f.details.get("fix")
    if isinstance(fix, str) and fix:
        return fix
    return {
        "memory_leak": "stop keeping references to tensors that hold the graph (log loss.item(), not loss; "
        "detach what you accumulate)",
        "memory_pressure": "reduce the batch size or enable activation checkpointing / mixed precision",
        "architecture_imbalance": "rebalance the architecture: " + f.message,
    }.get(f.code, f.message)


def _validation_from_finding(f: Finding) -> str:
    ev = f.evidence[0] if f.evidence else None
    if ev is not None and ev.expected:
        return ev.expected
    return "the finding no longer appears"


def _component_series(ctx: RunContext, component: str) -> str:
    return ctx.data.roles.grad_components.get(component, component)


def _clip_threshold(anchor: Finding, ctx: RunContext) -> float | None:
    for key in ("clip_threshold", "threshold", "max_norm"):
        v = anchor.details.get(key)
        if isinstance(v, int | float):
            return float(v)
    s = ctx.data.get(ctx.data.roles.clip_threshold)
    return percentile(s, 50)


def _level(ctx: RunContext, step: int | None) -> float | None:
    loss = ctx.data.get(ctx.data.roles.train_loss)
    if loss is None or step is None:
        return None
    return value_at(loss, step)


def build_plans(
    issues: list[TriageIssue], anchors: list[Finding], ctx: RunContext
) -> tuple[list[RemediationStep], list[ValidationCheck]]:
    """Ordered remediation (smallest safe change first) and the validation plan, deduplicated."""
    drafted: list[tuple[int, int, Step, int]] = []  # (risk, rank, step, order within issue)
    for issue, anchor in zip(issues, anchors, strict=True):
        for i, step in enumerate(steps_for(issue, anchor, ctx)):
            drafted.append((RISK_ORDER[step.risk], issue.rank, step, i))
    drafted.sort(key=lambda t: (t[0], t[1], t[3]))
    remediation: list[RemediationStep] = []
    validation: list[ValidationCheck] = []
    seen: dict[str, RemediationStep] = {}
    for _, rank, step, _ in drafted:
        if step.change in seen:
            seen[step.change].addresses.append(rank)
            continue
        item = RemediationStep(
            order=len(remediation) + 1,
            change=step.change,
            addresses=[rank],
            expected_effect=step.expected_effect,
            risk=step.risk,  # type: ignore[arg-type]
        )
        seen[step.change] = item
        remediation.append(item)
        check = ValidationCheck(metric=step.metric, expectation=step.expectation, addresses=[rank])
        if not any(v.metric == check.metric and v.expectation == check.expectation for v in validation):
            validation.append(check)
    for issue, anchor in zip(issues, anchors, strict=True):
        validation.append(
            ValidationCheck(
                metric=anchor.series or anchor.component or "findings",
                expectation=f"traintriage no longer reports {', '.join(issue.codes)} on the next run",
                addresses=[issue.rank],
            )
        )
    return remediation, validation
