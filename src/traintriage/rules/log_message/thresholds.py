"""Thresholds of ``log_message`` (stated in ``reference.md``, checked by ``tests/test_rules.py``)."""

NEAR_EVENT_STEPS = 50
"""A numerical warning or a NaN message this many steps (or the issue's step tolerance, when larger) before a
loss event is evidence for it: the warning is printed at the step whose loss turns NaN, or a few logged steps
before it when the log prints every N steps."""
