"""Thresholds of ``metric_collapse`` (stated in ``reference.md``, checked by ``tests/test_rules.py``)."""

MIN_POINTS = 8
"""Finite points a watched metric needs before it is judged: fewer cannot show an earlier range and a
collapse after it."""

EARLY_SHARE = 0.25
"""The metric's earlier level is the median of its first quarter of points: long enough to average over
its noise, early enough to come before most collapses (a collapse within the first quarter lowers that
median and is seen against a smaller level)."""

COLLAPSE_FRACTION = 0.1
"""A metric at or below a tenth of its earlier level has collapsed to (near) zero: prediction std, entropy or
a distinct-output count that lost 90 % of its spread is a model that stopped producing varied outputs."""

STAY_SHARE = 0.9
"""From the onset to the end of the run at least 90 % of the points must stay collapsed (and the last one
must): a dip that recovers is an event, not a collapse."""

MIN_COLLAPSED_POINTS = 3
"""A collapse must last at least three logged points: one or two low values at the end of a run cannot be
told from noise."""

CONSTANT_TOLERANCE = 1e-6
"""Relative spread (range over the earlier level's magnitude) under which a stretch of a metric is constant:
float32 rounding of an unchanging value, far below any real variation."""

MIN_CONSTANT_POINTS = 5
"""A metric that varied and then sits at one value must stay there for at least five logged points to be
called frozen (two or three equal evaluations happen by chance on small sets)."""

LEARNING_LOSS_DROP = 0.05
"""An entropy that falls while the loss falls by at least 5 % (and accuracy, when logged, rises) is a model
growing confident as it learns, not a collapse."""

PINNED_EVALS = 5
"""Accuracy identical at this many consecutive evaluations, to the end of the run, is pinned: a model whose
predictions stopped changing (on a fixed set, predicting one class gives exactly that class's share)."""

PINNED_DROP = 0.02
"""The pinned accuracy must lie at least 2 points (of a 0-1 scale; 2 % of a 0-100 one) below the median of its
earlier values: a model that converged is stable at its usual level (a small evaluation set repeats the same
value), one that fell to a fixed value below it collapsed."""

GROUP_INTERVALS = 3
"""Collapses whose onsets lie within three logging intervals of the metric (or the run's step tolerance) are
one event: an accuracy evaluated every 10 steps is pinned an evaluation or two after the entropy fell."""
