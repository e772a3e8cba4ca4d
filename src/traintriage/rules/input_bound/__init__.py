"""``input_bound``: a profiler trace shows the step waiting on data loading for a large share of its time.

Detector: :func:`traintriage.timing.trace.analyze_step_trace` (``profile_step`` / ``traintriage profile
TRACE``). The trace measures where the time went, so the cause is the input pipeline and the plan is
the finding's own fix with its numbers.
"""

from __future__ import annotations

from ..base import Cause, Diagnosis, Rule, Signal, Step

WAITING = Cause(
    "pipeline",
    lambda s, fired: s.anchor.message,
    (
        Signal(
            "data_wait_measured",
            0.85,
            "The share of the step spent in the DataLoader's __next__ is measured by the profiler, not inferred; "
            "short of certain because profiling a few steps can catch an unusually slow stretch.",
            lambda s: s.anchor.title,
        ),
    ),
)


def _plan(s) -> list[Step]:
    d = s.anchor.details
    return [Step(
        f"feed the model faster: {d.get('fix', 'raise DataLoader num_workers and set pin_memory=True')} "
        f"(now {d.get('data_share', 0):.0%} of each step waits for data)",
        "the step time falls to about its compute time",
        "low",
        "trace:data_wait_share",
        "below 0.1 of the step time in a new trace",
    )]


RULE = Rule(
    code="input_bound",
    meaning="a profiler trace shows the step waiting on data loading for a large share of its time",
    area="time",
    default_severity="warning",
    anchor_rank=220,
    detectors=("traintriage.timing.trace:analyze_step_trace",),
    causes=(WAITING,),
    plan=_plan,
    diagnosis=Diagnosis(
        causes=(
            "DataLoader with num_workers=0 (or too few workers) and a per-sample transform",
            "host-to-device copies from pageable memory (no pin_memory)",
            "data read from a slow filesystem or decoded on the fly",
        ),
        first_fix="DataLoader(num_workers=<cores per GPU>, pin_memory=True, persistent_workers=True, "
        "prefetch_factor=4); move per-sample transforms off the step.",
    ),
)
