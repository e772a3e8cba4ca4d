"""Time verdicts on real runs: ``slow_steps`` and ``stall`` from the wall clock, ``input_bound`` from
profiler traces, and time per step in every report's context.

The runs and traces in ``tests/fixtures/timing`` were made by ``generate_timing_fixtures.py`` (real torch
CPU loops logged with SummaryWriter; what slows or stops them really happens in them). Healthy controls
(a run with evaluation pauses, a compute-bound trace, the synthetic corpus) must stay silent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from traintriage import api
from traintriage.errors import InputError
from traintriage.sandbox import Sandbox
from traintriage.signals import RunData, Series, infer_roles
from traintriage.timing import profile_step
from traintriage.timing.walltime import analyze_time
from traintriage.triage import correlate

ROOT = Path(__file__).resolve().parents[1]
TIMING = ROOT / "tests/fixtures/timing"
CORPUS = ROOT / "benchmarks/corpus/runs"
OPEN = Sandbox.unrestricted()
TIME_CODES = {"slow_steps", "stall", "input_bound"}


def _time_findings(report) -> list:
    return [f for f in report.findings if f.code in TIME_CODES]


def test_input_pipeline_that_slows_mid_run_is_slow_steps_with_its_cause():
    report = correlate(api.load(TIMING / "slow_pipeline", sandbox=OPEN), sandbox=OPEN)
    (finding,) = _time_findings(report)
    assert finding.code == "slow_steps" and finding.severity == "warning"
    assert finding.step_start == 120  # the store got slower for the batch of step 120
    assert finding.details["ratio"] >= 10 and finding.details["data_time_explains"]
    issue = next(i for i in report.issues if i.codes == ["slow_steps"])
    assert issue.root_cause.category == "pipeline" and "time/data" in issue.root_cause.signals[0]
    assert any("num_workers" in step.change for step in report.remediation)


def test_blocking_pause_is_a_stall_with_its_length_and_the_typical_step():
    report = correlate(api.load(TIMING / "stall_blocking", sandbox=OPEN), sandbox=OPEN)
    (finding,) = _time_findings(report)
    assert finding.code == "stall" and (finding.step_start, finding.step_end) == (149, 150)
    assert 19.5 <= finding.details["gap_seconds"] <= 30 and not finding.details["restart"]
    assert finding.details["typical_step_seconds"] < 0.1
    assert "20 s" in finding.title


def test_a_log_without_event_files_leaves_the_restart_open():
    """The same blocking pause read from a format whose files do not name their writer's start (a JSONL log)."""
    run = api.load(TIMING / "stall_blocking", sandbox=OPEN)
    anonymous = RunData(run.path, "jsonl", run.series, run.roles, [run.path / "metrics.jsonl"])
    (finding,) = [f for f in analyze_time(anonymous).findings if f.code == "stall"]
    assert finding.details["restart"] is None and "cannot tell" in finding.message
    report = correlate(anonymous, sandbox=OPEN)
    issue = next(i for i in report.issues if i.codes == ["stall"])
    assert issue.root_cause.category == "unknown"  # neither a restart nor a blocked loop is claimed


def test_restart_is_a_stall_with_a_restart_not_an_error():
    report = correlate(api.load(TIMING / "restart", sandbox=OPEN), sandbox=OPEN)
    (finding,) = _time_findings(report)
    assert finding.code == "stall" and finding.details["restart"] and finding.title.startswith("restart")
    assert (finding.step_start, finding.step_end) == (119, 120)  # resumed from the step-119 checkpoint
    assert finding.severity != "critical"
    issue = next(i for i in report.issues if i.codes == ["stall"])
    assert "restarted" in issue.root_cause.signals[0]


def test_evaluation_pauses_are_context_not_findings():
    report = correlate(api.load(TIMING / "healthy_eval_pauses", sandbox=OPEN), sandbox=OPEN)
    assert not _time_findings(report)
    (pause,) = report.timing.recurring_pauses
    assert pause.every_steps == 100 and pause.count == 4 and pause.kind == "evaluation"
    assert pause.median_seconds > 10  # each would be a stall on its own
    assert "every 100 steps" in report.timing.summary


def test_a_lone_pause_among_evaluations_is_still_a_stall():
    """The eval-pause run's clock with one more 30 s gap at step 250: that one is not at the eval period."""
    run = api.load(TIMING / "healthy_eval_pauses", sandbox=OPEN)
    loss = run.get(run.roles.train_loss)
    walls = loss.wall_times + np.where(loss.steps >= 250, 30.0, 0.0)
    series = dict(run.series)
    series[loss.name] = Series(loss.name, loss.steps, loss.values, walls)
    shifted = RunData(run.path, run.source, series, run.roles, run.files)
    stalls = [f for f in analyze_time(shifted).findings if f.code == "stall"]
    assert [(f.step_start, f.step_end) for f in stalls] == [(249, 250)]


def test_synthetic_corpus_runs_are_silent_and_clocked():
    for run_dir in sorted(CORPUS.iterdir()):
        analysis = analyze_time(api.load(run_dir, sandbox=OPEN))
        assert not analysis.findings, (run_dir.name, [f.title for f in analysis.findings])
        assert analysis.timing.seconds_per_step is not None, run_dir.name


def test_time_per_step_is_in_every_report_even_when_nothing_is_wrong():
    report = correlate(api.load(CORPUS / "healthy_hf_cosine", sandbox=OPEN), sandbox=OPEN)
    assert report.timing is not None and report.timing.source == "wall times of train/loss"
    assert 0 < report.timing.seconds_per_step < 1 and "ms/step" in report.timing.summary
    assert report.analyses["time"].startswith("ok")
    from traintriage.triage.text import render_triage

    assert "time: " in render_triage(report)


def test_throughput_and_logged_step_time_from_structured_and_text_logs():
    llama = analyze_time(api.load(ROOT / "tests/fixtures/formats/llama_factory/saves/qwen2-7b/lora/sft", sandbox=OPEN))
    assert [t.series for t in llama.timing.throughput] == ["throughput"]
    mmengine = analyze_time(api.load(ROOT / "tests/fixtures/formats/mmengine/20240112_093015", sandbox=OPEN))
    assert mmengine.timing.source == "logged step time time" and mmengine.timing.seconds_per_step > 0
    # a text log's timing fields are kept apart as timing/<name> series: never metrics, roles or losses
    nanogpt = api.load(ROOT / "tests/fixtures/formats/textlogs/nanogpt", sandbox=OPEN)
    assert set(nanogpt.timings) == {"timing/step_avg_ms", "timing/train_time_ms"}
    assert set(nanogpt.series) == {"train_loss", "val_loss"}
    timing = analyze_time(nanogpt).timing
    assert timing.source == "clock logged as timing/train_time_ms"  # a clock before a running average
    assert 0.05 < timing.seconds_per_step < 0.2  # modded-nanogpt's step_avg is ~98 ms in this log
    llmc = analyze_time(api.load(ROOT / "tests/fixtures/formats/textlogs/llmc_stdout", sandbox=OPEN)).timing
    assert llmc.source == "logged step time timing/ms" and 0.3 < llmc.seconds_per_step < 0.45  # "373.97 ms"
    assert "tokens/s (timing/tok_per_s)" in llmc.summary and "," in llmc.summary  # "1,396,197 tokens/s"
    wlm = analyze_time(api.load(ROOT / "tests/fixtures/formats/textlogs/pytorch_wlm", sandbox=OPEN)).timing
    assert wlm.source == "logged step time timing/ms/batch" and 0.03 < wlm.seconds_per_step < 0.06


def test_a_run_without_wall_times_says_so():
    steps = np.arange(100)
    built = {"loss": Series.from_arrays("loss", steps, np.linspace(2, 1, 100))}
    run = RunData(Path("/tmp/built"), "test", built, infer_roles(built))
    timing = analyze_time(run).timing
    assert timing.source == "none" and timing.seconds_per_step is None and "unknown" in timing.summary


def test_a_logged_unix_timestamp_is_a_clock_not_a_duration():
    steps = np.arange(200)
    stamps = 1.7e9 + 0.5 * steps + np.where(steps >= 120, 60.0, 0.0)  # a 60 s stall before step 120
    built = {"loss": Series.from_arrays("loss", steps, np.linspace(2, 1, 200)),
             "time": Series.from_arrays("time", steps, stamps)}
    run = RunData(Path("/tmp/built"), "jsonl", built, infer_roles(built))
    analysis = analyze_time(run)
    assert analysis.timing.source == "clock logged as time" and analysis.timing.seconds_per_step == 0.5
    assert [(f.code, f.step_start, f.details["restart"]) for f in analysis.findings] == [("stall", 119, None)]


def test_slowdown_that_costs_seconds_is_noise():
    """A 5 ms step that drifts to 8 ms is 1.6x slower but costs a second: not a finding."""
    steps = np.arange(1000)
    per_step = np.where(steps < 500, 0.005, 0.008)
    built = {"loss": Series.from_arrays("loss", steps, np.linspace(2, 1, 1000), 1e9 + np.cumsum(per_step))}
    run = RunData(Path("/tmp/built"), "test", built, infer_roles(built))
    assert not analyze_time(run).findings
    slower = {"loss": Series.from_arrays("loss", steps, np.linspace(2, 1, 1000), 1e9 + np.cumsum(per_step * 100))}
    run = RunData(Path("/tmp/built"), "test", slower, infer_roles(slower))
    (finding,) = analyze_time(run).findings
    assert finding.code == "slow_steps" and finding.step_start == 500 and not finding.details["data_time_explains"]


def test_warmup_is_never_judged():
    """Compilation makes the first steps slow: a 60 s first interval is not a stall."""
    steps = np.arange(300)
    per_step = np.full(300, 0.1)
    per_step[1] = 60.0
    built = {"loss": Series.from_arrays("loss", steps, np.linspace(2, 1, 300), 1e9 + np.cumsum(per_step))}
    run = RunData(Path("/tmp/built"), "test", built, infer_roles(built))
    assert not analyze_time(run).findings


# --- input_bound, from profiler traces ----------------------------------------------------------------


def test_input_bound_trace():
    report = profile_step(TIMING / "input_bound.pt.trace.json.gz", sandbox=OPEN)
    assert report.step_source == "ProfilerStep" and report.steps >= 3
    assert report.data_share > 0.7
    (finding,) = report.findings
    assert finding.code == "input_bound" and finding.severity == "critical"
    assert "num_workers" in finding.details["fix"]
    assert any("DataLoader" in name for name in report.data_ranges)


def test_compute_bound_trace_is_silent():
    report = profile_step(TIMING / "compute_bound.pt.trace.json.gz", sandbox=OPEN)
    assert report.data_share < 0.3 and not report.findings
    assert report.data_ranges  # it did iterate a DataLoader: the share is measured, not missing


def test_trace_without_steps_or_not_a_trace_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.pt.trace.json"
    empty.write_text(json.dumps({"traceEvents": [{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 1,
                                                  "dur": 5, "pid": 1, "tid": 1}]}))
    with pytest.raises(InputError, match="no training steps"):
        profile_step(empty, sandbox=OPEN)
    with pytest.raises(InputError, match="not a profiler trace"):
        profile_step(ROOT / "README.md", sandbox=OPEN)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "traintriage", *args], capture_output=True, text=True, timeout=60)


def test_cli_profile_json_text_and_exit_status():
    out = _cli("profile", str(TIMING / "input_bound.pt.trace.json.gz"), "--fail-on", "warning")
    assert out.returncode == 1, out.stderr
    assert [f["code"] for f in json.loads(out.stdout)["findings"]] == ["input_bound"]
    text = _cli("profile", str(TIMING / "compute_bound.pt.trace.json.gz"), "--text")
    assert text.returncode == 0 and "waiting for data" in text.stdout
    bad = _cli("profile", str(ROOT / "README.md"))
    assert bad.returncode == 2 and "not a profiler trace" in bad.stderr and "Traceback" not in bad.stderr
    triage = _cli("triage", str(TIMING / "stall_blocking"), "--text")
    assert "time: " in triage.stdout and "stall" in triage.stdout


@pytest.mark.anyio
async def test_mcp_tool_profile_step(tmp_path: Path) -> None:
    from mcp import Client
    from mcp.server.mcpserver import MCPServer

    from traintriage.server.context import ServerContext
    from traintriage.server.tools import profile_step as tool

    shutil.copy(TIMING / "input_bound.pt.trace.json.gz", tmp_path / "input_bound.pt.trace.json.gz")
    server = MCPServer("traintriage-test")
    tool.register(server, ServerContext.from_roots([tmp_path]))
    async with Client(server) as client:
        ok = await client.call_tool("profile_step", {"trace": str(tmp_path)})
        assert not ok.is_error, ok.content
        assert ok.structured_content["findings"][0]["code"] == "input_bound"
        outside = await client.call_tool("profile_step", {"trace": str(TIMING / "compute_bound.pt.trace.json.gz")})
        assert outside.is_error and "outside every root" in outside.content[0].text
