"""Thresholds of ``zero_loss`` (stated in ``reference.md``, checked by ``tests/test_rule_thresholds.py``).

Used by :func:`traintriage.detectors.loss.numeric.detect_zero_loss` (and ``detect_stuck_loss``, which leaves a
loss stuck at zero to this rule). A loss this close to zero has nothing left to learn from: real tasks have label
noise and irreducible error far above it.
"""

ZERO_ABS = 1e-4
"""Near zero: the final median is below max(ZERO_ABS, ZERO_REL x first value) ..."""

ZERO_REL = 1e-4
"""... relative to the first value, so a loss that starts tiny (already scaled down) is not flagged for being
small."""

ZERO_EXACT = 1e-8
"""Below this the loss is zero in float32 terms: a bug, not a good model (critical, whatever the start)."""

MEMORIZED_RATIO = 100
"""A validation loss that stays this many times above the training loss says the training set was memorized (a
small dataset) rather than leaked: the finding is info, and ``overfitting`` carries it."""

NEAR_ZERO_ABS = 0.01
"""Near zero, with no validation loss to compare: a training loss below this (a cross-entropy of 0.01 nats puts
99 % on every target) ..."""

NEAR_ZERO_FALL = 50.0
"""... after falling this many times from the start reproduces its training targets almost exactly: a leak, or a
memorised training set (a small fine-tuning set run for many epochs). Only a validation loss can tell them apart,
and only its absence makes this a warning: with one logged, a loss at 0.005 may be an easy task (MNIST; a
near-deterministic regression), and the strict threshold and overfitting decide."""
