"""Thresholds of ``dead_component`` (stated in ``reference.md``, checked by ``tests/test_rule_thresholds.py``).

Used by :mod:`traintriage.detectors.gradnorm.health`. A component is judged against its siblings at the same
step: an absolute gradient-norm scale means nothing across models (a LayerNorm group's norm is naturally
10-100x below its attention block's).
"""

DEAD_REL_FLOOR = 1e-7
"""Dead: the norm is exactly zero, or below this times the siblings' typical norm (float32 round-off
territory: no update of that size moves a weight). Relative, so a naturally small LayerNorm/bias group is never
dead."""

DEAD_ABS_FLOOR = 1e-12
"""... and never below this absolute floor (siblings that are themselves ~0 do not make every norm "alive")."""

DEAD_SHARE = 0.5
"""Dead on at least half of the steps: warning."""

DEAD_CRITICAL_SHARE = 0.9
"""Dead on at least 90 % of the steps: critical (the component was practically never trained)."""

DEAD_TAIL_SHARE = 0.2
"""A component that became dead and stayed so for the last 20 % of the run is reported too: it died."""

DEAD_TAIL_MIN_POINTS = 5
"""... when that dead tail has at least this many logged points (fewer may be one quiet stretch)."""

COLLAPSED_GAIN = 0.01
"""From a checkpoint (:mod:`traintriage.checkpoints.health`): a LayerNorm/RMSNorm gain whose mean magnitude is
below this is collapsed (gains start at 1.0: it is now 100x smaller, and silences the block behind it)."""

STALE_ROW_SHARE = 0.01
"""Embedding rows that are all zero or exact copies of another row: reported above 1 % of the table ..."""

MIN_STALE_ROWS = 2
"""... and at least this many rows (one zero padding row is normal)."""
