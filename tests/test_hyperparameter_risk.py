"""``hyperparameter_risk``: the configuration read wherever a run keeps it, checked against documented ranges.

Real runs: ``tests/fixtures/generate_hyperparameter_risk_runs.py`` trained a tiny transformer with torch twice
(Adam at LR 0.05 without warmup, and at 1e-3 with a warmup) and an LSTM with SGD at LR 20 and no clipping, and
wrote each configuration with ``SummaryWriter.add_hparams``. Real headers: nanoGPT's config dump and a
Lightning ``hparams.yaml`` from the wild corpus (skipped when its files are not pulled); argparse's ``Namespace``
repr made by argparse itself; llm.c's parameter table rendered with the printf formats of llm.c's
``train_gpt2.cu``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from traintriage import api
from traintriage.detectors.config import detect_hyperparameter_risk, read_config
from traintriage.detectors.config.read import Config, read_header
from traintriage.detectors.config.risks import escalate, find_risks
from traintriage.findings import make_finding
from traintriage.rules.hyperparameter_risk.thresholds import ADAM_MAX_LR
from traintriage.sandbox import Sandbox

OPEN = Sandbox.unrestricted()
ROOT = Path(__file__).resolve().parents[1]
RUNS = Path(__file__).parent / "fixtures" / "runs" / "hyperparameter_risk"
TOO_HIGH = RUNS / "adam_lr_too_high"
OK = RUNS / "adam_lr_ok"
WILD = ROOT / "benchmarks" / "wild"


def _kinds(findings) -> set[str]:
    return {f.details["kind"] for f in findings if f.code == "hyperparameter_risk"}


def _config(**values) -> Config:
    c = Config()
    for k, v in values.items():
        c.add(k, v, "test")
    return c


@pytest.fixture(scope="module")
def too_high_report():
    return api.correlate(str(TOO_HIGH), sandbox=OPEN)


def test_hparams_plugin_config_is_read_with_its_source():
    config = read_config(api.load(TOO_HIGH, sandbox=OPEN), OPEN)
    assert config.values["lr"] == 0.05 and config.values["optimizer"] == "adam"
    assert "tensorboard hparams" in config.sources["lr"]


def test_adam_lr_far_above_its_range_is_flagged_and_escalated_by_the_failure_it_predicts(too_high_report):
    risks = [f for f in too_high_report.findings if f.code == "hyperparameter_risk"]
    assert {"adam_lr", "no_warmup"} <= _kinds(risks)
    adam = next(f for f in risks if f.details["kind"] == "adam_lr")
    assert adam.details["value"] == 0.05 and f"{ADAM_MAX_LR:g}" in adam.details["documented"]
    assert "Kingma" in adam.details["reference"]
    failures = {f.code for f in too_high_report.findings if f.severity != "info"} & set(adam.details["predicts"])
    assert failures, "the run was generated to fail; if it no longer does, regenerate it and check"
    assert adam.severity == "warning" and adam.details["shown_by"] in failures


def test_the_failure_is_attributed_to_the_configured_lr_and_the_plan_names_value_and_range(too_high_report):
    # Adam at 0.05 never leaves the unigram level on this run: the failure it shows is a plateau at chance
    failure = next(i for i in too_high_report.issues if i.codes[0] in ("divergence", "oscillation", "loss_spike",
                                                                          "nan_inf", "plateau"))
    assert failure.root_cause.category == "optimizer"
    assert any("lr = 0.05 configured" in s for s in failure.root_cause.signals)
    changes = [s.change for s in too_high_report.remediation if failure.rank in s.addresses]
    assert any("lr = 0.05" in c and "<= 0.01" in c for c in changes), changes
    assert not any(c.startswith("raise peak LR") for c in changes)  # a plateau's usual fix would be backwards here


def test_a_run_inside_the_documented_ranges_has_no_risk():
    report = api.correlate(str(OK), sandbox=OPEN)
    assert not [f for f in report.findings if f.code == "hyperparameter_risk"]
    assert report.analyses["config"].startswith("ok")


def test_a_risk_the_run_did_not_pay_for_stays_a_note():
    # A real LSTM at the word_language_model example's LR 20 with its clipping set to 0: it happened to train
    # (no spike, no NaN), so the missing clipping is a note, and no issue.
    report = api.correlate(str(RUNS / "lstm_no_clip"), sandbox=OPEN)
    risks = [f for f in report.findings if f.code == "hyperparameter_risk"]
    assert [(f.details["kind"], f.severity) for f in risks] == [("rnn_no_clip", "info")]
    assert risks[0].details["setting"] == "clip" and "Pascanu" in risks[0].details["reference"]
    assert not report.issues


def test_a_risk_alone_is_a_note():
    risk = detect_hyperparameter_risk(_config(optimizer="AdamW", learning_rate=0.1))
    assert [f.severity for f in risk] == ["info"]
    spike_elsewhere = make_finding("overfitting", "warning", "t", "m", confidence=0.5)
    assert escalate([*risk, spike_elsewhere])[0].severity == "info"  # overfitting is not what a high LR predicts


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ({"optimizer": "adam", "lr": 0.02}, "adam_lr"),
        ({"model_name_or_path": "bert-base-uncased", "learning_rate": 0.003}, "finetune_lr"),
        ({"optimizer": "SGD", "momentum": 0.0, "model": "gpt2-small"}, "sgd_transformer"),
        ({"n_layer": 12, "n_head": 12, "learning_rate": 6e-4, "warmup_iters": 0}, "no_warmup"),
        ({"optimizer": "Adam", "weight_decay": 0.01, "lr": 1e-3}, "adam_weight_decay"),
        ({"batch_size": 1, "norm": "batch"}, "batchnorm_batch1"),
        ({"cell_type": "lstm", "grad_clip": 0}, "rnn_no_clip"),
        ({"optimizer": "muon", "muon_lr": 0.05}, "muon_lr"),
    ],
)
def test_each_documented_range(values, kind):
    assert kind in {r.kind for r in find_risks(_config(**values))}


@pytest.mark.parametrize(
    "values",
    [
        {"optimizer": "adamw", "lr": 1e-3},
        {"model_name_or_path": "bert-base-uncased", "learning_rate": 5e-5},
        {"optimizer": "sgd", "momentum": 0.9, "model": "gpt2"},
        {"n_layer": 12, "n_head": 12, "learning_rate": 6e-4, "warmup_iters": 2000},
        {"model_type": "gpt2", "learning_rate": 6e-4, "warmup_steps": 0, "warmup_ratio": 0.06},  # HF: ratio wins
        {"optimizer": "adamw", "weight_decay": 0.1},
        {"batch_size": 32, "norm": "batch"},
        {"cell_type": "lstm", "grad_clip": 1.0},
        {"optimizer": "muon", "muon_lr": 0.02},
    ],
)
def test_values_inside_their_range_are_silent(values):
    assert find_risks(_config(**values)) == []


def test_namespace_line_printed_by_argparse(tmp_path):
    args = argparse.Namespace(model="transformer", optimizer="adam", lr=0.05, warmup_steps=0, batch_size=16,
                              data=Path("/data/x"))
    log = tmp_path / "train.log"
    log.write_text(f"starting\n{args}\nstep 0 loss 4.1\n")
    values, kind = read_header(log)
    assert kind == "Namespace(...) line"
    assert values["lr"] == 0.05 and values["optimizer"] == "adam" and values["data"] == "PosixPath('/data/x')"
    assert "adam_lr" in {r.kind for r in find_risks(_config(**values))}


def test_llmc_parameter_table(tmp_path):
    # The rows exactly as llm.c's train_gpt2.cu prints them ("| %-21s | %-50e |" and friends).
    rows = [("micro batch size B", "%-50d", 4), ("learning rate (LR)", "%-50e", 3e-2),
            ("warmup iterations", "%-50d", 0), ("weight decay", "%-50e", 0.0), ("max_steps", "%-50d", 74)]
    model = [("num_layers L", "%-50d", 12), ("num_heads NH", "%-50d", 12), ("channels C", "%-50d", 768)]
    rule = "+-----------------------+----------------------------------------------------+"
    lines = [rule, "| %-21s | %-50s |" % ("Parameter", "Value"), rule]  # noqa: UP031 (llm.c's printf formats)
    lines += [("| %-21s | " + fmt + " |") % (name, value) for name, fmt, value in rows + model] + [rule]
    log = tmp_path / "main.log"
    log.write_text("\n".join(lines) + "\nstep    1/74 | train loss 4.0 | norm 1.2 | lr 3.00e-04\n")
    values, kind = read_header(log)
    assert kind == "llm.c parameter table"
    assert values["learning rate (lr)"] == pytest.approx(0.03) and values["num_heads"] == 12
    assert {"adam_lr", "no_warmup"} <= {r.kind for r in find_risks(_config(**values))}  # llm.c trains with AdamW


def _wild_target(case_id: str) -> Path:
    sys.path.insert(0, str(WILD))
    from corpus import load_cases

    case = next(c for c in load_cases() if c.id == case_id)
    target = case.target_path()
    if target is None:
        pytest.skip(f"wild case {case_id} is not pulled (benchmarks/wild/pull.py)")
    return target


def test_nanogpt_config_dump_from_a_real_log():
    run = api.load(_wild_target("t-wilcoooo-nanogpt-char-small"), sandbox=OPEN)
    config = read_config(run, OPEN)
    assert config.values["learning_rate"] == 1e-3 and config.values["warmup_iters"] == 50
    assert config.values["n_layer"] == 4 and "config dump" in config.sources["learning_rate"]
    assert find_risks(config) == []  # a 4-layer char GPT at 1e-3 with a warmup: inside every range


def test_lightning_hparams_beside_a_one_file_run():
    # metrics.csv, with hparams.yaml beside it
    run = api.load(_wild_target("z-ratos-lstm-nan-lightning"), sandbox=OPEN)
    config = read_config(run, OPEN)
    assert config.values["lr"] == 1e-4 and config.sources["lr"] == "hparams.yaml"


def test_bad_headers_are_ignored_not_raised(tmp_path):
    log = tmp_path / "train.log"
    log.write_bytes(b"Namespace(lr=__import__('os').getcwd(), x=[1, 2\n\xff\xfe garbage = = =\n")
    values, _ = read_header(log)
    assert values.get("lr") in (None, "__import__('os').getcwd()")  # kept as text, never evaluated
    json.dumps(values)
