"""The fast paths of the detectors equal the NumPy/SciPy expressions and loops they replace, bit for bit.
(The window primitives they stand on, ``detectors/windows.py``, are checked in ``tests/test_windows.py``.)

The references below are the per-window expressions the detectors used before they were made
O(n log w); random data includes NaN, +-inf, ties and windows longer than the series.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from traintriage.detectors import rank
from traintriage.detectors.gradnorm import stats as grad_stats
from traintriage.detectors.loss import overfitting, robust
from traintriage.detectors.robust_stats import MAD_TO_SIGMA, robust_sigma, rolling_median

values = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from([0.0, 1.0, 1.0, 2.0, np.nan, np.inf, -np.inf]),
)
series = arrays(np.float64, st.integers(0, 120), elements=values)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def ref_trailing_noise(y: np.ndarray, window: int) -> np.ndarray:
    n = y.size
    out = np.full(n, np.nan)
    if n < 5:
        return out
    d = np.diff(y)
    for i in range(4, n):
        seg = d[max(0, i - window) : i - 1]
        out[i] = MAD_TO_SIGMA * np.median(np.abs(seg - np.median(seg))) / np.sqrt(2.0)
    return out


@settings(max_examples=200, deadline=None)
@given(series, st.integers(3, 60), st.data())
def test_trailing_noise(y, window, data):
    at = np.array(data.draw(st.lists(st.integers(0, max(0, y.size - 1)), unique=True)) if y.size else [], dtype=int)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        want = ref_trailing_noise(y, window)
        assert same(robust.trailing_noise(y, window), want)
        # Only at some points (what the loss spike detector asks for): the same values there, NaN elsewhere.
        only = np.full(y.size, np.nan)
        only[at] = want[at]
        assert same(robust.trailing_noise(y, window, at=at), only)


def test_trailing_noise_long_series_chunks():
    y = np.log(np.abs(np.random.default_rng(1).normal(size=20_000)) + 0.1)
    assert same(robust.trailing_noise(y, 50), ref_trailing_noise(y, 50))


@pytest.mark.parametrize("trailing", [True, False])
@pytest.mark.parametrize("window", [1, 2, 5, 24, 25, 400])
def test_rolling_median_matches_sliding_window_nanmedian(trailing, window):
    """The one rolling median: centred (``window // 2`` points before, the rest from the point on) by
    default, the ``window`` points strictly before with ``trailing``; even windows included, where the
    two copies it replaced disagreed."""
    from numpy.lib.stride_tricks import sliding_window_view

    x = np.random.default_rng(2).normal(size=3000)
    x[x > 2] = np.nan
    before = window if trailing else window // 2
    after = 0 if trailing else window - before
    padded = np.concatenate([np.full(before, np.nan), x, np.full(after, np.nan)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.nanmedian(sliding_window_view(padded, window)[: x.size], axis=1)
    assert same(rolling_median(x, window, trailing=trailing), want)


def test_robust_sigma_is_zero_on_a_sample_with_no_finite_value():
    """Documented: no spread measured reads as 0.0 (never NaN, which would turn every threshold
    comparison False); the gradient volatility that used a NaN-returning copy never passes an empty sample."""
    assert robust_sigma(np.array([])) == 0.0
    assert robust_sigma(np.array([np.nan, np.inf])) == 0.0
    assert robust_sigma(np.array([1.0, 2.0, 4.0, np.nan])) == pytest.approx(MAD_TO_SIGMA * 1.0)
    assert np.isnan(grad_stats.volatility(np.array([0.0, np.nan])))  # too few points: its own NaN, unchanged


def test_train_level_at_irregular_grid():
    rng = np.random.default_rng(3)
    steps = np.unique(rng.integers(0, 100_000, size=4000))
    y = rng.normal(size=steps.size)
    at = np.sort(rng.integers(-500, 101_000, size=300))
    got = overfitting.train_level_at(steps, y, at, 750.0)
    want = np.empty(at.size)
    for k, s in enumerate(at):
        lo, hi = np.searchsorted(steps, [s - 750.0, s + 750.0], side="left")
        hi = max(hi, lo + 1)
        if lo >= steps.size:
            lo, hi = steps.size - 1, steps.size
        want[k] = np.median(y[lo:hi])
    assert same(got, want)


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(3, 80), elements=st.sampled_from([0.0, 1.0, 2.5, 3.0, -1.0, 7.0])),
       st.randoms())
def test_spearman_matches_scipy(x, rnd):
    from scipy.stats import rankdata, spearmanr

    y = np.array(x[::-1]) + np.array([rnd.random() for _ in x])
    assert np.array_equal(rank.average_ranks(x), rankdata(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = spearmanr(x, y).statistic
    got = rank.spearman(x, y)
    if np.isnan(want):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(want, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, st.integers(1, 150), elements=st.sampled_from([0.0, 1.0, 2.5, -3.0, np.nan, np.inf, -np.inf])
              | st.floats(-5, 5)), st.data())
def test_ranks_of_a_subset_equal_ranking_the_subset_afresh(x, data):
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=x.size, max_size=x.size)))
    keep &= np.isfinite(x)
    assert np.array_equal(rank.RankedSample(x).ranks_of(keep), rank.average_ranks(x[keep]))


def ref_kendall(x: np.ndarray) -> float:
    n = x.size
    if n < 3:
        return 0.0
    s = np.sign(x[None, :] - x[:, None])
    iu = np.triu_indices(n, 1)
    return float(s[iu].sum() / (n * (n - 1) / 2))


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(0, 700), elements=st.sampled_from([0.0, 1.0, 2.0, -1.0]) | st.floats(-9, 9)))
def test_kendall_tau_is_the_all_pairs_sum(x):
    assert robust.kendall_tau(x) == ref_kendall(x)


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(0, 60), elements=st.sampled_from([0.0, 1.0, np.nan, np.inf, -np.inf])
              | st.floats(-9, 9)))
def test_kendall_tau_with_nan_and_infinities_is_the_all_pairs_sum(x):
    with np.errstate(invalid="ignore"):
        want = ref_kendall(x)
    got = robust.kendall_tau(x)
    assert got == want or (np.isnan(got) and np.isnan(want))


def test_kendall_tau_of_a_long_series_is_bounded_and_keeps_the_trend():
    rng = np.random.default_rng(4)
    x = np.linspace(0, 1, 50_000) + rng.normal(scale=0.3, size=50_000)
    thinned = x[np.linspace(0, x.size - 1, robust.KENDALL_MAX_POINTS).astype(int)]
    assert robust.kendall_tau(x) == ref_kendall(thinned)
    assert robust.kendall_tau(x) > 0.5


def ref_episode(val_y, tr, sig):
    """The per-candidate loop _episode replaced."""
    n = val_y.size
    disruptions = np.flatnonzero(np.diff(val_y) > max(overfitting.DISRUPTION_JUMP, 5 * sig)) + 1
    limit = max(overfitting.EPISODE_RISE, overfitting.RISE_Z * sig)
    running_min = np.minimum.accumulate(val_y)
    best = None
    for b in np.flatnonzero(val_y <= running_min):
        end = int(disruptions[disruptions > b][0]) if np.any(disruptions > b) else n
        if end - b < overfitting.EPISODE_MIN_POINTS:
            continue
        p = b + int(np.argmax(val_y[b:end]))
        if p - b + 1 < overfitting.EPISODE_MIN_POINTS:
            continue
        level = float(np.median(val_y[max(b, p - 2) : p + 1]))
        rise = level - float(val_y[b])
        if (rise <= limit or ref_kendall(val_y[b : p + 1]) < overfitting.EPISODE_TAU
                or tr[b] - tr[p] < overfitting.TRAIN_FALL):
            continue
        if best is None or rise > best[0]:
            best = (rise, int(b), int(p))
    return None if best is None else (best[1], best[2])


@settings(max_examples=100, deadline=None)
@given(st.integers(5, 200), st.randoms(), st.floats(0.0, 0.3))
def test_episode_matches_the_loop_it_replaced(n, rnd, sig):
    # Validation curves that fall, rise in episodes, jump (disruptions) and repeat values (ties).
    y = np.empty(n)
    level = 1.0
    for i in range(n):
        r = rnd.random()
        level += -0.05 if r < 0.45 else 0.04 if r < 0.85 else (0.6 if r < 0.9 else 0.0)
        y[i] = round(level + rnd.choice([0.0, 0.01, -0.01]), 2)
    tr = -np.cumsum([rnd.random() * 0.05 for _ in range(n)])
    assert overfitting._episode(np.arange(n), y, tr, sig) == ref_episode(y, tr, sig)


# ----------------------------------------------------------------------------------------------
# traintriage.parallel: independent work on several cores
# ----------------------------------------------------------------------------------------------


def test_map_each_keeps_order_runs_in_the_callers_budget_and_raises_its_stop(monkeypatch):
    import threading

    from traintriage import parallel
    from traintriage.limits import Budget, CallCancelled, CallLimits, active, check_budget, current_budget

    if parallel._workers() < 2:
        monkeypatch.setattr(parallel, "_workers", lambda: 2)
    threads: set[int] = set()
    budgets = []

    def work(i: int) -> int:
        threads.add(threading.get_ident())
        budgets.append(current_budget())
        check_budget()
        return i * i

    items = list(range(40))
    assert parallel.map_each(work, items, points=10) == [i * i for i in items]
    assert threads == {threading.get_ident()}  # small work: the calling thread alone

    budget = Budget("analyze_gradnorm", CallLimits(timeout_s=None, memory_mb=None))
    threads.clear()
    with active(budget):
        assert parallel.map_each(work, items, points=10**6) == [i * i for i in items]
    assert threading.get_ident() not in threads  # large work: the pool's threads
    assert budgets[-1] is budget and all(b is budget for b in budgets[40:])  # the caller's budget, in each task

    budget.stop(CallCancelled("analyze_gradnorm was cancelled"))  # a cancelled call stops its tasks too
    with active(budget), pytest.raises(CallCancelled):
        parallel.map_each(work, items, points=10**6)


@settings(max_examples=300, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 14), elements=st.one_of(st.floats(-50, 50), st.sampled_from([0.0, 1.0, 2.0]))),
    arrays(np.float64, st.integers(1, 14), elements=st.one_of(st.floats(-50, 50), st.sampled_from([0.0, 1.0, 2.0]))),
)
def test_mann_whitney_u_p_equals_scipy(x, y):
    from scipy.stats import mannwhitneyu

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = mannwhitneyu(x, y, alternative="two-sided").pvalue
    got = rank.mann_whitney_u_p(x, y)
    assert (np.isnan(want) and np.isnan(got)) or abs(got - want) <= 1e-12, (got, want)


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(1, 400), elements=st.sampled_from([0.0, 1.0, -2.0, np.inf, np.nan])
              | st.floats(-9, 9)), st.integers(1, 120))
def test_block_medians_are_each_blocks_median(y, blocks):
    meds, starts = robust.block_medians(y, blocks)
    edges = np.linspace(0, y.size, max(1, min(blocks, y.size)) + 1).astype(int)
    with np.errstate(invalid="ignore"):
        want = np.array([np.median(y[a:b]) for a, b in itertools.pairwise(edges)])
    assert np.array_equal(starts, edges[:-1]) and np.array_equal(meds, want, equal_nan=True)


def ref_theil_sen(t: np.ndarray, y: np.ndarray) -> float:
    """The n x n matrices theil_sen_slope used before it gathered the pairs directly."""
    dt = t[None, :] - t[:, None]
    dy = y[None, :] - y[:, None]
    iu = np.triu_indices(t.size, 1)
    ok = dt[iu] != 0
    return float(np.median(dy[iu][ok] / dt[iu][ok])) if ok.any() else 0.0


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 400).flatmap(lambda n: st.tuples(
    arrays(np.float64, n, elements=st.integers(0, 50).map(float)), arrays(np.float64, n, elements=st.floats(-9, 9)))))
def test_theil_sen_slope_is_the_median_of_pairwise_slopes(ty):
    t, y = np.sort(ty[0]), ty[1]
    assert robust.theil_sen_slope(t, y) == ref_theil_sen(t, y)
