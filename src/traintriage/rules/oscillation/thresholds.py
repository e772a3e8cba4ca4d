"""Thresholds of ``oscillation`` (stated in ``reference.md``, checked by ``tests/test_rule_thresholds.py``).

Used by :mod:`traintriage.detectors.loss.oscillation` (a training loss's swings, and a validation loss's).
"""

import math

MIN_POINTS = 30
"""Fewer points cannot show several swings around a trend."""

TAIL_FRACTION = 0.6
"""Judged on the last 60 % of the run: the first steps of any run fall fast, which is not a swing."""

MIN_SWING = math.log(2.0)
"""Structured: the 10th-90th percentile of the detrended log loss spans at least 2x ..."""

MIN_ABS_AUTOCORR = 0.5
"""... the swings are structured: |lag-1 autocorrelation of the detrended loss| >= 0.5 (independent minibatch
noise has ~0) ..."""

MIN_CROSSINGS = 6
"""... and the loss crosses its trend at least 6 times (3 full swings)."""

PROGRESS_SHARE = 0.5
"""No net progress: the trend fell by less than half the swing."""

CHAOS_SWING = math.log(1.8)
"""Erratic: chaotic bouncing (full-batch, momentum far too high) looks like noise step to step; what gives it
away is that the loss bounces above a level it had already reached. Its 10-90 % swing is >= 1.8x ..."""

CHAOS_ABOVE = math.log(1.25)
"""... and the tail sits >= 1.25x above the best early level (first 20 % of the run). Minibatch noise around a
converging or stalled loss never sits above where the run had already been."""

VAL_MIN_POINTS = 8
"""A validation loss needs this many evaluations before its swings from one to the next are judged."""

VAL_SWING = math.log(1.15)
"""A validation loss is an average over the whole validation set: between evaluations only the model changes,
not the batch. One that swings by 15 % or more from evaluation to evaluation (the median step, over the last
60 %) with no net progress and no climb is a model thrown around by its updates (an LR too high for the curvature,
Adam at 1e-3 on an RNN), not evaluation noise."""
