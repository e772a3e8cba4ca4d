"""What happened around a step: the run's own signals that explain a loss event.

Attribution needs facts the detectors do not report as findings: where the learning rate jumped,
where a curriculum stage changed, what the LR and gradient norms were at a step. These are pure
functions over the run's series, aligned by step (never by index: series are logged on different
grids).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bottleneck as bn
import numpy as np

from ..signals import RunData, Series


@dataclass(frozen=True)
class LRChange:
    """A jump of the learning rate between two consecutive logged points (not a smooth schedule)."""

    step: int
    before: float
    after: float

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before > 0 else float("inf")


@dataclass(frozen=True)
class StageChange:
    step: int
    before: float
    after: float


def lr_changes(lr: Series | None, *, min_ratio: float = 1.5) -> list[LRChange]:
    """Abrupt LR changes: one logged interval whose ratio exceeds ``min_ratio`` both ways and is
    several times larger than the schedule's typical per-interval change (warmup and cosine move the
    LR every step, but smoothly)."""
    if lr is None or len(lr) < 3:
        return []
    values = lr.values
    finite = np.isfinite(values)
    if not finite.all():
        values = np.where(finite, values, np.nan)
    prev, nxt = values[:-1], values[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.abs(np.log(nxt / prev))
    log_ratio = np.where(np.isfinite(log_ratio), log_ratio, np.where((prev > 0) != (nxt > 0), np.inf, 0.0))
    typical = float(bn.median(log_ratio)) if log_ratio.size else 0.0
    threshold = max(np.log(min_ratio), 5 * typical)
    out = []
    for i in np.flatnonzero(log_ratio > threshold):
        out.append(LRChange(step=int(lr.steps[i + 1]), before=float(prev[i]), after=float(nxt[i])))
    return out


def stage_changes(stage: Series | None) -> list[StageChange]:
    if stage is None or len(stage) < 2:
        return []
    v = stage.values
    idx = np.flatnonzero(v[1:] != v[:-1])
    return [StageChange(int(stage.steps[i + 1]), float(v[i]), float(v[i + 1])) for i in idx if np.isfinite(v[i + 1])]


def value_at(series: Series | None, step: int) -> float | None:
    """The last value logged at or before ``step`` (the value in force then), else the first after."""
    if series is None or len(series) == 0:
        return None
    i = int(np.searchsorted(series.steps, step, side="right")) - 1
    return float(series.values[max(i, 0)])


def peak(series: Series | None) -> tuple[int, float] | None:
    if series is None or len(series) == 0:
        return None
    finite = np.isfinite(series.values)
    if not finite.any():
        return None
    i = int(np.nanargmax(np.where(finite, series.values, -np.inf)))
    return int(series.steps[i]), float(series.values[i])


def percentile(series: Series | None, q: float) -> float | None:
    if series is None or len(series) == 0:
        return None
    finite = series.values[np.isfinite(series.values)]
    return float(np.percentile(finite, q)) if finite.size else None


def step_tolerance(data: RunData) -> int:
    """How close in steps two events must be to count as the same event: a few logged points of the
    training loss (or 1% of the run), so runs logged every step and every 50 steps both work."""
    loss = data.get(data.roles.train_loss)
    if loss is None or len(loss) < 2:
        return 5
    interval = float(bn.median(np.diff(loss.steps)))
    span = int(loss.steps[-1] - loss.steps[0])
    return int(max(3 * interval, 0.01 * span, 1))


def lr_growth_into(lr: Series | None, step: int | None) -> float | None:
    """How many times larger the LR is at ``step`` than its smallest value earlier in the run: a ramp
    (an LR range test left on, a warmup to a peak that is too high) shows as a large ratio."""
    if lr is None or step is None or len(lr) < 3:
        return None
    upto = lr.values[lr.steps <= step]
    upto = upto[np.isfinite(upto) & (upto > 0)]
    if upto.size < 2:
        return None
    return float(upto[-1] / upto.min())


DIED_FRACTION = 1e-3
"""A component whose gradient norm falls below a thousandth of its earlier median gets no gradient any more:
its units died (ReLUs that never fire again), whatever the logging precision."""


@dataclass
class RunContext:
    """Everything attribution looks up, computed once per run.

    ``component_shares`` (median squared-norm share per gradient component) comes from the gradient
    analysis when it ran.
    """

    data: RunData
    lr: Series | None
    lr_jumps: list[LRChange]
    stages: list[StageChange]
    tolerance: int
    component_shares: dict[str, float] = field(default_factory=dict)
    findings: list = field(default_factory=list)
    """Every finding of the run (plans read the configured values a ``hyperparameter_risk`` finding names)."""

    @classmethod
    def of(cls, data: RunData) -> RunContext:
        lr = data.get(data.roles.lr)
        return cls(
            data=data,
            lr=lr,
            lr_jumps=lr_changes(lr),
            stages=stage_changes(data.get(data.roles.stage)),
            tolerance=step_tolerance(data),
        )

    def lr_jump_near(self, step: int | None) -> LRChange | None:
        """An abrupt LR change at or shortly before ``step`` (causes precede effects)."""
        if step is None:
            return None
        near = [c for c in self.lr_jumps if step - 2 * self.tolerance <= c.step <= step + self.tolerance // 2]
        return max(near, key=lambda c: abs(np.log(max(c.ratio, 1e-12))), default=None)

    def components_died_at(self, step: int | None) -> list[tuple[str, float, float]]:
        """Gradient components whose norm fell to (near) zero from around ``step`` on: ``(name, median before,
        median after)`` for those whose median after is below ``DIED_FRACTION`` of the median before."""
        if step is None:
            return []
        out = []
        for name, series_name in self.data.roles.grad_components.items():
            s = self.data.get(series_name)
            if s is None or len(s) < 4:
                continue
            ok = np.isfinite(s.values)
            before = s.values[ok & (s.steps < step - self.tolerance)]
            after = s.values[ok & (s.steps > step)]
            if before.size < 2 or after.size < 2:
                continue
            b, a = float(bn.median(before)), float(bn.median(after))
            if b > 0 and a <= DIED_FRACTION * b:
                out.append((name, b, a))
        return out

    def stage_change_near(self, step: int | None) -> StageChange | None:
        if step is None:
            return None
        near = [c for c in self.stages if step - 2 * self.tolerance <= c.step <= step + self.tolerance]
        return min(near, key=lambda c: abs(c.step - step), default=None)
