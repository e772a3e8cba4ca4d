"""Thresholds of ``exploding_gradients`` (stated in ``reference.md``, checked by
``tests/test_rule_thresholds.py``).

Used by :func:`traintriage.detectors.gradnorm.depth.detect_growth`. The along-depth thresholds (front layers far
above back layers) are ``vanishing_gradients``'s: one comparison, read in either direction.
"""

GROWTH_DECADES = 2.0
"""Median log10 norm of the last tenth of the run against that of the first quarter: >= 2 decades (100x) is a
warning. A healthy run's norm drifts up late by 2-10x (LR decay, sharper minima), which stays below 100x."""

GROWTH_CRITICAL_DECADES = 3.0
"""... and >= 3 decades (1000x) is critical."""
