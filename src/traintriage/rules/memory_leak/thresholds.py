"""Thresholds of ``memory_leak`` (stated in ``reference.md``, checked by ``tests/test_rule_thresholds.py``).

Used by :mod:`traintriage.memory.series` (logged memory series) and :mod:`traintriage.memory.trace` (profiler
traces).
"""

WARMUP_FRACTION = 0.15
"""The first 15 % of points are skipped: optimizer state is created at the first step, the caching allocator
fills its cache, autotuning runs."""

MIN_POINTS = 8
"""Fewer finite points cannot show a trend."""

STEADY_INCREMENT = 0.2
"""Sustained: the median must rise in each quarter of what remains, each rise at least this share of the mean
rise. The allocator grows ``reserved`` in steps (one segment, then flat): one jump is not a leak."""

MIN_GROWTH_FRACTION = 0.05
"""Growth over the analysed stretch, relative to its starting level, of at least 5 %: noise and small caches
are not worth an alarm."""

LEAK_MIN_STEPS = 4
"""A profiler trace needs this many profiled steps: the warm-up step plus at least 3 to see a trend."""

LEAK_MIN_GROWTH = 0.01
"""In a trace, allocated memory at the end of each step must have grown by at least 1 % in all (a trace covers a
few steps, so a smaller share already is a leak when every step adds to it)."""
