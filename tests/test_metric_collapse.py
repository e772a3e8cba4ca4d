"""``metric_collapse`` on real runs: a classifier that really collapses to one class, and a healthy control whose
prediction entropy falls because it grows confident (``tests/fixtures/generate_metric_collapse_runs.py`` trained
both with torch on CPU; the event files are committed, so no torch is needed here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from traintriage import api
from traintriage.cli import main as cli_main
from traintriage.detectors.metrics.collapse import find_collapse, find_pinned_accuracy
from traintriage.rules.metric_collapse.thresholds import COLLAPSE_FRACTION, MIN_CONSTANT_POINTS
from traintriage.sandbox import Sandbox
from traintriage.signals import Series, infer_roles, is_collapse_metric_name

OPEN = Sandbox.unrestricted()
RUNS = Path(__file__).parent / "fixtures" / "runs" / "metric_collapse"
COLLAPSE = RUNS / "collapse_one_class"
HEALTHY = RUNS / "healthy_confident"
BURST_STEP = 500  # where the generator set the LR to 40 for five steps


def _collapses(report):
    return [f for f in report.findings if f.code == "metric_collapse"]


@pytest.fixture(scope="module")
def collapse_report():
    return api.correlate(str(COLLAPSE), sandbox=OPEN)


def test_roles_come_from_names():
    roles = infer_roles(["loss/train", "predictions/entropy", "predictions/logit_std", "ponder_cost",
                         "halting/var", "distinct_outputs", "token_diversity", "loss/cross_entropy", "val/accuracy"])
    assert sorted(roles.collapse_metric) == ["distinct_outputs", "halting/var", "ponder_cost",
                                            "predictions/entropy", "predictions/logit_std", "token_diversity"]
    assert not is_collapse_metric_name("cross_entropy")  # a loss, not an output's entropy
    assert not is_collapse_metric_name("variable_count")


def test_one_class_collapse_is_found_where_it_happened(collapse_report):
    found = _collapses(collapse_report)
    assert len(found) == 1, [f.title for f in found]  # entropy, logit std and the pinned accuracy: one event
    f = found[0]
    assert f.severity == "warning"
    assert BURST_STEP <= f.step_start <= BURST_STEP + 20
    metrics = {m["series"]: m for m in f.details["metrics"]}
    assert {"predictions/class_entropy", "predictions/entropy", "val/accuracy"} <= set(metrics)
    assert "predictions/logit_std" not in metrics  # the logits grew huge after the burst: spread, not collapse
    entropy = metrics["predictions/class_entropy"]
    assert entropy["before"] > 0.5 and abs(entropy["after"]) < COLLAPSE_FRACTION * entropy["before"]
    # the accuracy is pinned at the majority class's share of the validation set (60 % of the labels)
    assert metrics["val/accuracy"]["kind"] == "pinned"
    assert 0.55 < metrics["val/accuracy"]["after"] < 0.65
    assert "the loss rose" in f.details["loss"]  # what the loss did meanwhile
    assert any(e.metric == "loss/train" for e in f.evidence)


def test_collapse_is_attributed_to_the_lr_burst_and_the_plan_names_the_dead_layer(collapse_report):
    issue = next(i for i in collapse_report.issues if i.codes[0] == "metric_collapse")
    assert issue.root_cause.category == "optimizer"
    assert any(f"at step {BURST_STEP}" in s for s in issue.root_cause.signals)
    changes = " | ".join(step.change for step in collapse_report.remediation if issue.rank in step.addresses)
    assert f"remove the LR jump at step {BURST_STEP}" in changes and "0.003" in changes
    assert "fc1's gradient norm fell" in changes or "fc2's gradient norm fell" in changes


def test_healthy_confident_model_is_not_a_collapse():
    run = api.load(HEALTHY, sandbox=OPEN)
    entropy = run.series["predictions/entropy"].values
    accuracy = run.series["val/accuracy"].values
    # the control really is the case the exemption is for: entropy falls > 10x while accuracy rises
    assert entropy[-5:].mean() < COLLAPSE_FRACTION * np.median(entropy[: len(entropy) // 4])
    assert accuracy[-5:].mean() > accuracy[:3].mean() + 0.2
    # on its own numbers the entropy did collapse; what clears it is the loss falling and accuracy rising
    assert find_collapse(run.series["predictions/entropy"]) is not None
    report = api.correlate(str(HEALTHY), sandbox=OPEN)
    assert not _collapses(report)
    assert report.analyses["metrics"].startswith("ok")


def test_role_override_watches_a_series_the_names_miss(capsys):
    # fc1's gradient norm has no collapse-like name; named with --role it is watched, and it fell to 0.
    code = cli_main(["triage", str(COLLAPSE), "--role", "collapse_metric=grad_norm/fc1"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    collapses = [f for f in report["findings"] if f["code"] == "metric_collapse"]
    watched = [m["series"] for f in collapses for m in f["details"]["metrics"]]
    assert "grad_norm/fc1" in watched
    assert report["run"]["roles"]["collapse_metric"][0] == "grad_norm/fc1"


def test_role_override_naming_a_missing_series_is_a_clear_error(capsys):
    assert cli_main(["triage", str(COLLAPSE), "--role", "collapse_metric=no/such/series"]) == 2
    assert "no series named" in capsys.readouterr().err


def _series(values) -> Series:
    return Series.from_arrays("halting/var", np.arange(len(values)) * 10, np.asarray(values, dtype=float))


def test_constant_from_the_first_step_is_by_design():
    assert find_collapse(_series([3.0] * 40)) is None


def test_a_metric_that_varied_then_froze_is_a_collapse_to_a_constant():
    rng = np.random.default_rng(0)
    values = np.concatenate([2.0 + 0.3 * rng.standard_normal(30), np.full(MIN_CONSTANT_POINTS + 3, 1.7)])
    c = find_collapse(_series(values))
    assert c is not None and c.kind == "constant" and c.onset_step == 300


def test_a_dip_that_recovers_is_not_a_collapse():
    values = [1.0] * 20 + [0.01] * 5 + [1.0] * 15
    assert find_collapse(_series(values)) is None


def test_an_accuracy_at_its_usual_level_is_not_pinned():
    converged = [0.5, 0.7, 0.8, 0.85, 0.9] + [0.9] * 8  # at its best: stable, not collapsed
    small_set = [0.6, 0.8, 0.8, 0.9, 0.8, 0.8, 0.7, 0.8] + [0.8] * 6  # ten examples: 0.8 is its usual value
    for values in (converged, small_set):
        assert find_pinned_accuracy(Series.from_arrays("val/accuracy", np.arange(len(values)),
                                                       np.array(values))) is None
