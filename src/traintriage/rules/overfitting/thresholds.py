"""Thresholds of ``overfitting`` (stated in ``reference.md``, checked by ``tests/test_rule_thresholds.py``).

Used by :mod:`traintriage.detectors.loss.overfitting` and :mod:`traintriage.detectors.loss.task_metrics` (the
task metric that says the model still improved). Ratios are in log space: ``math.log(1.05)`` is "5 % above".
"""

import math

MIN_VAL_POINTS = 4
"""Fewer validation points cannot show a rise after a best (three evaluations have a rule of their own)."""

ROBUST_BEST_POINTS = 6
"""With this many evaluations the best level is the lowest median of three consecutive ones, so that one lucky
evaluation (a val loss of 0.0001 among values ten times larger) is not a best that every later point "rises"
from. The best reported is the lowest logged value within that window."""

MIN_RISE = math.log(1.05)
"""The validation loss ends >= 5 % above its best ..."""

RISE_Z = 3.0
"""... and >= 3 sigmas of its own point-to-point noise above it ..."""

MIN_TAU = 0.3
"""... after the best point it trends up (Kendall tau), not one noisy last point ..."""

TRAIN_FALL = math.log(1.02)
"""... while the training loss fell by a factor >= 1.02 (about 2 %) over the same stretch."""

CONSISTENT_POINTS = 4
"""A consistent rise proves with less margin: over >= this many evaluations after the best ..."""

CONSISTENT_TAU = 0.5
"""... rising with Kendall tau >= this ..."""

CONSISTENT_Z = 1.5
"""... >= 5 % and >= this many sigmas above the best is overfitting too. Short per-epoch logs (10 evaluations)
cannot show 3 sigmas of their own noise, but they can show a steady climb."""

MEMO_TAIL = 0.4
"""Memorization (the other face of overfitting) is judged over the last 40 % of the run ..."""

VAL_STALL = math.log(1.02)
"""... where the validation loss no longer improves (by less than a factor 1.02, about 2 % ...)"""

VAL_STALL_Z = 3
"""(... or 3 sigmas of its noise) ..."""

MEMO_TRAIN_FALL = math.log(10.0)
"""... while the training loss still falls >= 10x ..."""

MEMO_GAP = math.log(10.0)
"""... and ends >= 10x below it. Healthy runs improve both together; a 10x train-only fall is the model learning
the set."""

STALL_FRACTION = 0.5
"""Stalled: the validation loss never improves on its best over half the run or more ..."""

STALL_POINTS = 5
"""... (>= 5 evaluations), sits typically >= ``MIN_RISE`` above it there and ends no better ..."""

STALL_TRAIN_FALL = math.log(1.1)
"""... while the training loss falls by a factor >= 1.1 (about 10 %): the run fits its training set and buys
nothing on held-out data, the case early stopping's patience exists for."""

EPISODE_RISE = math.log(1.10)
"""Episode: an overfitting stretch that does not last to the end of the run, because something cut it short (a
loss spike that knocked the model out of its memorised state, a restart). Stricter than the end-of-run rule,
since it is looked for anywhere: >= 10 % (and ``RISE_Z`` sigmas) above the running best ..."""

EPISODE_TAU = 0.5
"""... rising with Kendall tau >= this ..."""

EPISODE_MIN_POINTS = 5
"""... over >= this many evaluations, while training fell by ``TRAIN_FALL``."""

DISRUPTION_JUMP = math.log(1.5)
"""The episode ends before the first jump of the validation loss of >= 1.5x ..."""

DISRUPTION_Z = 5
"""... and >= 5 sigmas in one evaluation (a disruption, not a trend)."""

SHORT_RISE = math.log(1.2)
"""Three evaluations (a three-epoch fine-tune) cannot show a trend, but they can show a clear one: the last
>= 1.2x the best of the first two, and the highest of the three ..."""

SHORT_TRAIN_FALL = math.log(1.25)
"""... while the training loss fell by a factor >= 1.25 (20 %)."""

CALIBRATION_RISE = 1.15
"""A validation loss rise up to this ratio while the task metric keeps improving is the model growing less
calibrated, not overfitting; a larger one (the model confidently wrong on a growing share of examples) is
overfitting while the metric only creeps up, unless the metric's last evaluation is its best (a BERT fine-tune
whose validation loss rises 47 % over three epochs while accuracy and F1 improve at each)."""
