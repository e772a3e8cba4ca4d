"""``memory_pressure``: peak memory close to capacity, or heavy fragmentation (reserved far above allocated).

Detectors: :mod:`traintriage.memory.series`, :mod:`traintriage.memory.trace` and
:mod:`traintriage.memory.snapshot` (CUDA memory snapshots, out-of-memory events).
"""

from __future__ import annotations

from ..base import Cause, Rule, Signal
from ..common import LR_JUMP_CAUSE, STAGE_CHANGE, finding_fix_step

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
