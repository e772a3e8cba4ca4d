"""``slow_steps``: the time per step rises and stays >= 1.5x its earlier level (a throughput regression).

Detector: :func:`traintriage.timing.walltime.analyze_time`, on the wall times the logger stamped (or a
logged step-time series). ``correlate`` asks whether a logged data-loading time explains the rise (the
input pipeline), whether memory grew meanwhile (an allocator under pressure), and otherwise leaves the
host or the compute as the suspects.
"""

from __future__ import annotations

from ..base import Cause, Diagnosis, Rule, Signal, Step, fmt


def _data_time_rises(s) -> str | None:
    data = s.anchor.details.get("data_time")
    if data and s.anchor.details.get("data_time_explains"):
        return f"{data['series']} rose from {fmt(data['before'])} to {fmt(data['after'])} s at step {s.start}"
    return None


def _unexplained(s) -> str | None:
    return None if s.anchor.details.get("data_time") else "time per step rose with no data-loading time logged"


INPUT_PIPELINE = Cause(
    "pipeline",
    lambda s, fired: (
        f"The time spent waiting for data rose at step {s.start} by most of the step time's rise: the input "
        "pipeline (decoding, augmentation, reading from disk or network) no longer keeps up with the model."
        if "data_time_rises" in fired else
        f"The time per step rose at step {s.start} with nothing in the logs to say why: the input pipeline, "
        "the host (a co-tenant, thermal throttling, swapping) or a change in the work per step."
    ),
    (
        Signal(
            "data_time_rises",
            0.75,
            "A logged data-loading time that grew by most of the step time's growth is a measurement of where the "
            "time went; short of certain because a slower host slows loading and compute alike.",
            _data_time_rises,
        ),
        Signal(
            "slowdown_unexplained",
            0.3,
            "Without a data time or a memory signal, the pipeline is the commonest cause of a lasting slowdown "
            "in practice, but only a guess: weak.",
            _unexplained,
        ),
    ),
)


def _data_time_flat(s) -> str | None:
    data = s.anchor.details.get("data_time")
    if data and not s.anchor.details.get("data_time_explains"):
        return f"{data['series']} stayed near {fmt(data['before'])} s while the step slowed"
    return None


NOT_THE_INPUT = Cause(
    "unknown",
    lambda s, fired: (
        f"The logged data-loading time did not grow with the step time at step {s.start}: the input pipeline is "
        "not the cause. The compute or the host slowed (other jobs on the machine, thermal throttling, swapping, "
        "more work per step: longer sequences, a larger batch, a new evaluation hook)."
    ),
    (
        Signal(
            "data_time_flat",
            0.6,
            "A data time that stays flat while the step slows rules the input pipeline out by measurement; what "
            "slowed instead the logs do not show, so the category stays open.",
            _data_time_flat,
        ),
    ),
)


def _memory_grows(s) -> str | None:
    leak = s.any_finding("memory_leak")
    return f"memory grows from step {leak.step_start}" if leak is not None else None


ALLOCATOR = Cause(
    "memory",
    lambda s, fired: (
        "Memory grows through the run while steps get slower: the allocator searches and frees more (or the "
        "host swaps) as the leak fills memory."
    ),
    (
        Signal(
            "memory_grows_with_it",
            0.5,
            "A memory leak in the same run slows steps as memory fills (allocator retries, swapping), but a "
            "slowdown and a leak can also be independent: moderate.",
            _memory_grows,
        ),
    ),
)


def _plan(s) -> list[Step]:
    d = s.anchor.details
    before, after = d.get("before_seconds_per_step"), d.get("after_seconds_per_step")
    data = d.get("data_time")
    if s.cause == "memory":
        return [Step(
            "fix the memory growth first (see memory_leak): log torch.cuda.memory_allocated() per step and stop "
            "keeping tensors that hold the graph",
            "memory flat, and the step time with it",
            "low",
            s.anchor.series or "wall time",
            f"<= {fmt(before)} s/step after step {s.start}",
        )]
    change = (
        f"make the input pipeline keep up: from step {s.start} loading takes {fmt(data['after'])} s per step "
        f"instead of {fmt(data['before'])} s ({data['series']}); raise DataLoader num_workers, set "
        "pin_memory=True and persistent_workers=True, prefetch, or move the transform that slowed off the step "
        "(precompute it, or run it on the GPU)"
        if data and d.get("data_time_explains") else
        f"find what slowed from step {s.start} ({fmt(before)} -> {fmt(after)} s/step): profile one step before "
        "and one after (torch.profiler, then `traintriage profile TRACE` for the data-wait share), and check "
        "the host (other jobs, throttling, swap)"
    )
    return [Step(change, f"back to ~{fmt(before)} s/step", "low", s.anchor.series or "wall time",
                 f"<= {fmt(before)} s/step after step {s.start}")]


RULE = Rule(
    code="slow_steps",
    meaning="the time per step rises and stays >= 1.5x its earlier level (a throughput regression)",
    area="time",
    default_severity="warning",
    anchor_rank=200,
    detectors=("traintriage.timing.walltime:analyze_time",),
    causes=(INPUT_PIPELINE, ALLOCATOR, NOT_THE_INPUT),
    plan=_plan,
    diagnosis=Diagnosis(
        causes=(
            "the input pipeline falls behind (a transform that got slower, data read from a slower source, too "
            "few DataLoader workers)",
            "memory filling up (a leak): the allocator and the host slow down",
            "the host: other jobs on the machine, thermal throttling, swapping",
        ),
        first_fix="Log the data-loading time per step (time from the end of one step to the next batch) and "
        "compare it before and after the slowdown; profile one step on each side.",
    ),
)
