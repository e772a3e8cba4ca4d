"""The ``analyze_loss`` result: records at the boundary (JSON for agents, MCP structured content)."""

from __future__ import annotations

from typing import Literal

from ...findings import Finding
from ...record import Field, Record
from ...signals import RunInfo


class Phase(Record):
    """One stretch of the loss curve with a single character."""

    kind: Literal["warmup", "fast_descent", "slow_descent", "plateau", "rising"]
    step_start: int
    step_end: int
    start_value: float | None = Field(description="Level (block median) at the start of the phase.")
    end_value: float | None = Field(description="Level (block median) at the end of the phase.")


class ValidationSummary(Record):
    """A validation series: its best point (the early-stopping point) and where it ended."""

    series: str
    points: int
    best_step: int | None
    best_value: float | None
    final_value: float | str | None


class ScheduleSummary(Record):
    """What the LR series says: the context spike / plateau / divergence verdicts were judged in."""

    series: str
    peak: float | None
    warmup_end_step: int | None
    final_fraction_of_peak: float | None
    lr_increases: list[int] = Field(description="Steps where the LR rose >= 1.5x after warmup (bumps, restarts).")
    ramp: bool = Field(description="LR rises over most of the run (no warmup end).")


class LossStatistics(Record):
    series: str
    points: int
    finite_points: int
    first_step: int | None
    last_step: int | None
    initial: float | None = Field(description="Level at the start (median of the first points).")
    final: float | None = Field(description="Level at the end (median of the last points).")
    last_value: float | str | None = Field(description="Last value logged.")
    best: float | None = Field(description="Best loss: a logged value at a logged step, where the rolling median "
                               "is lowest the value nearest that level (not the luckiest minibatch).")
    best_step: int | None
    reduction_pct: float | None = Field(description="100 x (initial - final) / initial.")
    convergence_rate_per_1k: float | None = Field(
        description="Mean decrease of ln(loss) per 1000 steps over the whole run (positive = improving)."
    )
    recent_rate_per_1k: float | None = Field(
        description="Decrease of ln(loss) per 1000 steps over the last quarter (Theil-Sen; positive = improving)."
    )
    noise_level: float | None = Field(
        description="Robust point-to-point noise: relative (0.1 = 10 %) in log space, absolute otherwise."
    )
    log_space: bool = Field(description="Whether ratios were used (all values positive).")
    phases: list[Phase] = Field(default_factory=list)
    validation: list[ValidationSummary] = Field(default_factory=list)
    schedule: ScheduleSummary | None = None


class LossReport(Record):
    """Loss-curve critique of one run: findings with evidence, statistics, and what was read."""

    run: RunInfo
    warnings: list[str]
    series: str = Field(description="The series analysed.")
    findings: list[Finding]
    statistics: LossStatistics
