"""Thresholds pinned by behaviour on real runs: just below each, nothing; just above it, a finding.

``tests/test_rule_thresholds.py`` ties every constant to its reference page, but a page and a constant that both
moved would pass it, and the mutation pass (``benchmarks/mutation.py``) showed that scaling most thresholds by
1.5 left every test green: no test sat near them. Here a real run's loss (``healthy_resumed`` of the labelled
corpus: a PyTorch run resumed from a checkpoint, per-step minibatch loss) gets one event injected at a step
chosen for its local noise, sized *relative to the detector's own baseline there* (the median of the 50 points
before it), and the documented values decide:

* ``MIN_RATIO = 3.0``: a jump held for 8 points, 2.7x the baseline, is not a spike; 3.3x is.
* ``Z_THRESHOLD = 6``: where the local noise is 0.23 (log units), 3.6x (above the ratio floor, 5.5 sigma) is not;
  5.5x (7.4 sigma) is.
* ``PERSIST_RATIO = 2.0``: a 5x point followed by five points at 2.3x the baseline damaged the model (a finding);
  followed by points at 1.7x it is an isolated outlier, too small for the isolated rule.
* ``ISOLATED_MIN_RATIO = 20``: a one-point outlier of 18x is minibatch noise; 22x is a spike.
* ``ISOLATED_Z = 10``: where the local noise is 0.36 (``healthy_lstm``), a one-point 25x outlier (9 sigma) is not;
  40x (10.3 sigma) is.
* ``CRITICAL_RATIO = 100``: a one-point spike that recovered is a warning at 90x, critical at 110x.
* ``SPIKE_EVENT_MAX_GAP = 2``: two spikes with two quiet points between them are one event; with three, two.
* ``MIN_IMPACT = 0.05``: late in ``healthy_hf_cosine`` (loss ~0.03 against 2.1 at the start) a held 3.1x jump
  moves the loss by less than 5 % of the initial loss and is not reported; 3.7x moves it by more.
* ``SMOOTH_MIN_RATIO = 1.3``: on a smooth series (a Keras run's per-epoch validation loss) 1.25x is not a spike;
  1.35x is.
* ``MIN_POINTS = 20``: the same series cut to its first 19 epochs is too short to judge; cut to 20, a 1.5x jump
  in its last epochs is a spike.

Not pinned here: ``LOCAL_NOISE_FLOOR`` (no corpus run has a window quieter than a quarter of its run's noise,
where the floor would act) and ``MAX_EVENT_FRACTION`` (a held jump stops being flagged once the trailing
median climbs to it, long before 5 % of a run).

``divergence`` (block medians of the log loss, ~20 blocks): the last 30 % of a real run gets a rise that grows
linearly in log space, and the level of its last two blocks against its best block decides:

* ``DIVERGENCE_MIN_RATIO = 1.5``: 1.39x is not a divergence; 1.61x is.
* ``DIVERGENCE_CRITICAL_RATIO = 3``: 2.73x is a warning; 3.55x critical.
* ``DIVERGENCE_Z = 4``: a noisy run logged every 10th step (block noise 0.21: 4 sigma is 2.3x) does not diverge
  at 2.18x; at 2.49x it does, with blocks only 0.55 concordant (``DIVERGENCE_MIN_TAU = 0.4``: still a trend).
* ``DIVERGENCE_MIN_FRACTION = 0.1``: a rise over the last 10 % of a run that counts from its best block, 15 % from
  the end, is a divergence.
* ``WARMUP_EXCUSE_RATIO = 3``: the same run's first 90 steps, all inside its LR warmup (to step 98), given a rise:
  2.72x is excused as warmup; 3.73x is not.
* ``MIN_POINTS_DIVERGENCE = 8``: a 10-epoch log whose last four epochs climb to 5x is judged by blocks and
  diverges (the short-log rule below would want 10x).
* ``SHORT_BLOWUP = log 10`` and ``SHORT_MIN_POINTS = 4``: a log too short for blocks (the first epochs of a Keras
  run, then a blow-up) diverges when its last two points average past 10x its best: 9.5x is not enough, 10.4x is;
  three points are too few to judge.

``plateau``: the last part of ``healthy_hf_cosine`` is made flat (its level held, its own minibatch noise kept):

* ``PLATEAU_MIN_FRACTION = 0.3``: a flat 28 % at the end is not a plateau; a flat 32 % (with the cosine's own
  flattening, 40 % of the run) is one, as info: the run had learned.
* ``WASTED_FRACTION = 0.5``: flat for 45 % of the run it stays info; for 60 % it is a warning (the compute bought
  nothing).

``stuck_loss``: part of ``healthy_resumed``'s loss (1,200 points) repeats one value, as when the LR is zero:

* ``STUCK_MIN_FRACTION = 0.1``: repeated over 9 % of the points is not reported; over 11 % it is.
* ``STUCK_CRITICAL_SHARE = 0.5``: over 45 % a warning, over 55 % critical.
* ``STUCK_REL = 2e-5``: a value that moves by 1.5e-5 of itself per log is stuck; by 2.5e-5 it is moving.

``zero_loss``: the last tenth of ``healthy_resumed``'s loss (which starts at 1.34) is moved to a chosen level, its
own noise kept:

* ``ZERO_REL = 1e-4`` (of the first value, here 1.34e-4): ending at 1.1e-4 is a zero loss; at 1.6e-4 it is only
  the weaker "near zero" rule. ``ZERO_ABS = 1e-4`` decides instead for the same run reported at 0.3 of its scale
  (first value 0.40): 0.9e-4 is zero, 1.1e-4 near zero.
* ``ZERO_EXACT = 1e-8``: ending at 9e-9 is exactly zero (critical), at 1.2e-8 near it (a warning).
* ``MEMORIZED_RATIO = 100``: at 1e-4 with a validation loss 90x higher it is a leak (a warning); 110x higher, a
  memorised training set (info).
* ``NEAR_ZERO_ABS = 0.01`` and ``NEAR_ZERO_FALL = 50``: with no validation loss, ending at 0.009 is near zero and
  0.011 is not; at 0.3 of its scale, ending 57x below its start is near zero and 42x below is not.

``oscillation``: ``healthy_hf_cosine`` held at its level after its first 35 % (its own noise scaled by ``c``), with
waves of 60 steps added to the last 60 %, the window the detector judges:

* ``MIN_SWING = log 2``: with half the run's noise, a 10-90 % swing around the trend of 1.93x is not an
  oscillation; 2.03x is.
* ``MIN_ABS_AUTOCORR = 0.5``: with twice the run's noise over larger waves, a lag-1 autocorrelation of 0.53 is
  structure; 0.44 is noise.
* ``PROGRESS_SHARE = 0.5``: waves over a trend that falls by 0.40 of the swing are an oscillation "without
  progress"; falling by 0.67 of it, the run is still learning.

The numbers are written here, not read from the thresholds modules, so that changing a threshold fails a test;
each case first checks the conditions under which the threshold named is the one that decides. If the corpus is
regenerated (a new torch build draws other batches), those checks say which step or factor to choose again.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from traintriage import api
from traintriage.detectors.loss.robust import SMOOTH_NOISE, block_medians, diff_noise, kendall_tau, trailing_noise
from traintriage.detectors.loss.spike import baseline_window, detect_loss_spikes
from traintriage.detectors.loss.trend import _block_sigma, _blocks, detect_divergence
from traintriage.sandbox import Sandbox

CORPUS = Path(__file__).resolve().parent.parent / "benchmarks" / "corpus" / "runs"


def _series(run: str, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(steps, log values) of a corpus run's training loss, or of the series ``name``."""
    data = api.load(CORPUS / run, sandbox=Sandbox.unrestricted())
    s = data.series[name] if name else data.get(data.roles.train_loss)
    return s.steps, np.log(s.values.astype(np.float64))


@pytest.fixture(scope="module")
def loss() -> tuple[np.ndarray, np.ndarray]:
    steps, y = _series("healthy_resumed")
    assert diff_noise(y) >= SMOOTH_NOISE  # a per-step minibatch loss: the 3x ratio floor applies, not 1.3x
    return steps, y


def _local(y: np.ndarray, k: int) -> tuple[float, float]:
    """The detector's baseline (log) and local noise at index ``k`` (its floor of a quarter of the run's noise)."""
    w = baseline_window(y.size)
    sigma = max(float(trailing_noise(y, w, at=np.array([k]))[k]), 0.25 * diff_noise(y))
    return float(np.median(y[k - w : k])), sigma


def _spikes_at(steps: np.ndarray, y: np.ndarray, k: int) -> list:
    step = int(steps[k])
    return [f for f in detect_loss_spikes("loss", steps, y) if f.step_start <= step <= f.step_end]


def _with(y: np.ndarray, k: int, ratios: list[float]) -> np.ndarray:
    """``y`` with points k, k+1, ... set to the given multiples of the baseline at k."""
    base, _ = _local(y, k)
    out = y.copy()
    out[k : k + len(ratios)] = base + np.log(ratios)
    return out


QUIET = 750  # local noise 0.135: 6 sigma is 2.25x, below the 3x floor, so the floor decides
NOISY = 420  # local noise 0.231: 6 sigma is 4.0x, above the floor, so the sigmas decide


def test_the_ratio_floor_decides_where_the_local_noise_is_low(loss) -> None:
    steps, y = loss
    _, sigma = _local(y, QUIET)
    assert 6 * sigma < math.log(2.7)
    assert not _spikes_at(steps, _with(y, QUIET, [2.7] * 8), QUIET)
    [spike] = _spikes_at(steps, _with(y, QUIET, [3.3] * 8), QUIET)
    assert spike.code == "loss_spike" and spike.details["ratio"] == pytest.approx(3.3)


def test_six_local_sigmas_decide_where_the_local_noise_is_high(loss) -> None:
    steps, y = loss
    _, sigma = _local(y, NOISY)
    assert math.log(3.6) / sigma < 6 < math.log(5.5) / sigma  # both above the 3x floor; 5.5 and 7.4 sigma
    assert not _spikes_at(steps, _with(y, NOISY, [3.6] * 8), NOISY)
    assert _spikes_at(steps, _with(y, NOISY, [5.5] * 8), NOISY)


def test_a_spike_that_leaves_the_loss_twice_as_high_is_one_that_counts(loss) -> None:
    steps, y = loss
    assert _spikes_at(steps, _with(y, QUIET, [5.0] + [2.3] * 5), QUIET)
    assert not _spikes_at(steps, _with(y, QUIET, [5.0] + [1.7] * 5), QUIET)  # isolated, and 5x < 20x


def test_a_one_point_outlier_counts_from_twenty_times_the_baseline(loss) -> None:
    steps, y = loss
    _, sigma = _local(y, QUIET)
    assert math.log(18) / sigma > 10  # the 10-sigma condition holds for both: the ratio decides
    assert not _spikes_at(steps, _with(y, QUIET, [18.0]), QUIET)
    [spike] = _spikes_at(steps, _with(y, QUIET, [22.0]), QUIET)
    assert spike.details["recovered"] and spike.severity == "warning"


def test_a_recovered_spike_is_critical_from_a_hundred_times_the_baseline(loss) -> None:
    steps, y = loss
    [below] = _spikes_at(steps, _with(y, QUIET, [90.0]), QUIET)
    [above] = _spikes_at(steps, _with(y, QUIET, [110.0]), QUIET)
    assert below.details["recovered"] and above.details["recovered"]
    assert (below.severity, above.severity) == ("warning", "critical")


def test_a_one_point_outlier_needs_ten_local_sigmas_too() -> None:
    steps, y = _series("healthy_lstm")
    k = 290
    _, sigma = _local(y, k)
    assert math.log(25) / sigma < 10 < math.log(40) / sigma  # both past the 20x ratio: the sigmas decide
    assert not _spikes_at(steps, _with(y, k, [25.0]), k)
    assert _spikes_at(steps, _with(y, k, [40.0]), k)


def test_spikes_two_quiet_points_apart_are_one_event_three_apart_two(loss) -> None:
    steps, y = loss
    base, _ = _local(y, QUIET)
    for gap, events in ((3, [(QUIET, QUIET + 3)]), (4, [(QUIET, QUIET), (QUIET + 4, QUIET + 4)])):
        hit = _with(y, QUIET, [22.0])
        hit[QUIET + gap] = base + math.log(22.0)
        found = [f for f in detect_loss_spikes("loss", steps, hit) if f.step_start >= int(steps[QUIET - 10])]
        assert [(f.step_start, f.step_end) for f in found] == [(int(steps[a]), int(steps[b])) for a, b in events]


def test_a_jump_too_small_to_matter_at_the_scale_of_the_run_is_not_reported() -> None:
    steps, y = _series("healthy_hf_cosine")
    k = 1300
    base, sigma = _local(y, k)
    initial = math.exp(float(np.median(y[:10])))  # the detector's scale: the first points' median
    assert 6 * sigma < math.log(3.1)  # above the 3x floor and the sigmas: only the impact differs
    assert math.exp(base) * (3.1 - 1) < 0.05 * initial < math.exp(base) * (3.7 - 1)
    assert not _spikes_at(steps, _with(y, k, [3.1] * 8), k)
    assert _spikes_at(steps, _with(y, k, [3.7] * 8), k)


def test_a_smooth_series_has_a_lower_ratio_floor() -> None:
    steps, y = _series("healthy_keras_epochs", "validation/epoch_loss")
    assert diff_noise(y) < SMOOTH_NOISE
    k = 45
    assert not _spikes_at(steps, _with(y, k, [1.25]), k)
    assert _spikes_at(steps, _with(y, k, [1.35]), k)


def test_a_series_needs_twenty_points_to_be_judged_for_spikes() -> None:
    steps, y = _series("healthy_keras_epochs", "validation/epoch_loss")
    for n, found in ((19, False), (20, True), (25, True)):
        k = n - 3
        assert bool(_spikes_at(steps[:n], _with(y[:n], k, [1.5]), k)) is found, n


# --- divergence ------------------------------------------------------------------------------------------------


def _rising(y: np.ndarray, factor: float, start: float = 0.7) -> np.ndarray:
    """``y`` with a rise added over its last ``1 - start``: linear in log space, to ``factor`` x at the end."""
    out = y.copy()
    s = int(y.size * start)
    out[s:] += np.linspace(0.0, math.log(factor), y.size - s)
    return out


def _levels(steps: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """What the block rule weighs: (last two blocks over the best block, 4 block sigmas as a ratio, Kendall tau of
    the blocks from the best on, the share of the run from the best block to the end)."""
    nb = _blocks(y.size)
    meds, starts = block_medians(y, nb)
    best = int(np.argmin(meds[:-1]))
    ratio = math.exp(float(np.median(meds[-2:])) - meds[best])
    frac = (steps[-1] - steps[int(starts[best])]) / (steps[-1] - steps[0])
    return ratio, math.exp(4 * _block_sigma(y, meds.size)), kendall_tau(meds[best:]), frac


def _diverges(steps: np.ndarray, y: np.ndarray) -> list[str]:
    return [f.severity for f in detect_divergence("loss", steps, y)]


def test_a_rise_diverges_from_one_and_a_half_times_the_best_level_and_is_critical_from_three() -> None:
    steps, y = _series("healthy_hf_cosine")
    cases = [(1.6, (1.3, 1.5), []), (1.9, (1.5, 1.7), ["warning"]), (3.6, (2.5, 3.0), ["warning"]),
             (5.0, (3.0, 4.0), ["critical"])]
    for factor, (lo, hi), expected in cases:
        rising = _rising(y, factor)
        ratio, z_limit, tau, frac = _levels(steps, rising)
        assert lo < ratio < hi and z_limit < 1.3 and tau >= 0.4 and frac >= 0.1, (factor, ratio)
        assert _diverges(steps, rising) == expected, (factor, ratio)


def test_a_noisy_run_must_rise_past_four_block_sigmas() -> None:
    steps, y = _series("healthy_small_batch_noisy")
    steps, y = steps[::10], y[::10]  # logged every 10th step: 10 points per block, so noisy block medians
    for factor, found in ((2.4, False), (2.8, True), (3.2, True)):
        rising = _rising(y, factor)
        ratio, z_limit, tau, frac = _levels(steps, rising)
        assert ratio > 1.5 and 2.2 < z_limit < 2.4 and tau >= 0.4 and frac >= 0.1, (factor, ratio)
        assert (ratio > z_limit) is found and bool(_diverges(steps, rising)) is found, (factor, ratio)
    ratio, _, tau, _ = _levels(steps, _rising(y, 2.8))
    assert ratio < 2.5 and tau < 0.6  # a loosely monotone climb (0.55) counts as a trend


def test_a_rise_inside_the_lr_warmup_is_excused_below_three_times_the_best() -> None:
    from traintriage.detectors.loss.schedule import read_schedule

    data = api.load(CORPUS / "healthy_hf_cosine", sandbox=Sandbox.unrestricted())
    lr = data.get(data.roles.lr)
    schedule = read_schedule(lr.name, lr.steps, lr.values)
    steps, y = _series("healthy_hf_cosine")
    steps, y = steps[:90], y[:90]
    assert schedule.warmup_end is not None and schedule.in_warmup(int(steps[-1]))
    for factor, (lo, hi), expected in ((4.0, (2.5, 3.0), []), (6.0, (3.5, 4.0), ["critical"])):
        rising = _rising(y, factor, start=0.5)
        ratio, z_limit, tau, frac = _levels(steps, rising)
        assert lo < ratio < hi and ratio > z_limit and tau >= 0.4 and frac >= 0.1, factor
        assert _diverges(steps, rising) != []  # without the schedule: a divergence either way
        assert [f.severity for f in detect_divergence("loss", steps, rising, schedule=schedule)] == expected


def test_a_rise_counts_when_it_spans_a_tenth_of_the_run() -> None:
    steps, y = _series("healthy_hf_cosine")
    rising = _rising(y, 3.0, start=0.9)
    ratio, _, _, frac = _levels(steps, rising)
    assert ratio > 1.5 and 0.1 <= frac < 0.15
    assert _diverges(steps, rising) == ["warning"]


def test_ten_points_are_judged_by_blocks_not_by_the_short_log_rule() -> None:
    steps, y = _series("healthy_keras_epochs", "validation/epoch_loss")
    climbing = y[:10].copy()
    climbing[6:] = y[5] + np.log([2.0, 3.0, 4.0, 5.0])
    assert _diverges(steps[:10], climbing) == ["warning"]


def test_a_short_log_diverges_when_it_ends_ten_times_above_its_best() -> None:
    steps, y = _series("healthy_keras_epochs", "validation/epoch_loss")
    best = y[3]  # the first four epochs fall to their best, then three blown-up epochs
    for last, found in ((15.0, False), (18.0, True)):
        blown = np.concatenate([y[:4], best + np.log([3.0, 6.0, last])])
        assert (math.sqrt(6.0 * last) > 10) is found  # the last two points' median (in log space), over the best
        assert bool(_diverges(steps[:7], blown)) is found, last
    four = np.concatenate([y[:2], y[1] + np.log([6.0, 20.0])])  # best at the second point, then 6x and 20x
    assert _diverges(steps[:4], four) == ["critical"]
    assert _diverges(steps[:3], four[1:]) == []  # the same blow-up in three points: too few to judge


# --- plateau ---------------------------------------------------------------------------------------------------


def _flat_tail(y: np.ndarray, share: float) -> np.ndarray:
    """``y`` with its last ``share`` held at the level it had reached, its own noise kept (the points' deviations
    from their rolling median)."""
    from traintriage.detectors.robust_stats import rolling_median

    out = y.copy()
    s = int(y.size * (1 - share))
    tail = y[s:]
    out[s:] = float(np.median(y[s - 25 : s])) + (tail - rolling_median(tail, 51))
    return out


def test_a_flat_end_is_a_plateau_from_three_tenths_of_the_run_and_wasted_compute_from_half() -> None:
    from traintriage.detectors.loss.trend import detect_plateau

    steps, y = _series("healthy_hf_cosine")
    assert detect_plateau("loss", steps, _flat_tail(y, 0.28)) == []
    [converged] = detect_plateau("loss", steps, _flat_tail(y, 0.32))
    assert converged.severity == "info" and 0.3 <= converged.details["fraction"] < 0.45
    [most] = detect_plateau("loss", steps, _flat_tail(y, 0.4))
    assert most.severity == "info" and 0.4 < most.details["fraction"] < 0.5
    [wasted] = detect_plateau("loss", steps, _flat_tail(y, 0.55))
    assert wasted.severity == "warning" and wasted.details["wasted_compute"] and 0.5 <= wasted.details["fraction"] < 0.7


# --- stuck_loss ------------------------------------------------------------------------------------------------


def _held(values: np.ndarray, share: float, drift: float = 0.0) -> np.ndarray:
    """``values`` whose last ``share`` repeats the value at its start, times ``(1 + drift)`` per point."""
    out = values.copy()
    s = round(values.size * (1 - share))
    out[s:] = values[s] * (1.0 + drift) ** np.arange(values.size - s)
    return out


def test_a_repeated_loss_is_stuck_from_a_tenth_of_the_run_and_critical_from_half(loss) -> None:
    from traintriage.detectors.loss.numeric import detect_stuck_loss

    steps, y = loss
    values = np.exp(y)
    assert detect_stuck_loss("loss", steps, _held(values, 0.09)) == []
    assert [f.severity for f in detect_stuck_loss("loss", steps, _held(values, 0.11))] == ["warning"]
    assert [f.severity for f in detect_stuck_loss("loss", steps, _held(values, 0.45))] == ["warning"]
    assert [f.severity for f in detect_stuck_loss("loss", steps, _held(values, 0.55))] == ["critical"]


def test_a_loss_moving_in_its_fifth_digit_is_not_stuck(loss) -> None:
    from traintriage.detectors.loss.numeric import detect_stuck_loss

    steps, y = loss
    values = np.exp(y)
    assert [f.code for f in detect_stuck_loss("loss", steps, _held(values, 0.3, drift=1.5e-5))] == ["stuck_loss"]
    assert detect_stuck_loss("loss", steps, _held(values, 0.3, drift=2.5e-5)) == []


# --- zero_loss -------------------------------------------------------------------------------------------------


def _ending_at(values: np.ndarray, level: float) -> np.ndarray:
    """``values`` whose last tenth is moved to ``level`` (its median), the points' own scatter kept."""
    out = values.copy()
    k = values.size // 10
    tail = np.log(values[-k:])
    out[-k:] = level * np.exp(tail - np.median(tail))
    return out


def _zero(steps, values, **kw) -> list[tuple[str, str]]:
    """(severity, which rule) of the zero_loss findings: the strict one ("at ... zero") or "near zero"."""
    from traintriage.detectors.loss.numeric import detect_zero_loss

    found = detect_zero_loss("loss", steps, values, **kw)
    return [(f.severity, "near" if "below its start" in f.title else "zero") for f in found]


def test_a_loss_is_zero_below_one_ten_thousandth_of_its_start_or_of_one(loss) -> None:
    steps, y = loss
    values = np.exp(y)
    assert 1.3 < np.median(values[:5]) < 1.4  # the detector's first value: the median of the first 5 points
    assert _zero(steps, _ending_at(values, 1.1e-4)) == [("warning", "zero")]
    assert _zero(steps, _ending_at(values, 1.6e-4)) == [("warning", "near")]
    smaller = values * 0.3  # first value 0.40: 1e-4 of it is below the absolute floor of 1e-4
    assert _zero(steps, _ending_at(smaller, 0.9e-4)) == [("warning", "zero")]
    assert _zero(steps, _ending_at(smaller, 1.1e-4)) == [("warning", "near")]


def test_an_exactly_zero_loss_is_critical(loss) -> None:
    steps, y = loss
    assert _zero(steps, _ending_at(np.exp(y), 9e-9)) == [("critical", "zero")]
    assert _zero(steps, _ending_at(np.exp(y), 1.2e-8)) == [("warning", "zero")]


def test_a_validation_loss_a_hundred_times_higher_means_memorised_not_leaked(loss) -> None:
    steps, y = loss
    ending = _ending_at(np.exp(y), 1e-4)
    assert _zero(steps, ending, reference=90 * 1e-4) == [("warning", "zero")]
    assert _zero(steps, ending, reference=110 * 1e-4) == [("info", "zero")]


def test_without_a_validation_loss_near_zero_is_below_a_hundredth_and_fifty_times_below_the_start(loss) -> None:
    steps, y = loss
    values = np.exp(y)
    assert _zero(steps, _ending_at(values, 0.009)) == [("warning", "near")]
    assert _zero(steps, _ending_at(values, 0.011)) == []
    smaller = values * 0.3
    first = float(np.median(smaller[:5]))
    assert first / 0.007 > 50 > first / 0.0095
    assert _zero(steps, _ending_at(smaller, 0.007)) == [("warning", "near")]
    assert _zero(steps, _ending_at(smaller, 0.0095)) == []


# --- oscillation -----------------------------------------------------------------------------------------------


def _waves(y: np.ndarray, amplitude: float, noise: float, fall: float = 0.0) -> np.ndarray:
    """``y`` held at its level after 35 % of the run, its own noise times ``noise``, with waves of 60 steps (log
    amplitude ``amplitude``) over the last 60 %, on a trend falling by ``fall`` (log) across them."""
    from traintriage.detectors.robust_stats import rolling_median

    held = _flat_tail(y, 0.65)
    level = rolling_median(held, 51)
    out = level + noise * (held - level)
    a = int(y.size * 0.4)
    t = np.arange(y.size - a)
    out[a:] += amplitude * np.sin(2 * np.pi * t / 60) - np.linspace(0.0, fall, t.size)
    return out


def _oscillation_measures(y: np.ndarray) -> tuple[float, float, int, float]:
    """What the detector weighs on the last 60 %: (10-90 % swing of the detrended points as a ratio, their lag-1
    autocorrelation, sign changes, the trend's fall as a share of the swing)."""
    from traintriage.detectors.loss.robust import lag1_autocorr
    from traintriage.detectors.robust_stats import rolling_median

    tail = y[int(y.size * 0.4) :]
    trend = rolling_median(tail, max(5, tail.size // 5))
    resid = tail - trend
    q10, q90 = np.percentile(resid, [10, 90])
    signs = np.sign(resid[resid != 0])
    k = max(2, tail.size // 10)
    fall = float(np.median(trend[:k]) - np.median(trend[-k:]))
    return math.exp(q90 - q10), lag1_autocorr(resid), int(np.count_nonzero(signs[1:] != signs[:-1])), fall / (q90 - q10)


def _oscillates(steps: np.ndarray, y: np.ndarray) -> bool:
    from traintriage.detectors.loss.oscillation import detect_oscillation

    return bool(detect_oscillation("loss", steps, y))


def test_waves_oscillate_from_a_twofold_swing() -> None:
    steps, y = _series("healthy_hf_cosine")
    for amplitude, found in ((0.33, False), (0.36, True)):
        waves = _waves(y, amplitude, noise=0.5)
        swing, ac, crossings, fall = _oscillation_measures(waves)
        assert (2.0 < swing < 2.1) if found else (1.9 < swing < 2.0), swing
        assert ac > 0.8 and crossings >= 6 and fall < 0.5
        assert _oscillates(steps, waves) is found


def test_waves_oscillate_when_the_detrended_loss_is_autocorrelated_by_half() -> None:
    steps, y = _series("healthy_hf_cosine")
    for noise, found in ((2.0, True), (2.4, False)):
        waves = _waves(y, 0.6, noise=noise)
        swing, ac, crossings, fall = _oscillation_measures(waves)
        assert swing > 2.0 and crossings >= 6 and fall < 0.5
        assert (0.5 < ac < 0.6) if found else (0.4 < ac < 0.5), ac
        assert _oscillates(steps, waves) is found


def test_waves_over_a_loss_still_falling_by_half_their_swing_are_progress() -> None:
    steps, y = _series("healthy_hf_cosine")
    for fall_log, found in ((0.3, True), (0.6, False)):
        waves = _waves(y, 0.5, noise=0.5, fall=fall_log)
        swing, ac, crossings, fall = _oscillation_measures(waves)
        assert swing > 2.0 and ac > 0.8 and crossings >= 6
        assert (0.35 < fall < 0.45) if found else (0.6 < fall < 0.7), fall
        assert _oscillates(steps, waves) is found
