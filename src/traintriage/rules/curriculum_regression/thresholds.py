"""Thresholds of ``curriculum_regression`` (stated in ``reference.md``, checked by
``tests/test_rule_thresholds.py``).

Used by :mod:`traintriage.detectors.loss.curriculum` and :mod:`traintriage.detectors.loss.analyze` (which epoch
boundaries count as transitions).
"""

import math

MIN_SIDE_POINTS = 3
"""Points needed on each side of a transition (and at the end of the stage) for a level."""

JUMP = math.log(1.2)
"""The level right after the transition is >= 1.2x the level before ..."""

JUMP_Z = 4.0
"""... and >= 4 sigmas of the level estimate (point noise / sqrt(points)) above it ..."""

STAY = math.log(1.1)
"""... and the end of the stage is still >= 1.1x above the before-level (the model did not simply re-adapt) ..."""

STAY_Z = 3
"""... and >= 3 sigmas of the level estimate above it."""

MAX_EPOCH_TRANSITIONS = 20
"""More epoch boundaries than this are not treated as transitions: a long run's epochs are not curriculum
stages."""
