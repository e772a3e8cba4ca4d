"""Thresholds of ``vanishing_gradients`` (stated in ``reference.md``, checked by
``tests/test_rule_thresholds.py``).

Used by :func:`traintriage.detectors.gradnorm.depth.detect_depth`, which also raises ``exploding_gradients``
when the front of a layer stack gets far MORE gradient than the back: the depth thresholds are one concept,
owned here. All in decades (log10), so they are scale-free.
"""

DEPTH_DECADES = 2.0
"""Front quarter of a layer stack vs back quarter: >= 2 decades (100x) apart is a finding. Backprop multiplies
by each layer's Jacobian; residual networks keep front and back within a few x."""

DEPTH_CRITICAL_DECADES = 3.0
"""... and >= 3 decades (1000x) is critical."""

DEPTH_MIN_RHO = 0.6
"""The per-layer medians must be ordered along depth (Spearman |rho| >= 0.6), falling toward the input for
vanishing and rising toward it for exploding: one odd layer is not a geometric shrinking."""
