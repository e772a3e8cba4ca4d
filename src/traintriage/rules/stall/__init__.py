"""``stall``: a wall-clock gap far above the typical step time (a hang, a slow checkpoint save, a preemption).

Detector: :func:`traintriage.timing.walltime.analyze_time`. Pauses that recur at a regular step period
(evaluation, periodic saves) and the warm-up are not stalls. A gap in which a new event file begins is a
restart (the job was preempted or crashed and resumed): a stall with a restart, not an error.
"""

from __future__ import annotations

from ..base import Cause, Diagnosis, Rule, Signal, Step, fmt


def _restart(s) -> str | None:
    return "a new event file begins in the gap: the job restarted" if s.anchor.details.get("restart") else None


def _blocked(s) -> str | None:
    if s.anchor.details.get("restart") is not False:  # a restart, or a log that cannot tell (no event files)
        return None
    return f"{fmt(s.anchor.details.get('gap_seconds'))} s without a step, same process"


BLOCKED = Cause(
    "pipeline",
    lambda s, fired: (
        f"The job stopped and started again between steps {s.anchor.step_start} and {s.anchor.step_end} "
        "(preemption, a crash and a resume): the gap is lost time, and the resumed steps must match the "
        "checkpoint's."
        if "job_restarted" in fired else
        f"The training loop blocked for {fmt(s.anchor.details.get('gap_seconds'))} s at step "
        f"{s.anchor.step_start} while the process stayed alive: a synchronous checkpoint save, a slow "
        "filesystem, a blocking call in the loop, or a collective waiting on a slower rank."
    ),
    (
        Signal(
            "job_restarted",
            0.8,
            "A writer that starts a new event file inside the gap is a new process: the gap is the restart, "
            "measured from the files themselves; not certain only because a run can be restarted by hand.",
            _restart,
        ),
        Signal(
            "same_process_blocked",
            0.5,
            "A gap with no new event file means the same process stopped stepping; what blocked it (I/O, a save, "
            "a peer) the logs do not say, so the category is sure and the detail is not.",
            _blocked,
        ),
    ),
)


def _plan(s) -> list[Step]:
    d = s.anchor.details
    typical = d.get("typical_step_seconds")
    if d.get("restart"):
        return [Step(
            f"check that the resume at step {s.anchor.step_end} restored the optimizer, scheduler, RNG and "
            "data-loader position, and checkpoint often enough that a restart loses little",
            "a restart costs the downtime only, and the curves continue where they left off",
            "low",
            s.anchor.series or "wall time",
            "no repeated or skipped steps around the restart",
        )]
    return [Step(
        f"find what blocks the loop at step {s.anchor.step_start} ({fmt(d.get('gap_seconds'))} s against "
        f"{fmt(typical)} s/step): time the checkpoint save and any evaluation or I/O there; save asynchronously "
        "(torch.distributed.checkpoint.async_save, or a background thread copying a CPU state dict)",
        "no step takes more than a few typical step times",
        "low",
        s.anchor.series or "wall time",
        f"no gap above {fmt(20 * typical if typical else None)} s between logged steps",
    )]


RULE = Rule(
    code="stall",
    meaning="a wall-clock gap far above the typical step time (a hang, a slow checkpoint save, a preemption)",
    area="time",
    default_severity="warning",
    anchor_rank=210,
    detectors=("traintriage.timing.walltime:analyze_time",),
    causes=(BLOCKED,),
    plan=_plan,
    diagnosis=Diagnosis(
        causes=(
            "a synchronous checkpoint save to a slow filesystem",
            "a preemption or crash followed by a restart",
            "a collective (all-reduce, barrier) waiting on a slow or dead rank; a blocking I/O call in the loop",
        ),
        first_fix="Time the checkpoint save and anything else that runs at the stalled step; save asynchronously "
        "and set a collective timeout that fails fast instead of hanging.",
    ),
)
