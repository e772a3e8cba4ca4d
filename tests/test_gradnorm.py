"""gradnorm detectors on real gradient norms from tiny numpy training loops (tests/gradsim.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gradsim import deep_stack, two_branch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from traintriage.detectors.gradnorm import analyze_gradnorm
from traintriage.detectors.gradnorm.components import group_parameters, layer_stacks
from traintriage.detectors.gradnorm.correlation import loss_correlation
from traintriage.detectors.gradnorm.stats import regime_shifts, safe_log10
from traintriage.errors import InputError
from traintriage.signals import RunData, Series, infer_roles


def run_of(tags: dict[str, np.ndarray], step_every: int = 1) -> RunData:
    series = {k: Series.from_arrays(k, np.arange(len(v)) * step_every, v) for k, v in tags.items()}
    return RunData(Path("/tmp/sim"), "synthetic", series, infer_roles(series))


def tagged(sim: dict[str, np.ndarray], prefix: str = "gradnorm/", clip: bool = False) -> dict[str, np.ndarray]:
    tags = {"Loss/train": sim["loss"]}
    tags |= {f"{prefix}{k}": v for k, v in sim.items() if k.startswith(("layer", "branch", "head"))}
    if clip:
        tags |= {"GradNorm/Total_PreClip": sim["total"], "GradNorm/Clipped_Total": sim["post"]}
    else:
        tags[f"{prefix}total"] = sim["total"]
    return tags


def loud(report) -> list[tuple[str, str | None]]:
    return [(f.code, f.component) for f in report.findings if f.severity != "info"]


@pytest.mark.parametrize(
    "sim",
    [
        pytest.param(lambda: deep_stack(act="relu", init_gain=np.sqrt(2), seed=0), id="relu-he-init"),
        pytest.param(lambda: deep_stack(act="tanh", depth=4, seed=1), id="shallow-tanh"),
        pytest.param(lambda: two_branch(seed=2), id="two-branch"),
        pytest.param(lambda: two_branch(factor=0.1, seed=3), id="branch-gain-0.1"),
        pytest.param(lambda: deep_stack(act="relu", init_gain=np.sqrt(2), depth=4, clip=5.0), id="clip-safety-net"),
    ],
)
def test_healthy_runs_stay_quiet(sim):
    data = sim()
    report = analyze_gradnorm(run_of(tagged(data, clip="post" in data)))
    assert loud(report) == []
    assert report.components and all(c.status == "ok" for c in report.components)


def test_detached_branch_is_dead():
    report = analyze_gradnorm(run_of(tagged(two_branch(factor=0.0))))
    assert loud(report) == [("dead_component", "branch_b")]
    f = report.findings[0]
    assert f.severity == "critical" and f.title.startswith("DEAD [branch_b]") and "100%" in f.title
    assert {c.name: c.status for c in report.components}["branch_b"] == "dead"


def test_tiny_branch_gain_is_imbalance_not_dead():
    report = analyze_gradnorm(run_of(tagged(two_branch(factor=1e-4))))
    assert loud(report) == [("gradient_imbalance", "branch_b")]
    assert report.findings[0].details["kind"] == "starved"
    assert report.findings[0].details["log10_ratio_to_siblings"] < -3


def test_sigmoid_stack_vanishes_front_layers_only():
    report = analyze_gradnorm(run_of(tagged(deep_stack(act="sigmoid", depth=12))))
    assert [f.code for f in report.findings if f.severity != "info"] == ["vanishing_gradients"]
    stack = report.layer_stacks[0]
    assert stack.layers[0] == "layer00" and stack.front_minus_back_decades < -3 and stack.spearman_rho > 0.9


def test_front_heavy_stack_is_exploding():
    # Backward signals growing 2.5x per layer toward the input (Jacobians > 1), multiplicative noise.
    rng = np.random.default_rng(0)
    base = np.exp(rng.normal(0, 0.2, (12, 300)))
    tags = {f"grad_norm/h.{i}": base[i] * 2.5 ** (12 - i) for i in range(12)}
    tags["loss"] = np.linspace(2, 1, 300)
    report = analyze_gradnorm(run_of(tags))
    codes = [f.code for f in report.findings if f.severity != "info"]
    assert codes == ["exploding_gradients"]
    assert report.layer_stacks[0].layers[:3] == ["h.0", "h.1", "h.2"]


def test_heavy_clipping_from_pre_and_post_norms():
    report = analyze_gradnorm(run_of(tagged(deep_stack(depth=4, init_gain=np.sqrt(2), clip=0.01), clip=True)))
    assert [f.code for f in report.findings if f.severity != "info"] == ["heavy_clipping"]
    clip = report.clipping
    assert clip.method == "pre_post" and clip.clipped_percent > 90 and clip.factor_median > 5
    assert abs(clip.threshold - 0.01) < 1e-6


def test_heavy_clipping_from_user_threshold():
    sim = deep_stack(depth=4, init_gain=np.sqrt(2))
    typical = float(np.median(sim["total"]))
    report = analyze_gradnorm(run_of(tagged(sim)), clip_threshold=typical / 10)
    assert report.clipping.method == "threshold" and report.clipping.threshold_source == "argument"
    assert "heavy_clipping" in [f.code for f in report.findings]
    quiet = analyze_gradnorm(run_of(tagged(sim)), clip_threshold=typical * 10)
    assert quiet.clipping.clipped_percent < 5 and "heavy_clipping" not in [f.code for f in quiet.findings]


def test_non_finite_grad_norm_raises_nan_inf_at_first_step():
    sim = deep_stack(depth=3, init_gain=np.sqrt(2), steps=200)
    total = sim["total"].copy()
    total[150:] = np.inf
    tags = tagged(sim) | {"gradnorm/total": total}
    report = analyze_gradnorm(run_of(tags))
    nan = [f for f in report.findings if f.code == "nan_inf"]
    assert len(nan) == 1 and nan[0].step_start == 150 and nan[0].severity == "critical"
    assert any(f.code == "exploding_gradients" and f.step_start == 150 for f in report.findings)


def test_growth_by_orders_of_magnitude_vs_moderate_late_rise():
    rng = np.random.default_rng(1)
    n = 400
    noise = np.exp(rng.normal(0, 0.3, n))
    moderate = np.where(np.arange(n) < 300, 1.0, 1.0 + 4.0 * (np.arange(n) - 300) / 100) * noise
    runaway = 10 ** (4.0 * np.clip(np.arange(n) - 200, 0, None) / 200) * noise
    loss = np.linspace(2, 1, n)
    assert loud(analyze_gradnorm(run_of({"loss": loss, "grad_norm": moderate}))) == []
    report = analyze_gradnorm(run_of({"loss": loss, "grad_norm": runaway}))
    grow = [f for f in report.findings if f.code == "exploding_gradients"]
    assert grow and grow[0].severity == "critical" and 200 <= grow[0].step_start <= 260


def test_isolated_spike_is_grouped_and_info():
    rng = np.random.default_rng(2)
    norm = np.exp(rng.normal(0, 0.1, 300))
    norm[150:152] *= 20
    report = analyze_gradnorm(run_of({"loss": np.linspace(2, 1, 300), "grad_norm": norm}))
    spikes = [f for f in report.findings if f.code == "gradient_spike"]
    assert len(spikes) == 1 and spikes[0].severity == "info"
    assert (spikes[0].step_start, spikes[0].step_end) == (150, 151) and spikes[0].details["recovered"] is True


def test_lightning_per_parameter_norms_grouped_to_layers():
    names = [f"model.encoder.layer.{i}.{m}.{p}" for i in range(4) for m in ("attn", "mlp") for p in ("weight", "bias")]
    names += ["model.embeddings.word.weight", "model.head.weight"]
    groups = group_parameters(names)
    assert set(groups) == {f"model.encoder.layer.{i}" for i in range(4)} | {"model.embeddings", "model.head"}
    assert len(groups["model.encoder.layer.2"]) == 4
    assert set(group_parameters(names, depth=2)) == {"model.encoder", "model.embeddings", "model.head"}
    rng = np.random.default_rng(0)
    tags = {f"grad_2.0_norm/{n}": np.full(50, 3.0) * np.exp(rng.normal(0, 0.1, 50)) for n in names}
    tags["grad_2.0_norm_total"] = np.full(50, 20.0)
    report = analyze_gradnorm(run_of(tags))
    layer2 = next(c for c in report.components if c.name == "model.encoder.layer.2")
    assert len(layer2.series) == 4 and 5.0 < layer2.median < 7.0  # sqrt(4 x 3^2) = 6
    assert report.total.series == ["grad_2.0_norm_total"]


def test_layer_stack_ordering_from_names():
    assert layer_stacks(["layer10", "layer2", "layer0", "head"]) == [["layer0", "layer2", "layer10"]]
    assert layer_stacks(["blocks.1", "blocks.0"]) == []  # two layers: no front/back judgement


def test_loss_correlation_aligns_by_step_and_finds_lead():
    rng = np.random.default_rng(3)
    n = 300
    lognorm = rng.normal(0, 1, n)
    loss = np.empty(n)
    loss[2:] = 1 + 0.5 * lognorm[:-2]  # the loss follows the norm two logged points later
    loss[:2] = 1
    steps = np.arange(n) * 10
    corr = loss_correlation("loss", steps, loss, "norm", steps + 0, 10**lognorm)
    assert corr.alignment == "intersect" and corr.best_lag == 2
    # Loss logged on an offset grid: interpolated onto the norm's steps, not paired by index.
    corr2 = loss_correlation("loss", steps + 5, loss, "norm", steps, 10**lognorm)
    assert corr2.alignment == "interpolated" and corr2.points >= n - 2


def test_no_gradient_series_is_a_clear_error():
    with pytest.raises(InputError) as err:
        analyze_gradnorm(run_of({"Loss/train": np.linspace(2, 1, 50), "LR": np.full(50, 1e-3)}))
    text = str(err.value)
    assert "Loss/train" in text and "LR" in text
    assert "on_before_optimizer_step" in text and "logging_steps" in text and "clip_grad_norm_" in text


def test_components_sort_naturally_whatever_digits_their_names_hold():
    """layer2 before layer10; a 5000-digit number or a Unicode digit in a name is just a name (the
    fuzzer found ``int()`` of a 5000-digit run raising ValueError out of analyze_gradnorm)."""
    rng = np.random.default_rng(0)
    names = ["layer10", "layer2", "layer" + "9" * 5000, "layer²", "layer02"]
    tags = {"Loss/train": np.linspace(2, 1, 200)} | {f"gradnorm/{n}": 1 + 0.1 * rng.random(200) for n in names}
    report = analyze_gradnorm(run_of(tags))
    order = [c.name for c in report.components]
    assert order.index("layer2") < order.index("layer10") < order.index("layer" + "9" * 5000)
    assert {"layer²", "layer02"} <= set(order)


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=2, max_side=40),
        elements=st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    )
)
def test_safe_log10_is_log10_of_the_positive_finite_values_and_nan_elsewhere(values):
    """The one-pass version against the plain definition: NaN for zero, negatives, NaN and +/-inf."""
    expected = np.full(values.shape, np.nan)
    ok = np.isfinite(values) & (values > 0)
    expected[ok] = np.log10(values[ok])
    np.testing.assert_array_equal(safe_log10(values), expected)


def test_a_clean_step_is_one_shift_at_the_step_itself() -> None:
    # Without noise the window difference is the whole jump over ~a window around the step (each
    # window keeps a majority from its own side): one tie, resolved to its middle, where the step is.
    steps = np.arange(1000) * 10
    logv = np.where(np.arange(1000) < 600, -2.0, -1.0)
    (shift,) = regime_shifts(steps, logv)
    assert shift.step == 6000
    assert shift.before == pytest.approx(0.01) and shift.after == pytest.approx(0.1)


def test_shifts_are_at_least_a_window_apart_and_in_step_order() -> None:
    rng = np.random.default_rng(3)
    level = np.select([np.arange(2000) < 700, np.arange(2000) < 1400], [-1.0, 0.5], -0.5)
    logv = level + rng.normal(0, 0.02, 2000)
    found = [s.step for s in regime_shifts(np.arange(2000), logv)]
    assert len(found) == 2 and abs(found[0] - 700) <= 5 and abs(found[1] - 1400) <= 5


def test_spikes_and_small_changes_are_not_shifts() -> None:
    logv = np.full(1000, -1.0)
    logv[500:505] = 2.0  # a spike: far shorter than the window
    logv[800:] = -0.7  # 0.3 decades: under the 0.5 threshold
    assert regime_shifts(np.arange(1000), logv) == []


def test_effective_update_uses_the_lr_logged_at_or_before_each_step_on_every_grid() -> None:
    # Two components on the same grid share one LR lookup; a third, logged every other step, gets its own.
    n = 200
    lr = np.where(np.arange(n) < 100, 1e-3, 1e-4)
    series = {name: Series.from_arrays(name, np.arange(n), np.full(n, norm))
              for name, norm in {"gradnorm/a": 2.0, "gradnorm/b": 3.0}.items()}
    series["gradnorm/c"] = Series.from_arrays("gradnorm/c", np.arange(0, n, 2) + 1, np.full(n // 2, 5.0))
    series["LR"] = Series.from_arrays("LR", np.arange(n), lr)
    series["Loss/train"] = Series.from_arrays("Loss/train", np.arange(n), np.linspace(2, 1, n))
    report = analyze_gradnorm(RunData(Path("/tmp/sim"), "synthetic", series, infer_roles(series)))
    by_name = {c.name: c for c in report.components}
    # 100 steps at 1e-3 and 100 at 1e-4: the median is the mean of one of each.
    assert by_name["a"].effective_update_median == pytest.approx(2.0 * (1e-3 + 1e-4) / 2)
    assert by_name["b"].effective_update_median == pytest.approx(3.0 * (1e-3 + 1e-4) / 2)
    # Steps 1, 3, ..., 199: 50 before step 100 (LR 1e-3), 50 after.
    assert by_name["c"].effective_update_median == pytest.approx(5.0 * (1e-3 + 1e-4) / 2)
    assert by_name["c"].effective_update_p95 == pytest.approx(5.0 * 1e-3)
