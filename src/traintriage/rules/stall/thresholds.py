"""Thresholds of ``stall`` (stated in ``reference.md``, checked by ``tests/test_rules.py``)."""

STALL_FACTOR = 20.0
"""A gap must exceed the interval's expected time by at least 20 typical step times: garbage collection, a
log flush or a slow batch cost a few step times; twenty is a hang, a save or a restart."""

STALL_MIN_SECONDS = 10.0
"""... and by at least 10 s of wall clock: a sub-second hiccup in a run of 10 ms steps is twenty steps but
no one's problem, while ten seconds of a GPU doing nothing is worth a line."""

STALL_INTERVAL_FACTOR = 3.0
"""... and the interval must take at least 3x its expected time, so that a run logged every 500 steps does
not call one slow batch inside an interval a stall."""

RECURRING_MIN = 3
"""Pauses at a regular step period (evaluation, periodic checkpoints) are routine once at least three of them
keep the same period: they are reported in the run's timing context, not as findings."""

PERIOD_TOLERANCE = 0.1
"""Two pauses keep the period when their distance is within 10 % (or one logged interval) of the median
distance: eval and save intervals are set in steps and land on the same grid."""

OUTLIER_PAUSE = 3.0
"""A recurring pause that takes more than 3x the median of its kind is still a stall (one save that hung)."""

LONG_STALL_SHARE = 0.1
"""A gap that costs 10 % of the run's wall time or more is a warning (even a restart); a shorter one that
the run recovered from is information."""

MIN_OCCUPANCY = 0.75
"""A period is the pauses' routine when they fill at least 75 % of its grid points between the first and the
last pause on it: evaluation every 100 steps pauses at every multiple of 100, so pauses at 100, 200, 250, 300,
400 keep a period of 100 (and the one at 250 is a stall), not of 50 (five of seven points)."""
