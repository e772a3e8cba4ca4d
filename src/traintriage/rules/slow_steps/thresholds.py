"""Thresholds of ``slow_steps`` (stated in ``reference.md``, checked by ``tests/test_rules.py``)."""

SLOW_RATIO = 1.5
"""The issue's definition: a time per step that rises to 1.5x its earlier level and stays there. Step-time
noise on a shared machine moves the median of a stretch by 10-20 %; a 50 % rise that holds is a regression
(a slower input pipeline, a leak that makes the allocator work harder, a thermal or co-tenant slowdown)."""

MIN_SLOW_SHARE = 0.1
"""The slower stretch must cover at least 10 % of the clocked steps (and so must the earlier one): a few slow
minutes in a long run are a pause or a stall, not a throughput regression."""

HOLD_SHARE = 0.8
""""Stays": the last third of the slower stretch must still be at least 80 % of the way up (its median
>= ``1 + HOLD_SHARE x (ratio - 1)`` times the earlier level); a slowdown that recovers is not a regression."""

WARMUP_INTERVALS = 5
"""The first logged intervals carry compilation, cuDNN autotuning, the first data-loader fill and lazy
allocation: they are left out of the typical step time and never judged (the issue: not a finding)."""

MIN_INTERVALS = 20
"""Fewer clocked intervals (after the warm-up) than this say too little about a level and its change."""

DATA_EXPLAINS = 0.5
"""When a data-loading time (``data_time``) is logged, it explains the slowdown (cause ``pipeline``) when it
grew by at least half of the step time's growth: the input pipeline then accounts for most of the rise."""

MIN_LOST_SECONDS = 30.0
"""The slowdown must have cost at least 30 s of wall clock (extra seconds per step times the slower steps):
a CPU toy run whose 5 ms steps drift to 8 ms on a shared machine (the synthetic corpus's ``healthy_lstm``)
is 1.5x slower and costs one second, which is noise, not a regression worth a warning."""
