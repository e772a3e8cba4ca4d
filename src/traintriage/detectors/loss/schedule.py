"""What the learning-rate schedule explains: warmup, decay, restarts and abrupt LR bumps.

A loss that rises while the LR warms up, or flattens while a cosine schedule decays the LR to
nothing, is the schedule doing its job; a loss that jumps right after the LR was bumped is a real
spike, and the bump is its most likely cause. The detectors ask this module which case they are in
and cite the LR as evidence, so ``correlate`` can attribute the finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# An LR increase of at least this factor from one logged point to the next, after warmup, is a bump
# (a manual change, a restart, a wrong resume); warmup ramps move far less per logged step.
BUMP_RATIO = 1.5
# A run whose LR rose over its first part and then stopped rising had a warmup; an LR still rising
# over most of the run is a ramp (an LR range test left in), not a warmup, and excuses nothing.
MAX_WARMUP_FRACTION = 0.5


@dataclass
class LRChange:
    step: int
    before: float
    after: float


@dataclass
class Schedule:
    """The LR schedule as read from the LR series (everything None/empty when there is none)."""

    name: str | None = None
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    peak: float | None = None
    warmup_end: int | None = None  # first step at the peak after a rising start
    bumps: list[LRChange] = field(default_factory=list)
    ramp: bool = False  # LR rising over most of the run

    @property
    def known(self) -> bool:
        return self.steps.size > 0

    def lr_at(self, step: int) -> float | None:
        """LR in effect at ``step`` (last logged value at or before it)."""
        if not self.known:
            return None
        i = int(np.searchsorted(self.steps, step, side="right")) - 1
        return float(self.values[max(i, 0)])

    def in_warmup(self, step: int) -> bool:
        return self.warmup_end is not None and step <= self.warmup_end

    def decayed_fraction(self, step: int) -> float | None:
        """LR at ``step`` as a fraction of the peak (1.0 at the peak, near 0 at the end of a cosine)."""
        lr = self.lr_at(step)
        if lr is None or not self.peak:
            return None
        return lr / self.peak

    def bump_near(self, step: int, before: int, after: int = 0) -> LRChange | None:
        """An LR bump in ``[step - before, step + after]`` (the latest one), if any."""
        hits = [b for b in self.bumps if step - before <= b.step <= step + after]
        return hits[-1] if hits else None


def read_schedule(name: str | None, steps: np.ndarray | None, values: np.ndarray | None) -> Schedule:
    """Read warmup, peak, bumps and ramps from an LR series (an empty :class:`Schedule` when there is none).

    Warmup: the LR rises by at least 2x from its first value and reaches 98 % of its peak before
    half of the run. Bump: after warmup, a rise of at least ``BUMP_RATIO`` between consecutive logged
    points. Ramp: the LR keeps rising (Kendall-like share of rising steps) past half of the run.
    """
    if name is None or steps is None or values is None:
        return Schedule()
    ok = np.isfinite(values)
    steps, values = np.asarray(steps)[ok], np.asarray(values, dtype=np.float64)[ok]
    if steps.size == 0:
        return Schedule()
    sched = Schedule(name=name, steps=steps, values=values, peak=float(values.max()))
    n = steps.size
    if n < 3 or sched.peak <= 0:
        return sched
    span = steps[-1] - steps[0]
    i_peak = int(np.argmax(values >= 0.98 * sched.peak))
    # warmup and ramps rise over many logged points; a one-off jump to the peak is a bump, not a ramp
    rising_start = values[0] <= 0.5 * sched.peak and int(np.count_nonzero(np.diff(values[: i_peak + 1]) > 0)) >= 3
    if rising_start and i_peak > 0:
        if span > 0 and (steps[i_peak] - steps[0]) <= MAX_WARMUP_FRACTION * span:
            sched.warmup_end = int(steps[i_peak])
        else:
            sched.ramp = True
    start = i_peak if sched.warmup_end is not None else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = values[start + 1 :] / values[start:-1]
    for j in np.flatnonzero(ratio >= BUMP_RATIO):
        k = start + 1 + int(j)
        sched.bumps.append(LRChange(int(steps[k]), float(values[k - 1]), float(values[k])))
    return sched
