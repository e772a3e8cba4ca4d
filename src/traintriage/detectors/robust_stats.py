"""The robust statistics every detector shares: one definition each, one behaviour, one name.

Detectors judge a point against a *local* robust level (a rolling median) and a robust noise scale (the
median absolute deviation, scaled to a Gaussian sigma), because medians and MADs ignore the very
outliers (spikes) being looked for. The loss and gradient-norm detectors used to keep their own copies of
these, which had drifted apart (a different default window alignment, a different answer on an empty
sample); this module is the one copy. Loss-specific helpers stay in :mod:`.loss.robust`, gradient-norm
ones in :mod:`.gradnorm.stats`.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np

from .windows import clipped_rolling_median

MAD_TO_SIGMA = 1.4826
"""The MAD of a normal sample times this is its standard deviation."""


def robust_sigma(x: np.ndarray) -> float:
    """Robust standard deviation of the finite values of ``x``: :data:`MAD_TO_SIGMA` x their MAD.

    0.0 when ``x`` holds no finite value: callers compare this scale with floors and thresholds
    (``max(floor, z * sigma)``, ``sigma < SMOOTH_NOISE``), and an empty sample must read as "no spread
    measured" there; a NaN would make every such comparison False and silently change its meaning.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0
    return float(MAD_TO_SIGMA * bn.median(np.abs(x - bn.median(x))))


def rolling_median(x: np.ndarray, window: int, *, trailing: bool = False) -> np.ndarray:
    """Median of a window of ``window`` points at each point of ``x``, NaN ignored; the length of ``x``.

    Alignment, by default **centred**: the window holds ``window // 2`` points before the point, the point
    itself and the rest after it (symmetric for an odd ``window``; one more point before than after for
    an even one). Centred windows smooth a series without shifting it in time (trends, oscillation).

    ``trailing=True``: the ``window`` points strictly before each point, so a point is judged against what
    came before it and a spike never inflates its own baseline (the spike detectors). The trailing median
    at index 0 is NaN (no history).

    Windows are clipped at both ends of ``x``. O(n log window), see :mod:`.windows`.
    """
    window = max(1, int(window))
    return clipped_rolling_median(x, window, window if trailing else window // 2)


def group_spike_points(flagged: np.ndarray, max_gap: int) -> list[list[int]]:
    """Group sorted flagged indices into events: indices with at most ``max_gap`` unflagged points between them
    share one (the spike rules' gap, ``rules.loss_spike.thresholds.SPIKE_EVENT_MAX_GAP``)."""
    events: list[list[int]] = []
    for i in np.asarray(flagged).tolist():
        if events and i - events[-1][-1] <= max_gap + 1:
            events[-1].append(int(i))
        else:
            events.append([int(i)])
    return events
