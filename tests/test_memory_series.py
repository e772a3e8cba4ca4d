"""Logged memory series: leak, fragmentation and pressure, on arrays and on a real leaking run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from traintriage.memory import profile_memory
from traintriage.memory.series import analyze_series, classify, fit_leak, theil_sen
from traintriage.sandbox import Sandbox
from traintriage.signals import RunData, Series, infer_roles

FIXTURES = Path(__file__).parent / "fixtures" / "memory"
GiB = 1 << 30


def _run(**arrays: tuple[np.ndarray, np.ndarray]) -> RunData:
    series = {name: Series.from_arrays(name, s, v) for name, (s, v) in arrays.items()}
    return RunData(path=Path("synthetic"), source="arrays", series=series, roles=infer_roles(series))


def _codes(findings):
    return [(f.code, f.details.get("kind")) for f in findings]


def test_classify_names():
    assert classify("memory/allocated") == "allocated"
    assert classify("gpu/max_memory_allocated") == "max_allocated"
    assert classify("memory_reserved") == "reserved"
    assert classify("train/rss_bytes") == "rss"


def test_theil_sen_ignores_one_jump():
    x = np.arange(100.0)
    y = np.where(x < 30, 1.0, 2.0)  # one allocator step, then flat
    assert theil_sen(x, y)[0] == 0.0


def test_leak_detected_with_slope_fit_and_projection():
    steps = np.arange(0, 2000, 10)
    rng = np.random.default_rng(1)
    warmup = np.minimum(steps, 100) * 40e6  # 4 GB reached in the first 100 steps
    leak = 2e6 * steps  # 2 MB per step
    values = warmup + leak + rng.normal(0, 5e6, steps.size)
    run = _run(**{"memory/allocated": (steps, values)})
    findings, stats, _headline, _warnings = analyze_series(run, capacity_bytes=80 * GiB)
    leak_f = [f for f in findings if f.code == "memory_leak"]
    assert len(leak_f) == 1
    f = leak_f[0]
    assert f.details["slope_per_step"] == pytest.approx(2e6, rel=0.05)
    assert f.details["r2"] > 0.95
    projected = f.details["projected_exhaustion_step"]
    expected = (80 * GiB - 4e9) / 2e6  # where the line meets capacity
    assert projected == pytest.approx(expected, rel=0.05)
    assert any(e.metric.endswith(":projected") and e.step == projected for e in f.evidence)
    assert f.severity == "warning"  # exhaustion ~40k steps away, far beyond the run length
    assert stats[0].slope_per_step == pytest.approx(2e6, rel=0.05)


def test_leak_close_to_capacity_is_critical():
    steps = np.arange(200)
    values = 10 * GiB + steps * 0.2 * GiB  # 50 GiB at step 200; 80 GiB within 150 more steps
    run = _run(**{"memory/allocated": (steps, values)})
    findings, *_ = analyze_series(run, capacity_bytes=80 * GiB)
    assert [f.severity for f in findings if f.code == "memory_leak"] == ["critical"]


def test_warmup_rise_then_flat_is_not_a_leak():
    steps = np.arange(1000)
    rng = np.random.default_rng(0)
    values = np.where(steps < 120, steps * 5e7, 6e9) + rng.normal(0, 2e6, steps.size)
    findings, *_ = analyze_series(_run(**{"memory/allocated": (steps, values)}), capacity_bytes=80 * GiB)
    assert findings == []


def test_allocator_step_growth_is_not_a_leak():
    # reserved memory: the caching allocator grows by segments twice, then stays put
    steps = np.arange(1000)
    values = 8 * GiB + (steps >= 300) * 2 * GiB + (steps >= 520) * 1 * GiB
    fit = fit_leak(steps, values.astype(float))
    assert fit is not None and not fit.is_leak
    findings, *_ = analyze_series(_run(**{"memory/reserved": (steps, values)}), capacity_bytes=80 * GiB)
    assert "memory_leak" not in [f.code for f in findings]


def test_staircase_leak_is_a_leak():
    # a real leak seen through the allocator: reserved grows in 512 MiB segments, again and again
    steps = np.arange(1000)
    values = 8 * GiB + (steps // 50) * (GiB // 2)
    fit = fit_leak(steps, values.astype(float))
    assert fit is not None and fit.is_leak


def test_fragmentation_and_pressure():
    steps = np.arange(100)
    allocated = np.full(100, 20.0 * GiB)
    reserved = np.full(100, 75.0 * GiB)
    run = _run(**{"memory/allocated": (steps, allocated), "memory/reserved": (steps, reserved)})
    findings, _, headline, _warnings = analyze_series(run, capacity_bytes=80 * GiB)
    assert sorted(_codes(findings)) == [("memory_pressure", "fragmentation"), ("memory_pressure", "peak")]
    peak = next(f for f in findings if f.details.get("kind") == "peak")
    assert peak.series == "memory/reserved"  # what the device sees
    assert peak.evidence[0].value == 75.0 * GiB
    assert "< 90%" in peak.evidence[0].expected
    assert headline["peak_fraction_of_capacity"] == pytest.approx(75 / 80, abs=1e-3)


def test_unknown_capacity_reports_absolute_and_says_how():
    steps = np.arange(50)
    run = _run(**{"memory/allocated": (steps, np.full(50, 3.0 * GiB))})
    findings, _, headline, warnings = analyze_series(run)
    assert findings == []
    assert headline["peak_bytes"] == 3 * GiB
    assert any("--capacity 80GiB" in w for w in warnings)


def test_units_from_name():
    steps = np.arange(50)
    run = _run(**{"memory/allocated_gb": (steps, np.full(50, 75.0))})
    findings, stats, _headline, _ = analyze_series(run, capacity_bytes=80 * 10**9)
    assert stats[0].unit_bytes == 10**9
    assert [f.details["kind"] for f in findings] == ["peak"]


def test_no_memory_series_is_a_warning_not_a_crash():
    run = _run(**{"loss/train": (np.arange(10), np.linspace(2, 1, 10))})
    report = profile_memory(run, sandbox=Sandbox.unrestricted())
    assert report.findings == [] and report.kind == "run"
    assert any("no memory series" in w for w in report.warnings)


def _tb_run() -> RunData:
    tbparse = pytest.importorskip("tbparse")
    df = tbparse.SummaryReader(str(FIXTURES / "leak_run")).scalars
    series = {tag: Series.from_arrays(tag, df[df.tag == tag].step.values, df[df.tag == tag].value.values)
              for tag in df.tag.unique()}
    return RunData(path=FIXTURES / "leak_run", source="tensorboard", series=series, roles=infer_roles(series))


def test_real_leaking_run_rss():
    """The TensorBoard run of a real leak (losses kept with their graphs): RSS grows every step."""
    run = _tb_run()
    assert run.roles.memory == ["memory/rss_bytes"]
    report = profile_memory(run, capacity_bytes="1GiB", sandbox=Sandbox.unrestricted())
    leaks = [f for f in report.findings if f.code == "memory_leak"]
    assert len(leaks) == 1 and leaks[0].series == "memory/rss_bytes"
    assert leaks[0].details["slope_per_step_bytes"] > 500_000  # ~1 MiB retained per step
    assert leaks[0].details["projected_exhaustion_step"] > 59
    assert report.run is not None and report.run.roles.memory == ["memory/rss_bytes"]


def test_real_leaking_run_through_the_loader():
    pytest.importorskip("traintriage.sources.tensorboard")
    report = profile_memory(FIXTURES / "leak_run", sandbox=Sandbox.unrestricted())
    assert report.kind == "run"
    assert [f.code for f in report.findings] == ["memory_leak"]
