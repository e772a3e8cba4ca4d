"""``gradient_spike``: a sudden, short jump of a gradient norm far above its local level.

Detector: :func:`traintriage.detectors.gradnorm.spikes.detect_spikes`. An extension of the DESIGN.md
table: a gradient spike is rarely an issue of its own, but it joins the loss spike or divergence at the
same steps as evidence that the update, not the data, went wrong.
"""

from __future__ import annotations

from ..base import Rule
from ..common import LR_JUMP_CAUSE, STAGE_CHANGE

RULE = Rule(
    code="gradient_spike",
    meaning="a sudden, short jump of a gradient norm far above its local level",
    area="gradients",
    default_severity="warning",
    anchor_rank=170,
    detectors=("traintriage.detectors.gradnorm.spikes:detect_spikes",),
    causes=(LR_JUMP_CAUSE, STAGE_CHANGE),
    attaches_to_loss_event=True,
)
