"""Thresholds of ``heavy_clipping`` (stated in ``reference.md``, checked by ``tests/test_rule_thresholds.py``).

Used by :mod:`traintriage.detectors.gradnorm.clipping`. A few % of clipped steps is the safety net doing its
job and stays quiet.
"""

CLIP_EPS = 1e-3
"""A step is clipped when the post-clip norm is below the pre-clip one by more than this relative margin (or
the pre-clip norm above the threshold by more): float round-off is not clipping."""

INFO_SHARE = 0.2
"""Clipped on 20-50 % of steps: info."""

HEAVY_SHARE = 0.5
"""Clipped on >= 50 % of steps: warning. The clip then acts as a hidden LR reduction, not a safety net."""

CRITICAL_SHARE = 0.9
"""Clipped on >= 90 % of steps ..."""

CRITICAL_FACTOR = 5.0
"""... with a median clip factor (pre-clip norm / threshold) >= 5: critical; every step's update is scaled
down 5x or more."""
