"""Thresholds of ``mixed_precision_overflow`` (stated in ``reference.md``, checked by ``tests/test_rules.py``)."""

TINY_SCALE = 1.0
"""A dynamic loss scale that has fallen to 1 or below no longer scales anything up: the fp16 gradients overflow
at their true size, so the scaler can only keep skipping steps. Every scaler starts far above (GradScaler and
apex at 2^16, DeepSpeed at 2^initial_scale_power, 2^16 by default) and DeepSpeed stops at 1."""

FLOOR_SCALE = 1e-4
"""fairseq's default ``--min-loss-scale``: at or below it fairseq raises ``Minimum loss scale reached``; a scale
this small (or 0) means every step overflows and the run is over."""

FALL_FACTOR = 32.0
"""A scale that ends this many times (5 halvings) below its peak after calibration keeps falling: a healthy
scaler settles and swings within 2-4x (it doubles after ``growth_interval`` clean steps, halves on an overflow)."""

CALIBRATION_SHARE = 0.1
"""The first 10 % of a logged scale series is calibration: the scaler halves from its huge start value until
the gradients fit, which is normal (DeepSpeed prints ``OVERFLOW!`` for the first steps of every fp16 run)."""

MIN_SCALE_POINTS = 5
"""A loss-scale series shorter than this says nothing about a trend."""
