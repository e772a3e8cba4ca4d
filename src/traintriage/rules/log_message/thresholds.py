"""Thresholds of ``log_message`` (stated in ``reference.md``, checked by ``tests/test_rules.py``)."""

MAX_EXAMPLES = 3
"""Evidence rows per message group: the first, the last and the count say what happened; more is noise."""

NEAR_EVENT_STEPS = 50
"""A numerical warning or a NaN message this many steps (or the issue's step tolerance, when larger) before a
loss event is evidence for it: the warning is printed at the step whose loss turns NaN, or a few logged steps
before it when the log prints every N steps."""
