"""Where two training-loss curves separate: the first step where BAD leaves GOOD's band.

GOOD's band is its rolling median ± ``BAND_SIGMAS`` robust sigmas, in log space when both losses are
positive (a loss is judged by ratios: 3.5 against 3.4 is the same gap at any scale). Sigma is 1.4826 × the
rolling median absolute deviation of GOOD's points from that median (a normal's sigma, untouched by GOOD's
own spikes), floored at ``MIN_SIGMA`` so a near-deterministic GOOD does not make a band of zero width.
GOOD's median and sigma are computed on GOOD's own steps and interpolated to BAD's steps, so the runs may
log at different intervals or in different formats; only steps both runs cover are compared.

BAD has left the band at the first of ``PERSIST`` consecutive compared points outside it (a non-finite loss
counts as outside): one noisy point is not a separation, a run that has gone elsewhere stays there.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..findings import json_number

WINDOW = 25
"""GOOD's points per rolling window (odd, centred): wide enough for a stable median and MAD of a noisy
minibatch loss, narrow enough to follow the curve's descent."""
BAND_SIGMAS = 4.0
"""Half-width of the band in robust sigmas: a point of GOOD's own noise falls outside 4 sigma about once in
16,000 points for normal noise, and PERSIST such points in a row practically never."""
MIN_SIGMA = 0.01
"""Floor of sigma (log units, ~1 % of the loss; in the loss's units on the linear scale): below it, a
smooth GOOD and interpolation between its steps would flag differences nobody would call a separation."""
PERSIST = 3
"""Consecutive compared points outside the band before BAD counts as separated."""
MAX_POINTS = 20_000
"""GOOD is thinned to at most this many points (every k-th) before the rolling statistics: the band of a
long run needs its shape, not each of a million points, and the cost stays bounded."""

RULE = (f"first of {PERSIST} consecutive BAD points outside GOOD's rolling median ± {BAND_SIGMAS:g} robust sigmas "
        f"(window {WINDOW} points, 1.4826·MAD, sigma ≥ {MIN_SIGMA:g}; log space when both losses are positive), "
        "GOOD interpolated to BAD's steps over the steps both logged")


@dataclass
class Band:
    """GOOD's band on BAD's compared steps (in the loss's own units)."""

    steps: object  # np.ndarray of int
    centre: object
    low: object
    high: object
    bad: object


@dataclass
class Result:
    overlap: tuple[int, int] | None
    compared: int
    separation: object  # compare.Separation | None
    band: Band | None


def good_band(good, log: bool):
    """GOOD's finite points, rolling median and robust sigma on its own steps (in log units when ``log``)."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    ok = np.isfinite(good.values) & ((good.values > 0) if log else True)
    steps, values = good.steps[ok], good.values[ok]
    if len(steps) > MAX_POINTS:
        keep = slice(None, None, -(-len(steps) // MAX_POINTS))
        steps, values = steps[keep], values[keep]
    if len(values) == 0:
        return steps, values, values
    y = np.log(values) if log else values
    w = min(WINDOW, len(y) if len(y) % 2 else len(y) - 1)
    half = w // 2
    padded = np.pad(y, half, mode="edge")
    windows = sliding_window_view(padded, w)
    median = np.median(windows, axis=1)
    mad = np.median(np.abs(windows - median[:, None]), axis=1)
    sigma = np.maximum(1.4826 * mad, MIN_SIGMA)
    return steps, median, sigma


def separate(good, bad) -> Result:
    """Compare BAD's loss series with GOOD's band (see the module docstring)."""
    import numpy as np

    from . import Separation

    finite = np.concatenate([good.values[np.isfinite(good.values)], bad.values[np.isfinite(bad.values)]])
    log = bool(finite.size) and bool(np.all(finite > 0))
    g_steps, median, sigma = good_band(good, log)
    if len(g_steps) == 0:
        return Result(None, 0, None, None)
    lo, hi = max(int(g_steps[0]), int(bad.steps[0])), min(int(g_steps[-1]), int(bad.steps[-1]))
    if lo > hi:
        return Result(None, 0, None, None)
    inside = (bad.steps >= lo) & (bad.steps <= hi)
    steps, values = bad.steps[inside], bad.values[inside]
    centre = np.interp(steps, g_steps, median)
    width = BAND_SIGMAS * np.interp(steps, g_steps, sigma)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(values) if log else values
    out = ~np.isfinite(y) | (np.abs(y - centre) > width)
    back = np.exp if log else (lambda a: a)
    band = Band(steps, back(centre), back(centre - width), back(centre + width), values)
    separation = None
    run = np.convolve(out.astype(int), np.ones(PERSIST, dtype=int), mode="valid") if len(out) >= PERSIST else []
    hits = np.flatnonzero(np.asarray(run) == PERSIST)
    if hits.size:
        i = int(hits[0])
        separation = Separation(step=int(steps[i]), good=float(band.centre[i]), bad=json_number(values[i]),
                                band=(float(band.low[i]), float(band.high[i])))
    return Result((lo, hi), len(steps), separation, band)
