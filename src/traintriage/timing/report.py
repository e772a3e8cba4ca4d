"""What the time analyses report: the run's timing context, and a profiler trace's step breakdown.

Plain records with no numpy, so the server can import them at start-up for its tool schemas.
"""

from __future__ import annotations

from typing import Literal

from ..findings import Finding
from ..record import Field, Record


class Throughput(Record):
    series: str
    value: float = Field(description="Median of the logged values after the warm-up.")
    unit: str = Field(description="What is counted per second, read from the name (tokens/s, samples/s...).")


class RecurringPause(Record):
    """Pauses at a regular step period: evaluation or periodic checkpoints, routine and not findings."""

    every_steps: int
    count: int
    median_seconds: float
    kind: str = Field(description="'evaluation' when a validation series is logged at those steps.")


class StepTiming(Record):
    """Time per step and throughput: in every run report's context, whether or not anything is wrong."""

    source: str = Field(description="Where the timing comes from: the wall times of a series, or a logged "
                        "step-time series; 'none' when the run has neither.")
    seconds_per_step: float | None = Field(default=None, description="Median after the warm-up.")
    steps_per_second: float | None = None
    throughput: list[Throughput] = Field(default_factory=list)
    wall_seconds: float | None = Field(default=None, description="Wall time the clock series spans.")
    clocked_steps: int | None = None
    recurring_pauses: list[RecurringPause] = Field(default_factory=list)
    summary: str = Field(description="One line, e.g. '0.26 s/step, 3,900 tokens/s (train/tokens_per_sec)'.")


class StepPhase(Record):
    """Time the profiled steps spent in one kind of work."""

    phase: Literal["data_wait", "other"]
    milliseconds: float
    share: float


class ProfiledStep(Record):
    step: int
    milliseconds: float
    data_wait_ms: float
    data_share: float


class StepProfile(Record):
    """``profile_step``: how a profiled training step spends its time (a time verdict: ``input_bound``)."""

    target: str
    events: int = Field(description="Trace events read.")
    step_source: Literal["ProfilerStep", "optimizer_step"]
    steps: int = Field(description="Profiled steps judged (the first, warm-up, step left out when there are more).")
    step_ms_median: float
    data_wait_ms_median: float
    data_share: float = Field(description="Share of the judged steps' time spent waiting for the next batch.")
    data_ranges: list[str] = Field(description="The names of the events counted as waiting for data.")
    per_step: list[ProfiledStep]
    findings: list[Finding]
    warnings: list[str]
