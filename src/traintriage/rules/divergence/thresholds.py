"""Thresholds of ``divergence`` (stated in ``reference.md``, checked by ``tests/test_rule_thresholds.py``).

Used by :func:`traintriage.detectors.loss.trend.detect_divergence`, on block medians of the log loss.
"""

import math

MIN_POINTS_DIVERGENCE = 8
"""Fewer finite points are too few for block medians (a shorter log is judged by the short blow-up rule)."""

DIVERGENCE_MIN_RATIO = 1.5
"""The late level (median of the last two blocks) must exceed the best block by at least this ratio ..."""

DIVERGENCE_Z = 4.0
"""... and by 4 block-noise sigmas, so a noisy run needs a larger rise."""

DIVERGENCE_MIN_TAU = 0.4
"""The climb is a trend (Kendall tau of the block medians from the best block on), not one step up."""

DIVERGENCE_MIN_FRACTION = 0.1
"""... and it lasts at least this share of the run (a late blip is not a divergence)."""

WARMUP_EXCUSE_RATIO = 3.0
"""A rise that ends inside the LR warmup must reach 3x the best level to count: warmup may lift the loss a
little."""

DIVERGENCE_CRITICAL_RATIO = 3
"""A late level 3x the best or more is critical: the run has lost most of what it learned."""

SHORT_MIN_POINTS = 4
"""A log too short for block medians needs at least this many points to show a blow-up."""

SHORT_BLOWUP = math.log(10.0)
"""A log too short for block medians still shows a loss that grows by an order of magnitude after its best and
keeps climbing (a run that blows up within a handful of logged steps): divergence, with the point count said."""
