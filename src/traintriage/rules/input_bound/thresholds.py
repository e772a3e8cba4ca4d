"""Thresholds of ``input_bound`` (stated in ``reference.md``, checked by ``tests/test_rules.py``)."""

INPUT_BOUND_SHARE = 0.3
"""A step that spends 30 % or more of its time waiting for the next batch leaves the accelerator idle a third
of the time: worth the usual fixes (workers, pinned memory, prefetch). A well-fed loop waits a few percent
(the compute-bound fixture: under 1 %); a loop with ``num_workers=0`` and a real per-sample transform waits most
of the step (the input-bound fixture: over 90 %)."""

SEVERE_SHARE = 0.7
"""At 70 % or more the loop mostly waits: the model could run several times faster with the same hardware,
and the finding is critical."""

MIN_STEP_MS = 1.0
"""Profiled steps shorter than 1 ms are too short for a share to mean anything (timer resolution, the
profiler's own overhead)."""
