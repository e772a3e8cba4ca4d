"""``detectors/windows.py``: each window primitive equals the NumPy expression its docstring states, bit for bit.

Every detector's baseline is one of these (rolling medians, medians of fixed windows, trailing MADs,
column medians), computed in O(n log w) through bottleneck's moving median or a partition of gathered
windows instead of one ``np.median`` per window. The reference is that per-window expression, on random
data with NaN, +-inf and ties, and windows longer than the series; a difference in the last bit counts.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from test_fast_paths import same, series, values  # the same random data (NaN, +-inf, ties), bitwise check

from traintriage.detectors import windows


def ref_clipped(x: np.ndarray, window: int, before: int) -> np.ndarray:
    out = np.full(x.size, np.nan)
    for i in range(x.size):
        seg = x[max(0, i - before) : max(0, i - before + window)]
        seg = seg[~np.isnan(seg)]
        if seg.size:
            out[i] = np.median(seg)
    return out


@settings(max_examples=300, deadline=None)
@given(series, st.integers(1, 60), st.booleans())
def test_clipped_rolling_median_is_nanmedian_of_each_window(x, window, trailing):
    before = window if trailing else window // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert same(windows.clipped_rolling_median(x, window, before), ref_clipped(x, window, before))


@settings(max_examples=200, deadline=None)
@given(series, st.integers(1, 60))
def test_full_window_medians(x, window):
    want = np.array([np.median(x[j : j + window]) for j in range(x.size - window + 1)]) if x.size >= window else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert same(windows.full_window_medians(x, window), np.asarray(want, dtype=np.float64).reshape(-1))


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(0, 30), st.integers(0, 40)), elements=values), st.integers(1, 50))
def test_column_nanmedians(mat, block):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.nanmedian(mat, axis=0) if mat.shape[0] else np.full(mat.shape[1], np.nan)
    default = windows._COLUMN_BLOCK
    try:
        windows._COLUMN_BLOCK = block  # columns are taken a block at a time: any block size, same answer
        assert same(windows.column_nanmedians(mat), np.asarray(want, dtype=np.float64))
    finally:
        windows._COLUMN_BLOCK = default


@settings(max_examples=200, deadline=None)
@given(series, st.data())
def test_slice_medians(x, data):
    n = x.size
    if n == 0:
        return
    k = data.draw(st.integers(0, 40))
    lo = np.sort(np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k)), dtype=np.int64))
    lengths = np.array(data.draw(st.lists(st.integers(1, 12), min_size=k, max_size=k)), dtype=np.int64)
    hi = np.minimum(lo + lengths, n)
    want = np.array([np.median(x[a:b]) for a, b in zip(lo, hi, strict=True)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert same(windows.slice_medians(x, lo, hi), want.reshape(-1))


def test_slice_medians_many_rows_of_one_length():
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    x[::97] = np.nan
    lo = np.arange(0, 4900, 3)
    hi = lo + 37
    want = np.array([np.median(x[a:b]) for a, b in zip(lo, hi, strict=True)])
    assert same(windows.slice_medians(x, lo, hi), want)




def ref_trailing_mad(d: np.ndarray, ends: np.ndarray, window: int) -> np.ndarray:
    out = np.full(ends.size, np.nan)
    for k, e in enumerate(ends):
        seg = d[max(0, e - window) : e]
        if seg.size:
            out[k] = np.median(np.abs(seg - np.median(seg)))
    return out


@settings(max_examples=300, deadline=None)
@given(series, st.integers(1, 60), st.data())
def test_trailing_mad_is_the_mad_of_each_trailing_window(d, window, data):
    """Rows whose window is still filling (the first ``window``) and full rows (the gathered matrix) alike;
    a NaN in a window makes its MAD NaN, as ``np.median`` does."""
    ends = np.array(data.draw(st.lists(st.integers(0, d.size), max_size=40)), dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert same(windows.trailing_mad(d, ends, window), ref_trailing_mad(d, ends, window))


@pytest.mark.parametrize("window", [2, 7, 50])
def test_trailing_mad_of_a_long_series_across_chunks(window):
    """Full windows are gathered a chunk of rows at a time; an even window takes the mean of the middle
    pair. 20k rows with NaN and ties: the same numbers as one np.median per window."""
    rng = np.random.default_rng(7)
    d = np.round(rng.normal(size=20_000), 2)  # rounded: many ties
    d[::501] = np.nan
    ends = np.arange(d.size + 1)
    assert same(windows.trailing_mad(d, ends, window), ref_trailing_mad(d, ends, window))


def test_clipped_rolling_median_trailing_window_excludes_the_point_itself():
    """``before = window``: a point is judged against the points before it only, so a spike cannot raise
    its own baseline; the first point has no history (NaN)."""
    x = np.array([1.0, 1.0, 1.0, 100.0, 1.0])
    out = windows.clipped_rolling_median(x, 3, 3)
    assert np.isnan(out[0]) and out[3] == 1.0 and out[4] == 1.0
