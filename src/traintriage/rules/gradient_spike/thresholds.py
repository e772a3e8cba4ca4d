"""Thresholds of ``gradient_spike`` (stated in ``reference.md``, checked by ``tests/test_rule_thresholds.py``).

Used by :mod:`traintriage.detectors.gradnorm.spikes`. Still in the detector's module: the gap rule it shares
with the loss-spike detector, and ``MAD_TO_SIGMA`` (robust statistics, not thresholds).
"""

WINDOW = 25
"""The local level is the median of the previous 25 points (and recovery is judged on the next 25)."""

SPIKE_Z = 6.0
"""A spike's log10 norm is >= 6 robust sigmas above the local level: the z-score adapts to how noisy the norm
is (small batches are noisy, and gradient norms are heavy-tailed) ..."""

SPIKE_RATIO = 5.0
"""... and >= 5x above it: the ratio keeps a very smooth series from flagging a 20 % blip."""

SIGMA_FLOOR = 0.05
"""The robust sigma is floored at 0.05 decades, for the same reason."""

HUGE_RATIO = 100.0
"""Spikes are info (reported so ``correlate`` can tie loss spikes to optimizer instability); an event is a
warning when huge: >= 100x the local level ..."""

HUGE_VS_RUN_P95 = 3.0
"""... AND >= 3x the 95th percentile of the whole run (a 300x blip on a norm that had decayed to 1e-6 while
memorising a tiny dataset is still below what the run saw early on, so it is not a blow-up)."""

NO_RECOVERY_RATIO = 3.0
"""Recovered: the median of the next ``WINDOW`` points is within 3x of the pre-event level. A level that does
not come back is a regime shift, not by itself a reason to warn."""
