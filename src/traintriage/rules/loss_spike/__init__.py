"""``loss_spike``: a sudden, short jump of the loss far above its local level.

Detector: :func:`traintriage.detectors.loss.spike.detect_loss_spikes` (thresholds in ``thresholds.py``,
explained in ``reference.md``). When it names an issue, ``correlate`` weighs an LR jump or ramp just
before it and a gradient spike at the same steps (optimizer), a curriculum stage change, and otherwise
a bad batch (data).
"""

from __future__ import annotations

from ..base import Diagnosis, Rule
from ..common import (
    DATA_SHIFT,
    GRAD_SPIKE_ALONE,
    LR_JUMP,
    LR_RAMP,
    STAGE_CHANGE,
    data_steps,
    optimizer_cause,
    optimizer_steps,
)


def _specialise(finding, causes: list[str], fix: str) -> tuple[list[str], str]:
    change = finding.details.get("lr_change")
    if change:
        causes.insert(0, f"the LR change at step {change['step']} ({change['before']:.3g} -> {change['after']:.3g})")
        fix = (
            f"Remove or ramp the LR change at step {change['step']} (keep the LR near {change['before']:.3g}, or "
            "warm up to the new value over a few hundred steps); add clipping."
        )
    return causes, fix


RULE = Rule(
    code="loss_spike",
    meaning="a sudden, short jump of the loss far above its local level",
    area="loss",
    default_severity="warning",
    anchor_rank=30,
    detectors=("traintriage.detectors.loss.spike:detect_loss_spikes",),
    causes=(optimizer_cause(LR_JUMP, GRAD_SPIKE_ALONE, LR_RAMP), STAGE_CHANGE, DATA_SHIFT),
    plan=lambda s: optimizer_steps(s) + data_steps(s),
    diagnosis=Diagnosis(
        causes=(
            "a learning-rate change (bump, restart, resumed scheduler) too large for the current curvature",
            "a bad or mislabelled batch (outliers, a corrupted shard)",
            "Adam second-moment estimate too small for a rare large gradient (eps / beta2 too low)",
        ),
        first_fix="Add gradient clipping (max_norm ~1.0) and find the batch logged at the spike step; if the LR "
        "changed there, ramp it instead of jumping.",
        specialise=_specialise,
    ),
    same_event={"nan_inf": 4, "divergence": 4, "loss_spike": 1},
)
