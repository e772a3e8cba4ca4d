"""``architecture_imbalance``: parameters concentrated in one part (e.g. embeddings hold most of them).

Detectors: :mod:`traintriage.checkpoints.imbalance` (over the tensors of a checkpoint, read without
executing anything) and :func:`traintriage.checkpoints.health.norm_outliers` (weight norms from the value scan).
"""

from __future__ import annotations

from ..base import Cause, Rule, Signal
from ..common import LR_JUMP_CAUSE, STAGE_CHANGE, finding_fix_step

CONCENTRATED = Cause(
    "architecture",
    lambda s, fired: s.anchor.message,
    (
        Signal(
            "parameters_concentrated",
            0.8,
            "The parameter count is read from the checkpoint itself: the imbalance is a fact, the only doubt is "
            "whether it was intended.",
            lambda s: s.anchor.title,
        ),
    ),
)

RULE = Rule(
    code="architecture_imbalance",
    meaning="parameters concentrated in one part (e.g. embeddings hold most of them)",
    area="parameters",
    default_severity="warning",
    anchor_rank=150,
    detectors=(
        "traintriage.checkpoints.imbalance:embedding_imbalance",
        "traintriage.checkpoints.imbalance:block_outliers",
        "traintriage.checkpoints.imbalance:dominant_tensor",
        "traintriage.checkpoints.health:norm_outliers",
    ),
    causes=(LR_JUMP_CAUSE, STAGE_CHANGE, CONCENTRATED),
    plan=lambda s: [finding_fix_step(s, "medium", "rebalance the architecture: " + s.anchor.message)],
)
