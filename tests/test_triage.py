"""correlate on real runs: the labelled corpus (real PyTorch training with one injected fault each, and
healthy runs) and the bundled demo run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from traintriage import api
from traintriage.cli import main
from traintriage.commands.demo import example_run
from traintriage.sandbox import Sandbox

CORPUS = Path(__file__).parent.parent / "benchmarks" / "corpus"
LABELS = json.loads((CORPUS / "labels.json").read_text())["runs"]
FAULTY = [r for r in LABELS if not r["healthy"]]
HEALTHY = [r for r in LABELS if r["healthy"]]


def _correlate(label: dict):
    kwargs = {k: v for k, v in label.get("tool_kwargs", {}).items() if k in ("capacity",)}
    return api.correlate(CORPUS / "runs" / label["case"], **kwargs, sandbox=Sandbox.unrestricted())


@pytest.mark.parametrize("label", FAULTY, ids=[r["case"] for r in FAULTY])
def test_top_issue_names_the_injected_cause(label: dict) -> None:
    report = _correlate(label)
    assert report.issues, "a faulty run must produce at least one issue"
    top = report.issues[0]
    assert set(label["must"]) & {c for issue in report.issues for c in issue.codes}
    assert top.root_cause.category == label["root_cause"], (top.title, top.root_cause)
    assert 0 < top.root_cause.confidence <= 0.95
    assert top.evidence and report.remediation and report.validation
    forbidden = {f.code for f in report.findings if f.severity != "info"} & set(label["must_not"])
    assert not forbidden


@pytest.mark.parametrize("label", HEALTHY, ids=[r["case"] for r in HEALTHY])
def test_healthy_runs_have_no_issues(label: dict) -> None:
    report = _correlate(label)
    assert report.issues == []
    assert not [f for f in report.findings if f.severity != "info"]


def test_demo_run_finds_all_three_planted_problems() -> None:
    report = api.correlate(example_run(), sandbox=Sandbox.unrestricted())
    by_code = {code: issue for issue in report.issues for code in issue.codes}
    spike = by_code["loss_spike"]
    assert spike.rank == 1 and spike.root_cause.category == "optimizer"
    assert "gradient_spike" in spike.codes  # the gradient spike at the same steps joins the same issue
    assert by_code["gradient_imbalance"].root_cause.category == "architecture"
    assert "aux_encoder" in by_code["gradient_imbalance"].title
    overfit = by_code["overfitting"]
    assert overfit.step_start is not None and overfit.step_start < 450  # before the spike ended the episode
    plan = " ".join(step.change for step in report.remediation)
    assert "0.0007" in plan and "0.03" in plan  # the logged LR values
    assert f"stop at step {overfit.step_start}" in plan


def test_triage_cli_text_and_fail_on(capsys: pytest.CaptureFixture[str]) -> None:
    run = str(CORPUS / "runs" / "dead_branch_detached")
    assert main(["triage", run, "--text"]) == 0
    out = capsys.readouterr().out
    assert "TOP ISSUES" in out and "REMEDIATION PLAN" in out and "VALIDATION PLAN" in out
    assert "branch_b" in out
    assert main(["triage", run, "--fail-on", "critical"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["issues"][0]["root_cause"]["category"] == "architecture"
    assert main(["triage", str(CORPUS / "runs" / "healthy_lstm"), "--fail-on", "warning"]) == 0


def test_a_divergence_on_an_lr_ramp_caps_the_lr_the_run_showed_was_safe() -> None:
    """An LR range test left on: the plan names the LR where the loss was lowest and the LR at the onset of the
    divergence (both logged), not a fraction of the peak the ramp happened to reach."""
    report = api.correlate(CORPUS / "runs" / "divergence_lr_ramp", sandbox=Sandbox.unrestricted())
    data = api.load(str(CORPUS / "runs" / "divergence_lr_ramp"), sandbox=Sandbox.unrestricted())
    loss, lr = data.series[data.roles.train_loss], data.series[data.roles.lr]
    first = report.remediation[0].change
    onset = report.issues[0].step_start
    best = int(loss.steps[loss.steps <= onset][loss.values[loss.steps <= onset].argmin()])
    lr_at = {int(s): v for s, v in zip(lr.steps, lr.values, strict=True)}
    assert first.startswith("cap ") and f"lowest (step {best})" in first and f"from step {onset}" in first
    assert f"{lr_at[max(s for s in lr_at if s <= best)]:.3g}" in first
    assert "lower peak LR" not in " ".join(step.change for step in report.remediation)
