"""Profiler traces captured with torch.profiler(profile_memory=True) on CPU (see fixtures/memory)."""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from traintriage.errors import InputError
from traintriage.memory import profile_memory
from traintriage.memory.jsonstream import TraceStream
from traintriage.memory.trace import analyze_trace
from traintriage.sandbox import Sandbox

FIXTURES = Path(__file__).parent / "fixtures" / "memory"
HEALTHY = FIXTURES / "healthy.pt.trace.json.gz"
LEAK = FIXTURES / "leak.pt.trace.json.gz"


def _json(path: Path) -> dict:
    with gzip.open(path, "rt") as f:
        return json.load(f)


@pytest.mark.parametrize("chunk", [5, 333, 1 << 20])
def test_stream_matches_json_load(chunk):
    ref = _json(LEAK)
    stream = TraceStream(LEAK, chunk_chars=chunk)
    assert list(stream) == ref["traceEvents"]
    assert stream.header == {k: v for k, v in ref.items() if k != "traceEvents"}
    assert stream.truncated is None


def test_truncated_trace_reports_what_it_read(tmp_path):
    with gzip.open(LEAK, "rt") as f:
        text = f.read()
    cut = tmp_path / "cut.pt.trace.json"
    cut.write_text(text[: int(len(text) * 0.8)])
    result = analyze_trace(cut)
    assert any("cut short" in w for w in result.warnings)
    assert result.summary.memory_events > 0


def test_healthy_trace_flat_steps_no_findings():
    report = profile_memory(HEALTHY, sandbox=Sandbox.unrestricted())
    assert report.kind == "trace" and report.findings == []
    trace = report.trace
    assert trace is not None and trace.step_source == "ProfilerStep"
    ends = [s.allocated_at_end for s in trace.steps]
    assert len(ends) == 6 and len(set(ends)) == 1  # flat after every step
    cpu = trace.devices[0]
    assert cpu.device == "cpu"
    assert cpu.peak_allocated == max(p.allocated for p in cpu.timeline)
    # the allocator's own running total agrees with the sum of Bytes over the trace
    ref = _json(HEALTHY)["traceEvents"]
    mem = sorted((e for e in ref if e.get("name") == "[memory]"), key=lambda e: e["ts"])
    assert cpu.peak_allocated == max(e["args"]["Total Allocated"] for e in mem)
    assert cpu.final_allocated == mem[-1]["args"]["Total Allocated"]
    assert cpu.bytes_allocated_total == sum(e["args"]["Bytes"] for e in mem if e["args"]["Bytes"] > 0)
    assert any("--capacity" in w for w in report.warnings)


def test_leak_trace_found_and_attributed():
    report = profile_memory(LEAK, sandbox=Sandbox.unrestricted())
    leaks = [f for f in report.findings if f.code == "memory_leak"]
    assert len(leaks) == 1
    leak = leaks[0]
    ends = [s.allocated_at_end for s in report.trace.steps]
    rises = {b - a for a, b in itertools.pairwise(ends)}
    assert len(rises) == 1 and rises.pop() > 0  # the same bytes kept every step
    assert leak.details["slope_per_step_bytes"] == ends[1] - ends[0]
    # ReLU outputs saved by the kept graphs: 2 ReLUs x 128x256 fp32 x 6 steps, made by aten::clamp_min
    assert leak.details["live_at_end_by_op"]["aten::clamp_min"] == 2 * 128 * 256 * 4 * 6
    assert leak.evidence[1].step == 6 and "flat after warm-up" in leak.evidence[1].expected


def test_top_ops_attribution_against_profiler_rows():
    """Every allocation is attributed to exactly one op; totals add up to the trace's Bytes."""
    report = profile_memory(HEALTHY, sandbox=Sandbox.unrestricted())
    trace = report.trace
    total = sum(o.bytes_allocated for o in trace.top_ops)
    assert total <= trace.devices[0].bytes_allocated_total
    names = [o.op for o in trace.top_ops]
    assert "aten::empty" not in names and "aten::empty_strided" not in names  # blamed on their callers
    assert "aten::mm" in names and "aten::addmm" in names


def test_capacity_pressure_on_trace():
    peak = profile_memory(LEAK, sandbox=Sandbox.unrestricted()).trace.devices[0].peak_allocated
    report = profile_memory(LEAK, capacity_bytes=int(peak / 0.95), sandbox=Sandbox.unrestricted())
    kinds = [(f.code, f.severity, f.details.get("kind")) for f in report.findings]
    assert ("memory_pressure", "warning", "peak") in kinds


def test_trace_without_memory_events_says_how_to_record():
    with pytest.raises(InputError) as err:
        profile_memory(FIXTURES / "no_memory.pt.trace.json.gz", sandbox=Sandbox.unrestricted())
    assert "without profile_memory=True" in err.value.message
    assert "profile_memory=True" in err.value.hint and "export_chrome_trace" in err.value.hint


def test_directory_of_traces(tmp_path):
    shutil.copy(LEAK, tmp_path / "worker0.1.pt.trace.json.gz")
    report = profile_memory(tmp_path, sandbox=Sandbox.unrestricted())
    assert report.kind == "trace" and report.trace.path.endswith("worker0.1.pt.trace.json.gz")


def test_not_a_trace(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('"hello"')
    with pytest.raises(InputError):
        profile_memory(bad, sandbox=Sandbox.unrestricted())


def _rows(values):
    from traintriage.memory.report import StepMemory

    return [StepMemory(step=i + 1, device="cuda:0", start_ms=i, end_ms=i + 1, allocated_at_end=int(v),
                       peak_allocated=int(v)) for i, v in enumerate(values)]


def test_many_steps_use_the_robust_criteria():
    """With many steps, per-step noise must not hide a leak, nor fake one."""
    from traintriage.memory.report import DeviceMemory
    from traintriage.memory.trace import _step_leak

    dm = DeviceMemory(device="cuda:0", memory_events=1, allocations=1, bytes_allocated_total=1, peak_allocated=1,
                      peak_allocated_human="", peak_time_ms=0, peak_op=None, peak_step=None, peak_reserved=0,
                      final_allocated=0, live_at_end_bytes=0, timeline=[])
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 20e6, 60)
    leaky = 10e9 + np.arange(60) * 15e6 + noise  # 15 MB/step under 20 MB of noise: some steps go down
    assert (np.diff(leaky) < 0).any()
    found = _step_leak(dm, _rows(leaky), {})
    assert found is not None and found.details["slope_per_step_bytes"] == pytest.approx(15e6, rel=0.2)
    assert _step_leak(dm, _rows(10e9 + noise), {}) is None


def test_other_json_is_a_run_not_a_trace():
    """trainer_state.json is JSON too: it goes to the run loader, not the trace reader."""
    state = next((Path(__file__).parent / "fixtures" / "formats" / "hf_trainer").glob("*/trainer_state.json"))
    report = profile_memory(state, sandbox=Sandbox.unrestricted())
    assert report.kind == "run" and any("no memory series" in w for w in report.warnings)
