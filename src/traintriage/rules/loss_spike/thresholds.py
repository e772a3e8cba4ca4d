"""Thresholds of ``loss_spike`` (stated in ``reference.md``, checked by ``tests/test_rule_thresholds.py``).

Used by :mod:`traintriage.detectors.loss.spike`. A point is a spike when it exceeds its trailing median (in
log space) by BOTH a large absolute ratio and many local robust sigmas. Still in its own module:
``robust.SMOOTH_NOISE`` (what makes a series smooth, shared by several loss detectors).
"""

import math

SPIKE_EVENT_MAX_GAP = 2
"""Flagged points with at most this many unflagged points between them (indices at most 3 apart) are one event:
a spike that dips under the limit for a point or two mid-way is still one excursion. The gradient-spike detector
groups with the same rule, so a loss spike and the gradient spike under it cover the same steps."""

MIN_POINTS = 20
"""Fewer finite points give no stable trailing median to measure a jump against."""

MIN_RATIO = 3.0
"""The ratio floor of a per-step minibatch loss: 3x is beyond the 99.9th percentile of batch-16 MSE noise. It
guards against the heavy tails of minibatch noise, which a robust sigma does not see."""

SMOOTH_MIN_RATIO = 1.3
"""The ratio floor of a smooth series (an epoch average, an evaluation over a whole set): it has no heavy tails,
and a 40 % jump in it is as far out as a 3x jump in a batch-16 loss."""

Z_THRESHOLD = 6.0
"""... and the excess must reach 6 local robust sigmas (point-to-point noise of the baseline window), so a
batch-8 run needs a bigger jump than a full-batch one."""

LOCAL_NOISE_FLOOR = 0.25
"""The local sigma is floored at this share of the whole run's noise, so one quiet window cannot make a small
bump a spike."""

MAX_EVENT_FRACTION = 0.05
"""Excursions longer than this share of the run are level shifts (divergence, curriculum), not spikes."""

MIN_IMPACT = 0.05
"""The jump must matter at the scale of the run: at least 5 % of the initial loss. A loss at 1e-9 that jumps to
1e-3 is numerically huge but leaves training where it was (that is zero_loss territory)."""

PERSIST_RATIO = 2.0
"""A spike that damaged the model keeps the following points elevated: their median stays >= 2x the baseline."""

PERSIST_POINTS = 5
"""How many points after the peak are looked at to see whether the model was knocked off."""

ISOLATED_MIN_RATIO = 20.0
"""A one-point outlier in heavy-tailed minibatch noise is usually one unlucky batch (seen at 8-10x in healthy
runs near convergence): it counts only when extreme, >= 20x ..."""

ISOLATED_Z = 10.0
"""... and >= 10 local sigmas above the baseline."""

RECOVER_BAND = math.log(1.5)
"""Recovered: the rolling median after the event is back within 1.5x (or 3 sigma) of the pre-spike baseline."""

CRITICAL_RATIO = 100
"""A jump of 100x or more is critical even when it recovered: the run was damaged, not just noisy for a
moment (as is a spike that never recovered)."""
