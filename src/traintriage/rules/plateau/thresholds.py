"""Thresholds of ``plateau`` (stated in ``reference.md``, checked by ``tests/test_rules.py``)."""

TINY_PEAK_LR = 1e-5
"""A peak LR at or below this makes updates too small to learn in a normal run length: ``correlate`` then
blames the optimizer (a typo, a schedule decayed to nothing) before the data."""
