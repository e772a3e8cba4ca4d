"""Thresholds of ``plateau`` (stated in ``reference.md``, checked by ``tests/test_rule_thresholds.py``).

Used by :func:`traintriage.detectors.loss.trend.detect_plateau` and ``detect_chance_validation``, by
:mod:`traintriage.detectors.loss.analyze` (the validation loss that still improved) and
:mod:`traintriage.detectors.loss.task_metrics` (a task metric that never learned), and by this rule's own
attribution (``TINY_PEAK_LR``).
"""

import math

TINY_PEAK_LR = 1e-5
"""A peak LR at or below this makes updates too small to learn in a normal run length: ``correlate`` then
blames the optimizer (a typo, a schedule decayed to nothing) before the data."""

MIN_POINTS_PLATEAU = 10
"""Fewer finite points cannot show a long flat stretch next to the progress before it."""

PLATEAU_BAND = math.log(1.05)
"""Over the trailing stretch the block medians stay within 5 % of each other ..."""

PLATEAU_Z = 4.0
"""... or within 4 block-noise sigmas, when the run is noisier than that."""

FLAT_MAX_TAU = 0.5
"""A stretch longer than 4 blocks whose block medians trend (|Kendall tau| >= 0.5) is moving, however little."""

PLATEAU_MIN_FRACTION = 0.3
"""The flat stretch covers at least this share of the run: a shorter one is a pause, not a plateau."""

NEVER_LEARNED = math.log(1.25)
"""Less than a 1.25x (20 %) reduction before the plateau: the run never learned. Also the slow-convergence rule:
a run whose first and last block medians differ by less than this (either way) is flat over its whole length."""

SLOW_CONVERGENCE_MIN_POINTS = 50
"""The whole-run slow-convergence rule needs this many points: a shorter log's blocks are too coarse to call a
small overall change flat."""

STILL_IMPROVING_TAU = -0.6
"""A run whose block medians fall consistently (Kendall tau <= this) is still improving, however slowly: the
whole-run "slow convergence" plateau does not apply (a language model's late gains are a few percent)."""

STILL_IMPROVING_MIN_POINTS = 6
"""With at least this many points in the flat stretch, a stretch whose points fall consistently (Kendall tau <=
``STILL_IMPROVING_TAU``) is no plateau: few blocks can hide a trend the points show."""

WASTED_FRACTION = 0.5
"""Wasted compute: a flat stretch (no progress beyond its noise, no trend) over at least this share of the run is
a warning even after real progress: most of the compute bought nothing, and the run could have stopped where the
stretch began."""

VAL_STILL_IMPROVING = 0.02
"""A validation loss that fell >= 2 % over a flat training stretch (first third against last third of its
evaluations there, falling as a trend) shows the stretch still bought generalisation: a note, not a warning."""

DECAYED_LR = 0.2
"""LR below 20 % of its peak: flattening is what the schedule asks for (a cosine tail), so no finding."""

CHANCE_TOLERANCE = 0.05
"""A level within 5 % of ln C is the chance-level loss of a C-class problem (the model predicts the prior)."""

CHANCE_MIN_EVALS = 5
"""A validation loss at the chance level at every one of at least this many evaluations never learned anything
on held-out data (landing there once is too often a coincidence)."""

BOUNDED_FLOOR = 0.05
"""A bounded metric (0-1, or 0-100 %) whose best is below 5 % of its scale after >= ``NEVER_LEARNED_EVALS``
evaluations never learned the task: mAP 0.01 after 100 epochs, accuracy 2 %."""

NEVER_LEARNED_EVALS = 5
"""Evaluations a task metric needs before it can be said never to have learned (or never to have changed)."""
