"""The loss detectors on curves built from the mechanisms real runs have: minibatch noise that scales with the
loss level (chi-square of a batch mean), exponential decay to a floor, warmup + cosine LR, and one injected
fault each. Healthy curves must stay quiet (no warning or critical finding) over several seeds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from traintriage.detectors.loss import analyze_loss
from traintriage.errors import InputError
from traintriage.sandbox import Sandbox
from traintriage.signals import RunData, Series, infer_roles


def level_curve(n: int, start: float = 2.3, floor: float = 0.05, tau: float = 250.0) -> np.ndarray:
    t = np.arange(n)
    return floor + (start - floor) * np.exp(-t / tau)


def noisy(level: np.ndarray, batch: int, seed: int) -> np.ndarray:
    """Per-batch loss: the level times a chi-square batch mean (relative noise sqrt(2/batch), heavy upper tail)."""
    rng = np.random.default_rng(seed)
    return level * rng.chisquare(batch, size=level.size) / batch


def warmup_cosine(n: int, warmup: int = 100, peak: float = 1e-3) -> np.ndarray:
    t = np.arange(n)
    cos = 0.5 * peak * (1 + np.cos(np.pi * np.clip((t - warmup) / max(1, n - warmup), 0, 1)))
    return np.where(t < warmup, peak * (t + 1) / warmup, cos)


def make_run(series: dict[str, tuple[np.ndarray, np.ndarray]], roles: dict[str, str] | None = None) -> RunData:
    built = {name: Series.from_arrays(name, s, v) for name, (s, v) in series.items()}
    return RunData(Path("/tmp/synthetic"), "test", built, infer_roles(built, roles))


def codes(report, severities=("warning", "critical")) -> set[str]:
    return {f.code for f in report.findings if f.severity in severities}


def steps(n: int) -> np.ndarray:
    return np.arange(n)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("batch", [8, 16, 64])
def test_healthy_noisy_warmup_cosine_is_quiet(seed, batch):
    n = 2000
    loss = noisy(level_curve(n), batch, seed)
    run = make_run({"Loss/train": (steps(n), loss), "LR": (steps(n), warmup_cosine(n))})
    report = analyze_loss(run)
    assert codes(report) == set(), [f.title for f in report.findings]
    assert report.statistics.reduction_pct > 80
    assert report.statistics.schedule is not None and 95 <= report.statistics.schedule.warmup_end_step <= 100


def test_late_spike_below_global_median_is_found_with_lr_bump():
    n = 2000
    level = level_curve(n, start=3.0, floor=0.02, tau=200)
    bump = np.ones(n)
    bump[1500:1540] = 1 + 14 * np.exp(-np.arange(40) / 8.0)  # knocked off, recovers in tens of steps
    loss = noisy(level * bump, 64, 1)
    lr = np.full(n, 1e-3)
    lr[1499:1502] = 3e-2
    assert level[1500] * bump[1500] < 10 * np.median(loss)  # a 10x-global-median rule would miss it
    report = analyze_loss(make_run({"Loss/train": (steps(n), loss), "LR": (steps(n), lr)}))
    spikes = [f for f in report.findings if f.code == "loss_spike"]
    assert len(spikes) == 1 and 1498 <= spikes[0].step_start <= 1502
    assert spikes[0].details["recovered"] and spikes[0].details["recovery_steps"] < 100
    assert spikes[0].details["lr_change"]["after"] == pytest.approx(3e-2)
    assert codes(report) == {"loss_spike"}


def test_divergence_reports_turn_step():
    n = 1000
    level = level_curve(n, tau=100)
    level[500:] = level[500] * np.exp(np.arange(500) / 150)
    report = analyze_loss(make_run({"loss": (steps(n), noisy(level, 32, 2))}))
    div = [f for f in report.findings if f.code == "divergence"]
    assert div and 400 <= div[0].step_start <= 600
    assert div[0].details["rise_ratio"] > 5


def test_warmup_rise_is_not_divergence():
    n = 1500
    level = level_curve(n, tau=300)
    level[:150] *= 1 + 0.3 * np.sin(np.pi * np.arange(150) / 150)  # a mild bump while the LR warms up
    report = analyze_loss(make_run({"loss": (steps(n), noisy(level, 32, 3)), "lr": (steps(n), warmup_cosine(n, 150))}))
    assert "divergence" not in codes(report)


def test_plateau_at_chance_level_is_named():
    n = 1500
    loss = noisy(np.full(n, math.log(10)), 256, 4)
    report = analyze_loss(make_run({"train_loss": (steps(n), loss)}))
    plateau = [f for f in report.findings if f.code == "plateau"]
    assert plateau and plateau[0].severity == "warning"
    assert plateau[0].details["chance_classes"] == 10


def test_a_run_flat_for_most_of_its_length_wasted_its_compute():
    """Converged by step ~500 of 2000 and flat afterwards: three quarters of the compute bought nothing, a
    warning that says from which step the run could have stopped (the cosine LR was still high there)."""
    n = 2000
    loss = noisy(level_curve(n, tau=80), 32, 5)
    report = analyze_loss(make_run({"loss": (steps(n), loss), "lr": (steps(n), warmup_cosine(n))}))
    plateau = [f for f in report.findings if f.code == "plateau"]
    assert plateau and plateau[0].severity == "warning" and plateau[0].details["wasted_compute"]
    assert plateau[0].step_start < 700 and f"could have stopped at step {plateau[0].step_start}" in plateau[0].message


def test_a_flat_training_loss_while_validation_still_improves_is_a_slow_finish():
    n = 2000
    loss = noisy(level_curve(n, tau=80), 32, 5)
    vs = steps(n)[::100]
    val = 0.5 * np.exp(-vs / 1500.0)  # still falling steadily over the flat stretch
    report = analyze_loss(make_run({"loss": (steps(n), loss), "val_loss": (vs, val)}))
    plateau = [f for f in report.findings if f.code == "plateau"]
    assert plateau and plateau[0].severity == "info" and "still improved" in plateau[0].message


def test_converged_cosine_tail_that_keeps_annealing_is_not_a_plateau_warning():
    n = 2000
    t = steps(n)
    loss = noisy(level_curve(n, tau=80) * np.exp(-t / 1200.0), 32, 5)  # keeps improving as the LR anneals
    report = analyze_loss(make_run({"loss": (t, loss), "lr": (t, warmup_cosine(n))}))
    assert "plateau" not in codes(report)


def test_stuck_loss_when_lr_is_zero():
    n = 800
    loss = level_curve(n, tau=50)
    loss[100:] = loss[100]  # full batch, LR = 0: the same value to the last bit
    lr = np.where(steps(n) < 100, 1e-3 * (1 - steps(n) / 100), 0.0)
    report = analyze_loss(make_run({"loss": (steps(n), loss), "lr": (steps(n), lr)}))
    stuck = [f for f in report.findings if f.code == "stuck_loss"]
    assert stuck and stuck[0].step_start == 100 and stuck[0].severity == "critical"
    assert any(e.metric == "lr" and e.value == 0.0 for e in stuck[0].evidence)
    assert "plateau" not in codes(report)


def test_alternating_oscillation():
    n = 600
    rng = np.random.default_rng(6)
    loss = 1.0 * np.exp(0.6 * (-1.0) ** steps(n) + 0.05 * rng.standard_normal(n))
    report = analyze_loss(make_run({"loss": (steps(n), loss)}))
    osc = [f for f in report.findings if f.code == "oscillation"]
    assert osc and osc[0].details["lag1_autocorr"] < -0.5


def test_overfitting_aligned_by_step_reports_best_step():
    n = 2000
    train = noisy(level_curve(n, tau=300, floor=0.01), 64, 7)
    vsteps = np.arange(0, n, 100)
    val = 0.4 + 1.5 * np.exp(-vsteps / 300) + np.where(vsteps > 800, (vsteps - 800) / 1000, 0)
    report = analyze_loss(make_run({"Loss/train": (steps(n), train), "Loss/val": (vsteps, val)}))
    of = [f for f in report.findings if f.code == "overfitting"]
    assert of and 700 <= of[0].details["best_step"] <= 1000
    assert report.statistics.validation[0].best_step == of[0].details["best_step"]


def test_zero_loss():
    n = 1000
    report = analyze_loss(make_run({"loss": (steps(n), level_curve(n, start=1.0, floor=1e-7, tau=40))}))
    assert "zero_loss" in codes(report)


def test_curriculum_regression_and_absorbed_stage():
    n = 1200
    level = level_curve(n, tau=150)
    bad = level.copy()
    bad[600:] = 0.6  # jumps and never comes back
    good = level.copy()
    good[600:] += 0.5 * np.exp(-np.arange(600) / 15)  # a bump the run absorbs
    stage = (steps(n) >= 600).astype(float)
    for curve, expected in ((bad, True), (good, False)):
        run = make_run({"Loss/train": (steps(n), noisy(curve, 64, 8)), "curriculum/stage": (steps(n), stage)})
        report = analyze_loss(run)
        found = [f for f in report.findings if f.code == "curriculum_regression"]
        assert bool(found) is expected
        if expected:
            assert found[0].step_start == 600


def test_user_transition():
    n = 1000
    level = level_curve(n, tau=100)
    level[500:] = 0.8
    run = make_run({"loss": (steps(n), noisy(level, 64, 9))})
    assert "curriculum_regression" not in codes(analyze_loss(run))
    assert "curriculum_regression" in codes(analyze_loss(run, transitions=[500]))


def test_nan_reports_first_step_and_last_finite_value():
    n = 400
    loss = level_curve(n)
    loss[250:260] = loss[250] * np.exp(np.arange(10))
    loss[260:] = np.nan
    report = analyze_loss(make_run({"loss": (steps(n), loss)}))
    nan = [f for f in report.findings if f.code == "nan_inf"]
    assert nan[0].step_start == 260 and nan[0].severity == "critical"
    assert nan[0].evidence[0].value == "nan"
    assert nan[0].evidence[1].step == 259 and nan[0].evidence[1].value == pytest.approx(loss[259])
    assert nan[0].step_end == 399  # the NaN runs to the end of the run: the stretch says so
    assert f"{loss[259]:.4g} at step 259" in nan[0].message


def test_epoch_level_run_says_too_few_points():
    loss = 2.0 * np.exp(-np.arange(12) / 4)
    report = analyze_loss(make_run({"epoch_loss": (np.arange(12), loss)}))
    assert any("too few" in w for w in report.warnings)
    assert codes(report) == set()


def test_no_loss_series_is_a_clear_input_error():
    run = make_run({"accuracy": (steps(50), np.linspace(0, 1, 50))})
    with pytest.raises(InputError) as err:
        analyze_loss(run)
    assert "accuracy" in str(err.value) and "--role train_loss=SERIES" in str(err.value)


def test_any_named_series_and_diagnosis():
    n = 1500
    run = make_run(
        {
            "loss": (steps(n), noisy(level_curve(n), 64, 10)),
            "my/metric": (steps(n), noisy(np.full(n, math.log(2)), 512, 11)),
        }
    )
    report = analyze_loss(run, series="my/metric", diagnose=True)
    assert report.series == "my/metric"
    plateau = [f for f in report.findings if f.code == "plateau"]
    assert plateau and plateau[0].details["chance_classes"] == 2
    assert plateau[0].details["first_fix"] and plateau[0].details["causes"]


def _epochs_with_lr_off_from(off_from: int, epochs: int = 10) -> np.ndarray:
    """Per-epoch losses of full-batch gradient descent on least squares whose scheduler sets the LR to 0 from
    epoch ``off_from``: from then on the weights, and so the logged loss, repeat exactly."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(0, 0.1, 64)
    w = np.zeros(3)
    losses = []
    for epoch in range(epochs):
        residual = x @ w - y
        losses.append(float(np.mean(residual**2)))
        w -= (0.05 if epoch < off_from else 0.0) * 2 * x.T @ residual / len(y)
    return np.array(losses)


def test_a_short_epoch_log_stuck_for_its_last_four_epochs_is_flagged_three_is_not():
    """The shortest stuck stretch a per-epoch log can show (``STUCK_MIN_RUN = 4`` epochs): an LR switched off
    for the last four epochs is reported; three repeats in a ten-epoch log can be a plateau at print precision."""
    stuck = analyze_loss(make_run({"loss": (steps(10), _epochs_with_lr_off_from(6))}))
    found = [f for f in stuck.findings if f.code == "stuck_loss"]
    assert found and found[0].step_start == 6 and found[0].details["points"] == 4
    shorter = analyze_loss(make_run({"loss": (steps(10), _epochs_with_lr_off_from(7))}))
    assert "stuck_loss" not in codes(shorter)


def test_stuck_loss_covers_the_plateau_it_explains():
    """A real run whose LR was set to 0 at step 100 (``benchmarks/corpus/runs/stuck_lr_zero``): the loss is
    frozen for 87.5 % of the run. The plateau detector alone sees that stretch as a plateau from step 80;
    reporting both would tell one story twice and push a second, weaker issue into the top 3, so a stuck
    finding that starts near the plateau and covers at least 30 % of the run suppresses it (analyze.py)."""
    from traintriage.api import load
    from traintriage.detectors.loss.robust import log_space
    from traintriage.detectors.loss.trend import detect_plateau

    corpus = Path(__file__).resolve().parents[1] / "benchmarks" / "corpus" / "runs"
    run = load(corpus / "stuck_lr_zero", sandbox=Sandbox.unrestricted())
    loss = run.series[run.roles.train_loss]
    y, log = log_space(loss.values)
    alone = detect_plateau(loss.name, loss.steps, y, log=log)
    assert [(p.severity, p.step_start) for p in alone] == [("warning", 80)]  # the plateau is there to suppress

    report = analyze_loss(run)
    stuck = [f for f in report.findings if f.code == "stuck_loss"]
    assert [(f.step_start, f.details["share"]) for f in stuck] == [(100, 0.875)]
    assert "plateau" not in {f.code for f in report.findings}
