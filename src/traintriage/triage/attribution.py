"""Attribute each issue to its most likely root cause, from the evidence around it.

Each rule looks for independent signals (an LR jump just before the event, a gradient spike at the
same steps, a curriculum stage change, NaN first in the gradients, a component with no gradient,
memory growth) and proposes a category with a weight per signal. Confidence combines the weights of
the signals that agree, ``1 - prod(1 - w)``, so two moderate, independent signals beat one, and no
amount of agreement reaches certainty (capped at 0.95). When nothing specific is seen, the code's
usual cause is given with a low confidence and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..findings import Finding
from .context import RunContext, lr_growth_into, percentile, value_at
from .issues import IssueDraft
from .models import Category, RootCause

MAX_CONFIDENCE = 0.95


@dataclass
class Hypothesis:
    category: Category
    explanation: str
    signals: list[tuple[str, float]] = field(default_factory=list)

    def add(self, signal: str, weight: float) -> Hypothesis:
        self.signals.append((signal, weight))
        return self

    @property
    def confidence(self) -> float:
        miss = 1.0
        for _, w in self.signals:
            miss *= 1.0 - w
        return round(min(1.0 - miss, MAX_CONFIDENCE), 2)

    def root_cause(self) -> RootCause:
        return RootCause(
            category=self.category,
            explanation=self.explanation,
            confidence=self.confidence,
            signals=[s for s, _ in self.signals],
        )


def _g(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def attribute(issue: IssueDraft, ctx: RunContext, all_findings: list[Finding]) -> RootCause:
    """The best-supported hypothesis for ``issue``."""
    hypotheses = [h for h in _hypotheses(issue, ctx, all_findings) if h.signals]
    if not hypotheses:
        return RootCause(
            category="unknown",
            explanation="No signal in the logs points to a cause; see the reference page of "
            + ", ".join(issue.codes)
            + " for the usual ones.",
            confidence=0.2,
        )
    return max(hypotheses, key=lambda h: h.confidence).root_cause()


def _hypotheses(issue: IssueDraft, ctx: RunContext, all_findings: list[Finding]) -> list[Hypothesis]:
    anchor = issue.anchor
    code = anchor.code
    start = issue.step_start
    out: list[Hypothesis] = []
    lr_jump = ctx.lr_jump_near(start)
    stage = ctx.stage_change_near(start)
    lr_now = value_at(ctx.lr, start) if start is not None else None
    lr_peak = percentile(ctx.lr, 100)

    # --- optimizer: LR jumps, LR too high / zero / too low, gradient instability -----------------
    optimizer = Hypothesis("optimizer", "")
    if lr_jump is not None and lr_jump.ratio > 1:
        optimizer.explanation = (
            f"The learning rate jumped from {_g(lr_jump.before)} to {_g(lr_jump.after)} at step {lr_jump.step}, "
            f"just before the {code.replace('_', ' ')} at step {start}: the optimizer overshoots."
        )
        optimizer.add(f"LR x{lr_jump.ratio:.3g} at step {lr_jump.step}", 0.7)
    # A gradient spike is independent evidence only when it stands alone: inside an exploding trend it
    # is a consequence of the growth, whatever caused that.
    if issue.has("gradient_spike") and not issue.has("exploding_gradients") and code in (
        "loss_spike",
        "divergence",
        "nan_inf",
    ):
        optimizer.add("gradient-norm spike at the same steps", 0.35)
        optimizer.explanation = optimizer.explanation or (
            f"The gradient norm spiked at the same steps as the {code.replace('_', ' ')}: an unstable update "
            "(learning rate too high for that batch, or no clipping)."
        )
    if code == "stuck_loss" and lr_now is not None and lr_now == 0:
        optimizer.add(f"learning rate is 0 at step {start}", 0.85)
        optimizer.explanation = f"The learning rate is 0 from step {start}: the optimizer makes no updates."
    if code == "plateau" and lr_peak is not None and lr_peak <= 1e-5:
        optimizer.add(f"peak learning rate only {_g(lr_peak)}", 0.6)
        optimizer.explanation = (
            f"The learning rate never exceeds {_g(lr_peak)}: updates are too small to make progress."
        )
    ramp = lr_growth_into(ctx.lr, start) if code in ("divergence", "nan_inf", "loss_spike") else None
    if lr_jump is None and ramp is not None and ramp >= 3:
        optimizer.add(f"LR grew {ramp:.3g}x before step {start}", 0.6)
        optimizer.explanation = (
            f"The learning rate rose {ramp:.3g}x (to {_g(value_at(ctx.lr, start))}) before the "
            f"{code.replace('_', ' ')} at step {start}: past some value the optimizer overshoots."
        )
    if code in ("divergence", "nan_inf", "oscillation") and lr_jump is None:
        grows = _grad_growth(issue, all_findings, start)
        if grows:
            optimizer.add(grows, 0.45)
        if code == "oscillation":
            optimizer.add("loss swings up and down with no net progress", 0.5)
        if any(f.code == "heavy_clipping" for f in all_findings):
            optimizer.add("clipping active on most steps: updates are routinely too large", 0.25)
        if optimizer.signals and not optimizer.explanation:
            optimizer.explanation = (
                f"The learning rate ({_g(lr_peak)} at peak) is too high for this model and data: "
                f"updates overshoot and the loss {'swings' if code == 'oscillation' else 'climbs'}."
            )
    if code == "heavy_clipping":
        optimizer.add("clipping rescales most updates", 0.6)
        optimizer.explanation = (
            "Gradient clipping is active on most steps: the clip threshold is far below the typical gradient "
            "norm (or the learning rate is too high), so clipping, not the optimizer, sets the step size."
        )
    if code == "exploding_gradients" and not _starts_at_beginning(issue, ctx):
        optimizer.add("gradient norm grew during training", 0.45)
        optimizer.explanation = (
            "Gradient norms grew by orders of magnitude during training: the learning rate is too high, "
            "or nothing (clipping, normalization) bounds the updates."
        )
    out.append(optimizer)

    # --- curriculum ------------------------------------------------------------------------------
    if stage is not None:
        curriculum = Hypothesis(
            "curriculum",
            f"The curriculum moved from stage {stage.before:g} to {stage.after:g} at step {stage.step}, "
            f"where the {code.replace('_', ' ')} begins: the new stage's data is harder or differently "
            "distributed and the model has not adapted.",
        )
        curriculum.add(f"stage change at step {stage.step}", 0.8 if code == "curriculum_regression" else 0.6)
        out.append(curriculum)
    elif code == "curriculum_regression":
        out.append(
            Hypothesis(
                "curriculum",
                f"The loss regressed at a transition at step {start} and did not return to its earlier level.",
            ).add("regression at a transition", 0.6)
        )

    # --- numerics --------------------------------------------------------------------------------
    if code == "nan_inf" or issue.has("nan_inf"):
        nan_findings = [f for f in issue.findings if f.code == "nan_inf"]
        first = min(nan_findings, key=lambda f: f.step_start if f.step_start is not None else 1 << 62)
        in_grads = first.component is not None or "grad" in (first.series or "").lower()
        numerics = Hypothesis(
            "numerics",
            f"Non-finite values appear first in {'the gradients' if in_grads else 'the loss'} "
            f"({first.series or first.component}) at step {first.step_start}"
            + (
                ": an overflow in the backward pass (large activations, fp16 without loss scaling)."
                if in_grads
                else ": the loss itself produced NaN/Inf (log of 0, division by 0, or an overflow in the forward)."
            ),
        )
        numerics.add(f"NaN/Inf first in {first.series or first.component}", 0.5)
        if not optimizer.signals:
            numerics.add("no learning-rate or gradient growth before it", 0.2)
        out.append(numerics)

    # --- architecture / initialization: components with no or tiny gradient -------------------------
    if code in ("dead_component", "gradient_imbalance", "vanishing_gradients", "exploding_gradients"):
        component = anchor.component or "a component"
        if code == "dead_component":
            since = anchor.step_start
            out.append(
                Hypothesis(
                    "architecture",
                    f"{component} receives (almost) no gradient"
                    + (f" since step {since}" if since is not None else "")
                    + ": it is cut off from the loss (detached, multiplied by zero, an activation that never "
                    "fires, or its parameters are not in the optimizer).",
                ).add(f"{component} gradient below the floor on most steps", 0.75)
            )
        elif code == "gradient_imbalance":
            out.append(
                Hypothesis(
                    "architecture",
                    f"{component}'s share of the gradient is out of proportion to its siblings: its output is "
                    "scaled (or initialised) far from the others, so it barely learns or dominates the update.",
                ).add("gradient share far from the other components", 0.6)
            )
        elif code == "vanishing_gradients":
            out.append(
                Hypothesis(
                    "architecture",
                    "Front layers get gradients orders of magnitude smaller than back layers: saturating "
                    "activations (sigmoid/tanh) or a deep stack without normalization or residuals shrink the "
                    "signal on its way back.",
                ).add("front layers orders of magnitude below back layers", 0.65)
            )
        elif _starts_at_beginning(issue, ctx):
            out.append(
                Hypothesis(
                    "initialization",
                    "Gradient norms are huge from the first steps: the initialization scale (or a deep stack "
                    "without normalization) amplifies the signal layer after layer.",
                ).add("gradient norm huge from the start", 0.6)
            )

    # --- data --------------------------------------------------------------------------------------
    dominant = _dominant_component(ctx)
    explodes = code == "exploding_gradients" or issue.has("exploding_gradients")
    if explodes and dominant is not None and lr_jump is None and not (ramp is not None and ramp >= 3):
        name, share = dominant
        out.append(
            Hypothesis(
                "data",
                f"The growth comes from one component, {name} ({share:.0%} of the squared gradient norm), under a "
                "constant learning rate: an input on a far larger scale than the rest (an unstandardised "
                "feature, raw counts, unnormalised targets) gives that part of the model a curvature the "
                "learning rate cannot handle.",
            )
            .add(f"{name} holds {share:.0%} of the gradient norm", 0.45)
            .add("no learning-rate change before the growth", 0.3)
        )
    if code == "zero_loss":
        out.append(
            Hypothesis(
                "data",
                "The loss reaches (almost) zero: the model can read the answer from its inputs (label leakage), "
                "or the loss is computed on the wrong tensors.",
            ).add("loss at or near zero", 0.6)
        )
    if code == "overfitting":
        best = anchor.step_start
        out.append(
            Hypothesis(
                "data",
                "Validation loss rises while training loss keeps falling"
                + (f" after step {best}" if best is not None else "")
                + ": the model memorises a training set that is too small (or too easy) for its capacity.",
            ).add("validation loss rising while training loss falls", 0.6)
        )
    if code == "plateau" and not optimizer.signals:
        chance = "chance" in (anchor.message + anchor.title).lower()
        data = Hypothesis(
            "data",
            "The loss stalls"
            + (" at chance level" if chance else "")
            + " while gradients flow: the labels carry little signal the model can use (corrupted, shuffled or "
            "misaligned labels), or the task is too hard for the model.",
        )
        data.add("plateau" + (" at chance level" if chance else ""), 0.45 if chance else 0.3)
        out.append(data)
    if code in ("divergence", "loss_spike") and not optimizer.signals and stage is None:
        out.append(
            Hypothesis(
                "data",
                f"The loss rose at step {start} with no learning-rate change or gradient instability before it: "
                "the data changed (a shifted distribution, a bad shard, corrupted batches).",
            ).add("no optimizer signal at the event", 0.35)
        )
    if code == "stuck_loss" and not optimizer.signals:
        out.append(
            Hypothesis(
                "pipeline",
                "The loss is identical step after step while the learning rate is not zero: the optimizer "
                "does not update the model (optimizer.step() skipped, parameters frozen, or the same batch "
                "and eval mode every step).",
            ).add("loss constant with a non-zero learning rate", 0.5)
        )

    # --- memory and parameters -------------------------------------------------------------------
    if code in ("memory_leak", "memory_pressure"):
        out.append(
            Hypothesis(
                "memory",
                anchor.message,
            ).add(anchor.title, 0.75)
        )
    if code == "architecture_imbalance":
        out.append(Hypothesis("architecture", anchor.message).add(anchor.title, 0.8))
    return out


def _dominant_component(ctx: RunContext) -> tuple[str, float] | None:
    """The component holding >= 90% of the squared gradient norm, if one does (and there are others)."""
    if len(ctx.component_shares) < 2:
        return None
    name, share = max(ctx.component_shares.items(), key=lambda kv: kv[1])
    return (name, share) if share >= 0.9 else None


def _starts_at_beginning(issue: IssueDraft, ctx: RunContext) -> bool:
    start = issue.step_start
    loss = ctx.data.get(ctx.data.roles.train_loss)
    first = int(loss.steps[0]) if loss is not None and len(loss) else 0
    return start is not None and start <= first + 2 * ctx.tolerance


def _grad_growth(issue: IssueDraft, all_findings: list[Finding], start: int | None) -> str | None:
    for f in all_findings:
        if f.code == "exploding_gradients":
            return f"gradient norms exploding from step {f.step_start}"
    for f in issue.findings:
        if f.code == "gradient_spike":
            return f"gradient spike at step {f.step_start}"
    return None
