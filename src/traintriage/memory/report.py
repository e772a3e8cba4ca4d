"""Pydantic models of what ``profile_memory`` and ``estimate_memory`` return.

These are the boundary: the analyses work on numpy arrays and plain tuples, and only the models
here leave the package (JSON for agents, structured MCP content). Byte counts are integers in bytes;
every model that a person reads also carries the human form where it helps (``*_human``).
"""

from __future__ import annotations

from typing import Any, Literal

from ..findings import Finding
from ..record import Field, Record
from ..signals import RunInfo

# ----------------------------------------------------------------------------------------------
# Logged series
# ----------------------------------------------------------------------------------------------


class SeriesMemoryStats(Record):
    """One logged memory series, summarised. Values are in bytes when the unit is known."""

    name: str
    kind: Literal["allocated", "reserved", "max_allocated", "max_reserved", "rss", "other"]
    unit_bytes: int | None = Field(description="Bytes per logged unit (1 for bytes); None when unknown.")
    points: int
    first_step: int | None
    last_step: int | None
    first_value: float | None
    last_value: float | None
    peak_value: float | None
    peak_step: int | None
    slope_per_step: float | None = Field(
        default=None, description="Robust (Theil-Sen) slope after warm-up, in logged units per step."
    )
    fit_r2: float | None = Field(default=None, description="R^2 of a straight line after warm-up.")


# ----------------------------------------------------------------------------------------------
# Profiler traces
# ----------------------------------------------------------------------------------------------


class TimelinePoint(Record):
    time_ms: float = Field(description="Milliseconds from the first memory event.")
    allocated: int
    reserved: int


class DeviceMemory(Record):
    """The memory timeline of one device in a trace (``[memory]`` events' running totals)."""

    device: str = Field(description="'cpu', 'cuda:0', ...")
    memory_events: int
    allocations: int
    bytes_allocated_total: int = Field(description="Sum of all allocation sizes (churn, not a level).")
    peak_allocated: int
    peak_allocated_human: str
    peak_time_ms: float
    peak_op: str | None = Field(description="Operator that made the allocation which reached the peak.")
    peak_step: int | None = Field(description="Profiler step (ProfilerStep#N) in which the peak fell.")
    peak_reserved: int
    final_allocated: int
    live_at_end_bytes: int = Field(
        description="Bytes allocated inside the trace and not freed by its end (leak candidates)."
    )
    timeline: list[TimelinePoint] = Field(description="Downsampled (at most ~200 points), peaks kept.")


class OpAllocation(Record):
    """Allocations attributed to the operator that made them (innermost op that is not a bare allocator)."""

    op: str
    device: str
    allocations: int
    bytes_allocated: int
    bytes_allocated_human: str
    live_at_end_bytes: int = Field(description="Of those bytes, how many were still allocated at the end.")


class StepMemory(Record):
    """Memory per training step, from ProfilerStep#N annotations (or optimizer steps when absent)."""

    step: int
    device: str
    start_ms: float
    end_ms: float
    allocated_at_end: int
    peak_allocated: int


class TraceMemory(Record):
    path: str
    events: int = Field(description="Trace events read (all kinds).")
    memory_events: int
    profile_memory_flag: bool | None = Field(description="The trace's own 'profile_memory' header, if any.")
    step_source: Literal["ProfilerStep", "optimizer_step", "none"]
    devices: list[DeviceMemory]
    steps: list[StepMemory]
    top_ops: list[OpAllocation]
    out_of_memory_events: int


# ----------------------------------------------------------------------------------------------
# CUDA snapshots
# ----------------------------------------------------------------------------------------------


class FrameRef(Record):
    filename: str
    line: int
    name: str

    def __str__(self) -> str:  # pragma: no cover - convenience
        return f"{self.filename}:{self.line}:{self.name}"


class SnapshotDevice(Record):
    device: int
    segments: int
    large_segments: int
    small_segments: int
    reserved: int
    reserved_human: str
    allocated: int
    allocated_human: str
    active: int = Field(description="Allocated plus blocks waiting to be freed (active_pending_free).")
    requested: int = Field(description="Bytes the program asked for; allocated minus rounding.")
    inactive: int = Field(description="Cached, free bytes: reserved minus active.")
    fragmented_inactive: int = Field(
        description="Inactive bytes inside segments that also hold live blocks: cannot be returned by "
        "empty_cache(), and usable only by allocations that fit the gaps."
    )
    largest_free_block: int
    fragmentation: float = Field(description="fragmented_inactive / reserved.")


class BlockInfo(Record):
    device: int
    address: int
    size: int
    size_human: str
    requested_size: int
    state: str
    segment_type: str
    frame: str | None = Field(description="First user frame of the allocation's stack, 'file:line:function'.")


class FrameAllocation(Record):
    frame: str
    bytes: int
    bytes_human: str
    blocks: int


class HistoryEntry(Record):
    index: int
    action: str
    addr: int | None
    size: int
    allocated_after: int | None = Field(description="Allocated bytes after this entry (replayed).")
    time_us: int | None = None
    frame: str | None = None


class SnapshotMemory(Record):
    path: str
    devices: list[SnapshotDevice]
    largest_blocks: list[BlockInfo]
    top_frames: list[FrameAllocation] = Field(description="Live (active_allocated) bytes by allocating frame.")
    history_entries: int
    history_peak_allocated: int | None = Field(
        description="Peak allocated bytes replayed from device_traces (None without a history)."
    )
    history_around_peak: list[HistoryEntry]
    oom_events: list[HistoryEntry]


# ----------------------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------------------


class MemoryReport(Record):
    """What ``profile_memory`` found: findings with evidence, per-artifact statistics, warnings."""

    target: str
    kind: Literal["run", "trace", "snapshot"]
    run: RunInfo | None = Field(default=None, description="What was read, for a logged run.")
    capacity_bytes: int | None
    findings: list[Finding]
    warnings: list[str]
    stats: dict[str, Any] = Field(default_factory=dict, description="Headline numbers, JSON-safe.")
    series: list[SeriesMemoryStats] = Field(default_factory=list)
    trace: TraceMemory | None = None
    snapshot: SnapshotMemory | None = None


class MemoryEstimate(Record):
    """Memory per GPU for training a model: the static part per parameter, the activations per sample."""

    parameters: int
    parameters_source: str = Field(description="'given' or the checkpoint that was counted.")
    optimizer: str
    precision: str
    sharding: str
    gpus: int
    bytes_per_parameter: dict[str, float] = Field(
        description="Unsharded bytes per parameter: weights, gradients, optimizer (incl. fp32 master)."
    )
    weights_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    activations_bytes: int | None = Field(description="None when the transformer shape was not given.")
    activations_per_sample_bytes: int | None
    overhead_bytes: int
    total_bytes: int
    total_human: str
    breakdown_human: dict[str, str]
    capacity_bytes: int | None
    fits: bool | None
    max_batch_size: int | None = Field(
        description="Largest per-GPU micro-batch whose total fits capacity (None without activations or "
        "capacity; 0 when the static part alone does not fit)."
    )
    formulas: list[str] = Field(description="The formulas used, with their sources.")
    notes: list[str]
