"""Thresholds of ``gradient_imbalance`` (stated in ``reference.md``, checked by
``tests/test_rule_thresholds.py``).

Used by :func:`traintriage.detectors.gradnorm.health.detect_imbalance`, on the median over steps of
log10(norm / siblings' median). Healthy modules (biases, norms, embeddings, heads) stay within about two decades
of each other.
"""

STARVED_DECADES = 2.5
"""Starved: <= -2.5 decades (~1/300 of its siblings' gradient: a branch that barely contributes). Half a decade
of margin over the natural spread (a branch behind a 1e-3 gain lands near -2.6)."""

IMBALANCE_DECADES = 3.0
"""Dominant: >= +3 decades (it takes nearly all of the norm; squared share >= 99.9 % with three components): a
full decade of margin over the natural spread."""

IMBALANCE_CRITICAL_DECADES = 5.0
"""Either way, >= 5 decades is critical: one side is effectively not trained, or the other is all the
gradient."""
