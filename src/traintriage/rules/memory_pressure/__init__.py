"""``memory_pressure``: peak memory close to capacity, or heavy fragmentation (reserved far above allocated).

Detectors: :mod:`traintriage.memory.series`, :mod:`traintriage.memory.trace` and
:mod:`traintriage.memory.snapshot` (CUDA memory snapshots, out-of-memory events).
"""

from __future__ import annotations

from ..base import Cause, Rule, Signal
from ..common import LR_JUMP_CAUSE, STAGE_CHANGE, finding_fix_step


def _oom_in_log(s) -> str | None:
    oom = next((f for f in s.all_findings if f.code == "log_message" and f.details.get("kind") == "oom"), None)
    return None if oom is None else f"the log printed an out-of-memory error at line {oom.details.get('first_line')}"


NEAR_CAPACITY = Cause(
    "memory",
    lambda s, fired: s.anchor.message,
    (
        Signal(
            "near_capacity",
            0.75,
            "Peak memory near capacity (or an OOM) is measured, not inferred; what to cut is for the plan.",
            lambda s: s.anchor.title,
        ),
        Signal(
            "oom_in_log",
            0.5,
            "An out-of-memory error printed in the run's log shows the pressure was not a margin on paper: the run "
            "did run out; it may have been another process or a later step, so it adds to the measurement.",
            _oom_in_log,
        ),
    ),
)

RULE = Rule(
    code="memory_pressure",
    meaning="peak memory close to capacity, or heavy fragmentation (reserved far above allocated)",
    area="memory",
    default_severity="warning",
    anchor_rank=140,
    detectors=(
        "traintriage.memory.series:analyze_series",
        "traintriage.memory.trace:analyze_trace",
        "traintriage.memory.snapshot:analyze_snapshot",
    ),
    causes=(LR_JUMP_CAUSE, STAGE_CHANGE, NEAR_CAPACITY),
    plan=lambda s: [
        finding_fix_step(s, "medium", "reduce the batch size or enable activation checkpointing / mixed precision")
    ],
)
