"""Thresholds of ``stuck_loss`` (stated in ``reference.md``, checked by ``tests/test_rule_thresholds.py``).

Used by :func:`traintriage.detectors.loss.numeric.detect_stuck_loss`. A loss stuck at zero is left to
``zero_loss`` (its ``ZERO_EXACT``).
"""

STUCK_REL = 2e-5
"""Consecutive values whose relative difference is below this are "the same value": a loss that does not move in
its 5th significant digit. Minibatch noise moves a loss by a percent or more per step, and even a converged
full-batch run moves it by more than 1e-4 per epoch; float32 noise in a frozen model's loss (seen at 1e-6
relative: 10.845988, 10.845994, 10.845989 for eight epochs) stays far below it."""

STUCK_MIN_RUN = 4
"""At least this many equal values in a row (a handful of epochs) ..."""

STUCK_MIN_FRACTION = 0.1
"""... covering at least this share of the series."""

STUCK_MIN_POINTS = 5
"""A series needs this many finite points before a repeat in it means anything."""

QUANTISED_REL = 1e-3
"""Logged precision is not a stuck model: a loss printed with d decimals (the HF Trainer rounds to 4; stdout logs
print 2-4) repeats whenever it moves less than 10^-d. A repeated value is only evidence when that resolution is at
most this share of the value (54.75 printed at 2 decimals: 2e-4); 0.0002 at 4 decimals (50 %) repeating says
nothing about the model."""

STUCK_CRITICAL_SHARE = 0.5
"""A loss stuck over half the run or more is critical: most of the compute trained nothing."""
