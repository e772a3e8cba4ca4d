"""The facts a rule reads about one issue: the numeric side of attribution and planning.

Rules (:mod:`traintriage.rules`) say *what* supports a cause and *what* to change; a scene answers
their questions about the run (the LR at the issue's start, a jump just before it, the p95 gradient
norm), aligned by step, computed once and cached. Rules stay free of numpy; scenes hold it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..findings import Finding
from ..signals import Series
from .context import LRChange, RunContext, StageChange, lr_growth_into, percentile, value_at
from .issues import IssueDraft
from .models import TriageIssue

DOMINANT_SHARE = 0.9
"""A component holding at least this share of the squared gradient norm (with siblings beside it)
dominates the update: its inputs, not the optimizer, set the scale."""


def fmt(x: float | None) -> str:
    """A number as plans and explanations print it: three significant digits, ``n/a`` when unknown."""
    return "n/a" if x is None else f"{x:.3g}"


@dataclass
class AttributionScene:
    """One issue in its run, as the cause signals see it."""

    issue: IssueDraft
    ctx: RunContext
    all_findings: list[Finding]
    fired: dict[str, bool] = field(default_factory=dict)
    """Categories of the causes weighed so far, and whether any of their signals fired."""

    @cached_property
    def anchor(self) -> Finding:
        return self.issue.anchor

    @property
    def code(self) -> str:
        return self.anchor.code

    @property
    def code_words(self) -> str:
        """The anchor's code as words, for explanations ("loss spike")."""
        return self.code.replace("_", " ")

    @property
    def start(self) -> int | None:
        return self.issue.step_start

    @cached_property
    def lr_jump(self) -> LRChange | None:
        """An abrupt LR change at or shortly before the issue's start."""
        return self.ctx.lr_jump_near(self.start)

    @cached_property
    def stage(self) -> StageChange | None:
        """A curriculum stage change near the issue's start."""
        return self.ctx.stage_change_near(self.start)

    @cached_property
    def lr_now(self) -> float | None:
        return value_at(self.ctx.lr, self.start) if self.start is not None else None

    @cached_property
    def lr_peak(self) -> float | None:
        return percentile(self.ctx.lr, 100)

    @cached_property
    def lr_growth(self) -> float | None:
        """How many times its earlier minimum the LR is at the start (a ramp into the failure)."""
        return lr_growth_into(self.ctx.lr, self.start)

    def has(self, code: str) -> bool:
        return self.issue.has(code)

    def has_signals(self, category: str) -> bool:
        """Whether a cause of ``category`` weighed before this one had a signal."""
        return self.fired.get(category, False)

    def any_finding(self, code: str) -> Finding | None:
        """A finding of ``code`` anywhere in the run, not only in this issue."""
        return next((f for f in self.all_findings if f.code == code), None)

    @cached_property
    def starts_at_beginning(self) -> bool:
        """The issue starts within a couple of tolerances of the training loss's first step."""
        loss = self.ctx.data.get(self.ctx.data.roles.train_loss)
        first = int(loss.steps[0]) if loss is not None and len(loss) else 0
        return self.start is not None and self.start <= first + 2 * self.ctx.tolerance

    @cached_property
    def dominant_component(self) -> tuple[str, float] | None:
        """The component holding >= ``DOMINANT_SHARE`` of the squared gradient norm, when there are others."""
        shares = self.ctx.component_shares
        if len(shares) < 2:
            return None
        name, share = max(shares.items(), key=lambda kv: kv[1])
        return (name, share) if share >= DOMINANT_SHARE else None

    @cached_property
    def first_nan(self) -> Finding | None:
        """The issue's earliest NaN/Inf finding."""
        nans = [f for f in self.issue.findings if f.code == "nan_inf"]
        return min(nans, key=lambda f: f.step_start if f.step_start is not None else 1 << 62) if nans else None


@dataclass
class PlanScene:
    """One ranked issue, its anchor and its root cause, as the plan templates see them."""

    issue: TriageIssue
    anchor: Finding
    ctx: RunContext

    @property
    def code(self) -> str:
        return self.anchor.code

    @property
    def cause(self) -> str:
        return self.issue.root_cause.category

    @property
    def start(self) -> int | None:
        return self.issue.step_start

    @property
    def loss_name(self) -> str:
        return self.ctx.data.roles.train_loss or "loss"

    @property
    def lr_name(self) -> str:
        return self.ctx.data.roles.lr or "learning rate"

    @cached_property
    def lr_peak(self) -> float | None:
        return percentile(self.ctx.lr, 100)

    @cached_property
    def lr_at_start(self) -> float | None:
        return value_at(self.ctx.lr, self.start) if self.start is not None else None

    @cached_property
    def lr_jump(self) -> LRChange | None:
        return self.ctx.lr_jump_near(self.start)

    @cached_property
    def grad(self) -> Series | None:
        """The gradient norm clipping would see: pre-clip when logged, else the total."""
        roles = self.ctx.data.roles
        return self.ctx.data.get(roles.grad_preclip) or self.ctx.data.get(roles.grad_total)

    @cached_property
    def grad_p50(self) -> float | None:
        return percentile(self.grad, 50)

    @cached_property
    def grad_p95(self) -> float | None:
        return percentile(self.grad, 95)

    @property
    def roles(self):
        return self.ctx.data.roles

    def has_code(self, code: str) -> bool:
        return self.issue.has_code(code)

    def level(self, step: int | None) -> float | None:
        """The training loss in force at ``step``."""
        loss = self.ctx.data.get(self.ctx.data.roles.train_loss)
        if loss is None or step is None:
            return None
        return value_at(loss, step)

    def component_series(self, component: str) -> str:
        return self.ctx.data.roles.grad_components.get(component, component)

    def clip_threshold(self) -> float | None:
        """The clip threshold the finding saw, else the logged one's median."""
        for key in ("clip_threshold", "threshold", "max_norm"):
            v = self.anchor.details.get(key)
            if isinstance(v, int | float):
                return float(v)
        return percentile(self.ctx.data.get(self.ctx.data.roles.clip_threshold), 50)

    def best_validation(self) -> tuple[str, int, float] | None:
        """The first validation loss's best (lowest finite) point: (series, step, value)."""
        for name in self.ctx.data.roles.val_loss:
            s = self.ctx.data.get(name)
            if s is None or not len(s):
                continue
            finite = np.isfinite(s.values)
            if finite.any():
                i = int(np.nanargmin(np.where(finite, s.values, np.inf)))
                return name, int(s.steps[i]), float(s.values[i])
        return None

    def stage_step(self) -> int | None:
        """The step of the curriculum stage change near the issue, else its start."""
        stage = self.ctx.stage_change_near(self.start)
        return stage.step if stage is not None else self.start

    def lowest_loss_before(self, step: int) -> tuple[int, float] | None:
        """Where the training loss was lowest up to ``step``: (step, LR then)."""
        loss = self.ctx.data.get(self.ctx.data.roles.train_loss)
        if loss is None:
            return None
        before = (loss.steps <= step) & np.isfinite(loss.values)
        if not before.any():
            return None
        i = int(np.argmin(np.where(before, loss.values, np.inf)))
        best_step = int(loss.steps[i])
        lr_best = value_at(self.ctx.lr, best_step)
        return None if lr_best is None else (best_step, lr_best)

    def lr_growth(self) -> float | None:
        return lr_growth_into(self.ctx.lr, self.start)

    def lr_value_at(self, step: int) -> float | None:
        return value_at(self.ctx.lr, step)

    def dominant_component(self) -> tuple[str, float] | None:
        """The component with the largest share, when it holds >= ``DOMINANT_SHARE``."""
        dominant = max(self.ctx.component_shares.items(), key=lambda kv: kv[1], default=None)
        return dominant if dominant is not None and dominant[1] >= DOMINANT_SHARE else None
