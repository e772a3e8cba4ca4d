"""Messages in text logs (``log_message``) and fp16 loss-scale overflows (``mixed_precision_overflow``).

On real logs only: excerpts pasted into public GitHub issues (``tests/fixtures/messages/README.md`` says where
each comes from) and small runs that really fail on CPU, made by ``tests/fixtures/messages/generate.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from traintriage import api
from traintriage.detectors.messages import log_message_findings, overflow_message_findings, scale_verdict
from traintriage.sandbox import Sandbox
from traintriage.signals import Series, infer_roles
from traintriage.sources import textlog
from traintriage.sources.messages import MessageCollector
from traintriage.triage import correlate

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = ROOT / "tests/fixtures/messages"
TEXTLOGS = ROOT / "tests/fixtures/formats/textlogs"
OPEN = Sandbox.unrestricted()
NEW = ("log_message", "mixed_precision_overflow")


def _said(name: str):
    _series, _warnings, said = textlog._parse(MESSAGES / name / "train.log")
    return said


# --- the message kinds, on logs people pasted into issues ---------------------------------------------------

@pytest.mark.parametrize(
    ("name", "kind", "count"),
    [
        ("cuda_oom", "oom", 1),  # detectron2: RuntimeError: CUDA out of memory inside a traceback
        ("anomaly_nan", "nan_detected", 1),  # anomaly mode: Function 'PowBackward0' returned nan values
        ("var_dof", "numerical_warning", 3),  # torch UserWarning: var(): degrees of freedom is <= 0, under Ray
        ("runtimewarning_nan", "numerical_warning", 4),  # numpy RuntimeWarning: invalid value encountered in ...
        ("nccl_watchdog", "distributed", 5),  # Watchdog caught collective operation timeout, after a tqdm line
        ("dataloader_killed", "data", 1),  # RuntimeError: DataLoader worker (pid 2978) is killed by ...
        ("apex_overflow", "overflow", 17),  # apex: Gradient overflow.  Skipping step, ... reducing loss scale to
        ("deepspeed_min_scale", "overflow", 5),  # DeepSpeed OVERFLOW! ... reducing to, behind tqdm bars
        ("fairseq_min_scale", "overflow", 12),  # fairseq: WARNING: overflow detected, setting loss scale to:
        ("fairseq_overflow_gpt2", "overflow", 4),  # fairseq: NOTE: gradient overflow detected, ignoring gradient
    ],
)
def test_each_kind_is_found_in_a_real_log(name, kind, count):
    said = _said(name)
    assert said.groups[kind].count == count


def test_an_exception_inside_a_traceback_is_named_by_its_kind_not_counted_twice():
    said = _said("cuda_oom")
    # the first traceback ends in "RuntimeError: CUDA out of memory": that is the oom message; the second is cut
    # off before its exception (the paste ends there) and is a traceback of its own
    assert said.groups["oom"].first.line == 11
    assert said.groups["traceback"].count == 1 and said.groups["traceback"].first.line == 14


def test_the_step_is_that_of_the_nearest_step_line_before():
    said = _said("var_nan")  # the std() warning is printed by step 41, after the line of step 40
    group = said.groups["numerical_warning"]
    assert (group.count, group.first.step) == (1, 40)
    assert "degrees of freedom is <= 0" in group.first.text
    said = _said("fairseq_min_scale")  # the overflows follow fairseq's epoch line of update 10198
    assert {m.step for m in (said.groups["overflow"].first, said.groups["overflow"].last)} == {10198}


def test_overflow_messages_are_not_learnt_as_metric_series():
    series, _warnings, said = textlog._parse(MESSAGES / "apex_overflow/train.log")
    assert series == {}  # "reducing loss scale to 512.0" is a message, not a series named loss_scale_to
    assert [s for _step, s in said.scales][:3] == [32768.0, 16384.0, 8192.0] and said.scales[-1][1] == 0.5


def test_overflow_severity_follows_how_far_the_scale_fell():
    def severity(name):
        (finding,) = overflow_message_findings([_said(name)])
        return finding.severity

    assert severity("apex_overflow") == "warning"  # down to 0.5: scaling nothing any more
    assert severity("fairseq_min_scale") == "warning"  # down to 1.2e-4
    # DeepSpeed calibrating from 2^16 at the first steps of a run (the maintainers: harmless), fairseq at 8: notes
    assert severity("deepspeed_calibration") == "info"
    assert severity("fairseq_overflow_gpt2") == "info"


def test_a_scaler_at_its_floor_is_critical():
    collector = MessageCollector()
    collector.line(1, "FloatingPointError: Minimum loss scale reached (0.0001). Your loss is probably exploding.",
                   None)
    (finding,) = overflow_message_findings([collector.finish()])
    assert finding.severity == "critical" and finding.details["floor_reached"]


def test_severity_follows_the_kind_and_whether_the_run_went_on():
    def severities(path):
        _series, _w, said = textlog._parse(path)
        return {f.details["kind"]: f.severity for f in log_message_findings(said)}

    assert severities(MESSAGES / "nccl_watchdog/train.log") == {"distributed": "critical"}  # the log ends there
    assert severities(MESSAGES / "worker_killed/train.log") == {"data": "critical"}
    # nanoGPT: the first run died of a CUDA OOM at iter 300; a second run follows in the same log
    assert severities(TEXTLOGS / "nanogpt_karpathy/train.log") == {"oom": "warning"}
    # a numerical warning keeps its severity although 80 steps follow it
    assert severities(MESSAGES / "var_nan/train.log") == {"numerical_warning": "warning"}


# --- healthy controls --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "path",
    [
        MESSAGES / "var_healthy/train.log",
        TEXTLOGS / "logging_prefix/train.log",  # autocast FutureWarning and a logged traceback mid-run
        TEXTLOGS / "nanogpt_karpathy/train.log",  # the GradScaler FutureWarning is no message
        TEXTLOGS / "hf_stdout/train.log",
        TEXTLOGS / "detectron2_stdout/output/log.txt",  # warnings and a model repr
        TEXTLOGS / "fairseq/train.log",
    ],
    ids=lambda p: p.parent.name if p.name == "train.log" else p.parts[-3],
)
def test_benign_warnings_are_no_finding_above_info(path):
    report = correlate(api.load(path, sandbox=OPEN), sandbox=OPEN)
    loud = [(f.code, f.details.get("kind")) for f in report.findings if f.code in NEW and f.severity != "info"]
    if path.parent.name == "nanogpt_karpathy":  # the OOM that killed its first run is real, and said
        assert loud == [("log_message", "oom")]
    else:
        assert loud == []


def test_deprecation_warnings_are_not_messages():
    collector = MessageCollector()
    lines = [
        "/usr/lib/python3/site-packages/torch/amp/grad_scaler.py:132: FutureWarning: `torch.cuda.amp.GradScaler(args"
        "...)` is deprecated. Please use `torch.amp.GradScaler('cuda', args...)` instead.",
        "UserWarning: The given NumPy array is not writable, and PyTorch does not support non-writable tensors.",
        "Warning: Anomaly Detection has been enabled. This mode will increase the runtime and should only be enabled "
        "for debugging.",
        "| epoch 027 | loss 6.343 | oom 0 | loss_scale 0.500 | wall 23080",
        "iter 3010: loss nan, time 1099.34ms, mfu 15.34%",
        "NCCL INFO Channel 00/02 :    0   1",
    ]
    for n, line in enumerate(lines, 1):
        collector.line(n, line, None)
    assert collector.finish().groups == {}


# --- correlate: a message near a loss event is its evidence ------------------------------------------------

def test_a_nan_right_after_a_numerical_warning_is_one_issue_with_the_warning_as_evidence():
    report = correlate(api.load(MESSAGES / "var_nan/train.log", sandbox=OPEN), sandbox=OPEN)
    (issue,) = report.issues
    assert issue.codes == ["nan_inf", "log_message"]
    assert issue.root_cause.category == "numerics"
    assert "degrees of freedom is <= 0" in issue.root_cause.explanation
    assert any(ev.metric == "log: numerical_warning" and ev.step == 40 for ev in issue.evidence)


def test_the_healthy_twin_has_no_message_and_no_issue():
    report = correlate(api.load(MESSAGES / "var_healthy/train.log", sandbox=OPEN), sandbox=OPEN)
    assert report.issues == [] and not [f for f in report.findings if f.code in NEW]


def test_an_oom_alone_is_a_memory_issue():
    report = correlate(api.load(TEXTLOGS / "nanogpt_karpathy/train.log", sandbox=OPEN), sandbox=OPEN)
    issue = next(i for i in report.issues if i.codes[0] == "log_message")
    assert issue.root_cause.category == "memory" and "CUDA out of memory" in issue.root_cause.explanation


# --- the loss-scale series (GradScaler really overflowing, on CPU) -------------------------------------------

def test_a_loss_scale_series_is_neither_a_loss_nor_a_gradient():
    roles = infer_roles(["train/loss", "train/loss_scale", "scaler/scale", "grad_scale", "grad_norm"])
    assert roles.train_loss == "train/loss" and roles.grad_total == "grad_norm"
    assert roles.loss_scale == "train/loss_scale" and roles.grad_components == {}
    for name in ("loss_scale", "scaler/scale", "grad_scale", "amp/scale", "optimizer/loss-scale"):
        roles = infer_roles([name, "loss"])
        assert (roles.loss_scale, roles.train_loss) == (name, "loss")


def test_gradscaler_overflowing_on_cpu_is_found_with_its_skipped_steps():
    run = api.load(MESSAGES / "gradscaler_overflow/tb", sandbox=OPEN)
    assert (run.roles.train_loss, run.roles.loss_scale) == ("train/loss", "train/loss_scale")
    report = correlate(run, sandbox=OPEN)
    (finding,) = [f for f in report.findings if f.code == "mixed_precision_overflow"]
    scale = run.get("train/loss_scale")
    falls = int(np.sum(np.diff(scale.values) < 0))
    assert finding.severity == "critical"  # the scale reached 0: every step overflows
    assert finding.details["skipped_exact"] and finding.details["skipped_steps"] == falls
    issue = report.issues[0]  # the Inf loss and the overflow are one issue, caused by numerics
    assert issue.codes == ["nan_inf", "mixed_precision_overflow"] and issue.root_cause.category == "numerics"
    assert "loss scale fell" in issue.root_cause.explanation
    assert any("bf16" in step.change for step in report.remediation)


def test_a_scale_logged_every_n_steps_counts_halvings_as_a_lower_bound():
    scale = api.load(MESSAGES / "gradscaler_overflow/tb", sandbox=OPEN).get("train/loss_scale")
    every_10 = Series.from_arrays("loss_scale", scale.steps[::10][:6], scale.values[::10][:6])  # steps 1..51
    finding = scale_verdict(every_10)
    assert finding is not None and not finding.details["skipped_exact"]
    assert finding.details["skipped_steps"] == round(np.log2(every_10.values[0] / every_10.values[-1]))


def test_a_healthy_gradscaler_and_a_constant_scale_are_silent():
    run = api.load(MESSAGES / "gradscaler_healthy/tb", sandbox=OPEN)
    assert run.roles.loss_scale == "train/loss_scale"
    assert scale_verdict(run.get("train/loss_scale")) is None
    steps = np.arange(100)
    assert scale_verdict(Series.from_arrays("loss scale", steps, np.ones(100))) is None  # Megatron's bf16 "1.0"


# --- wild logs (benchmarks/wild: pulled, not committed; skipped when absent) ---------------------------------

def _wild(case_id: str) -> Path:
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks/wild"))
    from corpus import load_cases

    case = next(c for c in load_cases() if c.id == case_id)
    if case.target_path() is None:
        pytest.skip(f"wild case {case_id} is not pulled (benchmarks/wild/pull.py)")
    return case.target_path()


def test_a_hand_written_scalers_first_overflow_is_a_note():
    # barber0's own scaler: one "OVERFLOW! Scale value 4294967296 -> 2147483648" before the first batch
    report = correlate(api.load(_wild("x-barber0-gradscaler-stuck"), sandbox=OPEN), sandbox=OPEN)
    (finding,) = [f for f in report.findings if f.code == "mixed_precision_overflow"]
    assert finding.severity == "info" and finding.details["min_scale"] == 2147483648.0


def test_a_job_stopped_by_a_signal_is_a_note_not_a_failure():
    # OLMo's log ends in torchrun SignalException tracebacks (SIGHUP, SIGTERM) while saving: training was healthy
    report = correlate(api.load(_wild("t-lopardo-olmo1b-tied-sighup"), sandbox=OPEN), sandbox=OPEN)
    (finding,) = [f for f in report.findings if f.code == "log_message"]
    assert finding.severity == "info" and set(finding.details["exceptions"]) == {"SignalException"}


def test_a_log_of_messages_only_is_a_clear_error_that_says_what_it_printed():
    from traintriage.errors import InputError

    with pytest.raises(InputError, match=r"no scalar series in them; the log prints 17 overflow message\(s\)"):
        api.load(MESSAGES / "apex_overflow/train.log", sandbox=OPEN)


def test_a_message_printed_after_a_progress_bar_is_quoted_from_where_it_starts():
    said = _said("nccl_watchdog")  # the watchdog line follows a tqdm bar on the same line
    assert said.groups["distributed"].first.text.startswith("...ProcessGroupNCCL.cpp:458] [Rank 0] Watchdog caught")
