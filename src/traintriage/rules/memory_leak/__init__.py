"""``memory_leak``: memory grows steadily with steps.

Detectors: :mod:`traintriage.memory.series` (logged memory scalars) and :mod:`traintriage.memory.trace`
(profiler traces). The finding carries its own explanation and fix (which allocation grows, from where),
so ``correlate`` passes them through.
"""

from __future__ import annotations

from ..base import Cause, Rule, Signal
from ..common import LR_JUMP_CAUSE, STAGE_CHANGE, finding_fix_step

GROWTH = Cause(
    "memory",
    lambda s, fired: s.anchor.message,
    (
        Signal(
            "memory_grows",
            0.75,
            "Steady growth per step is what a leak is; short of certain because a cache filling up (allocator, "
            "dataloader prefetch) grows too before it levels off.",
            lambda s: s.anchor.title,
        ),
    ),
)

RULE = Rule(
    code="memory_leak",
    meaning="memory grows steadily with steps",
    area="memory",
    default_severity="warning",
    anchor_rank=130,
    detectors=("traintriage.memory.series:analyze_series", "traintriage.memory.trace:analyze_trace"),
    causes=(LR_JUMP_CAUSE, STAGE_CHANGE, GROWTH),
    plan=lambda s: [
        finding_fix_step(
            s,
            "low",
            "stop keeping references to tensors that hold the graph (log loss.item(), not loss; detach what you "
            "accumulate)",
        )
    ],
)
