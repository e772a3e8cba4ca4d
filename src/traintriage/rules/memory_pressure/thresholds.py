"""Thresholds of ``memory_pressure`` (stated in ``reference.md``, checked by ``tests/test_rule_thresholds.py``).

Used by :mod:`traintriage.memory.series`, :mod:`traintriage.memory.trace` and :mod:`traintriage.memory.snapshot`.
"""

PRESSURE_WARNING = 0.90
"""A peak at >= 90 % of capacity is a warning: a longer sequence or a larger batch will not fit."""

PRESSURE_CRITICAL = 0.97
"""A peak at >= 97 % of capacity is critical: the next allocation spike is an OOM."""

FRAGMENTATION_FRACTION = 0.40
"""Runs and traces: reserved-but-unallocated memory at >= 40 % of reserved (median over the second half) is
memory the caching allocator holds and cannot hand out."""

SNAPSHOT_FRAGMENTATION_FRACTION = 0.25
"""Snapshots: inactive bytes in partly used segments (free, but pinned by live neighbours) at >= 25 % of
reserved. Stricter than for runs: a snapshot sees exactly what is stranded, not a reserved-minus-allocated gap."""

FRAGMENTATION_MIN_BYTES = 1 << 30
"""... and at least 1 GiB of it: a few hundred MB of slack is the allocator working normally."""
