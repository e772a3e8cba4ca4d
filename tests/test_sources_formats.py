"""Readers for trainer_state.json, CSV, JSONL, text logs and MLflow's file store.

Expected values are read back from the fixture files themselves (with json/csv), so a reader that
drops, shifts or mis-assigns a point fails here. Fixtures: tests/fixtures/formats/ (see its README).
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from traintriage.describe import summarize
from traintriage.errors import InputError
from traintriage.sandbox import Sandbox
from traintriage.sources import detect_formats, filecache, known_formats, load_run

FORMATS_DIR = Path(__file__).parent / "fixtures" / "formats"
HF = FORMATS_DIR / "hf_trainer"
TEXT = FORMATS_DIR / "textlogs"


pytestmark = pytest.mark.usefixtures("fresh_filecache")


def _points(data, name):
    s = data.series[name]
    return s.steps.tolist(), s.values.tolist()


# ---------------------------------------------------------------------------------------------
# trainer_state.json
# ---------------------------------------------------------------------------------------------


def test_trainer_state_reads_newest_checkpoint_with_roles_and_clip_threshold():
    data = load_run(HF, sandbox=Sandbox.unrestricted())
    assert data.source == "trainer_state"
    assert data.path == HF.resolve()  # checkpoint-* dirs are parts of the run, not runs of their own
    history = json.loads((HF / "checkpoint-120" / "trainer_state.json").read_text())["log_history"]
    train = [r for r in history if "loss" in r]
    assert _points(data, "loss") == ([r["step"] for r in train], [r["loss"] for r in train])
    squad = [r for r in history if "eval_squad_loss" in r]
    assert _points(data, "eval_squad_loss") == ([r["step"] for r in squad], [r["eval_squad_loss"] for r in squad])
    roles = data.roles
    assert roles.train_loss == "loss"
    assert roles.val_loss == ["eval_mnli_loss", "eval_squad_loss"]
    assert (roles.lr, roles.grad_total, roles.epoch) == ("learning_rate", "grad_norm", "epoch")
    assert roles.clip_threshold == "max_grad_norm"
    clip = data.series["max_grad_norm"]
    assert clip.steps.tolist() == data.series["grad_norm"].steps.tolist() and set(clip.values) == {1.0}
    # The end-of-training summary is not a per-step series (its train_loss would steal the role).
    assert not {"train_loss", "train_runtime", "total_flos"} & data.series.keys()
    assert any("checkpoint-120/trainer_state.json (most steps: 120) of 3" in w for w in data.warnings)


def test_trainer_state_single_file_reads_that_file():
    data = load_run(HF / "checkpoint-40" / "trainer_state.json", sandbox=Sandbox.unrestricted())
    assert data.source == "trainer_state"
    assert data.series["loss"].steps.tolist() == [10, 20, 30, 40]


def test_training_args_outside_the_roots_is_not_read(tmp_path):
    """The HF loader looks for training_args.json beside the state and one directory above a checkpoint:
    under a server's roots, neither look-up may reach a file outside them (a symlink, or the directory
    above a root)."""
    import shutil

    output = tmp_path / "output"
    shutil.copytree(HF / "checkpoint-40", output / "checkpoint-40")
    args = output / "training_args.json"
    args.write_text(json.dumps({"max_grad_norm": 0.5}))
    checkpoint = output / "checkpoint-40"
    # The directory above the checkpoint: read unrestricted, and under a root that holds it; not under
    # a root that is the checkpoint itself.
    assert set(load_run(checkpoint, sandbox=Sandbox.unrestricted()).series["max_grad_norm"].values) == {0.5}
    assert set(load_run(checkpoint, sandbox=Sandbox.of([output])).series["max_grad_norm"].values) == {0.5}
    assert "max_grad_norm" not in load_run(checkpoint, sandbox=Sandbox.of([checkpoint])).series
    # A symlink beside the state that points out of the roots.
    run = tmp_path / "root" / "run"
    shutil.copytree(HF / "checkpoint-40", run)
    (run / "training_args.json").symlink_to(args)
    assert "max_grad_norm" not in load_run(run, sandbox=Sandbox.of([tmp_path / "root"])).series
    assert set(load_run(run, sandbox=Sandbox.of([tmp_path])).series["max_grad_norm"].values) == {0.5}


def test_trainer_state_bad_records_and_truncated_file(tmp_path):
    state = json.loads((HF / "checkpoint-40" / "trainer_state.json").read_text())
    state["log_history"][1] = "oops"
    state["log_history"][2].pop("step")
    state["log_history"][3]["loss"] = [1, 2]  # lists/strings are not metrics: skipped silently
    run = tmp_path / "run"
    run.mkdir()
    (run / "trainer_state.json").write_text(json.dumps(state, indent=2))
    (run / "training_args.bin").write_bytes(b"\x80\x04K\x01.")  # a pickle of the int 1: must not be loaded
    data = load_run(run, sandbox=Sandbox.unrestricted())
    assert data.series["loss"].steps.tolist() == [10]
    assert data.series["grad_norm"].steps.tolist() == [10, 40]
    joined = "\n".join(data.warnings)
    assert "log_history[1]: record is a str" in joined
    assert "log_history[2]: record has no numeric 'step'" in joined
    assert "training_args.bin is a pickle and is not read" in joined
    assert "max_grad_norm" not in data.series

    cut = tmp_path / "cut"
    cut.mkdir()
    text = (HF / "checkpoint-40" / "trainer_state.json").read_text()
    (cut / "trainer_state.json").write_text(text[: len(text) // 2])
    with pytest.raises(InputError) as err:
        load_run(cut, sandbox=Sandbox.unrestricted())
    assert "trainer_state.json:" in str(err.value) and "not valid JSON" in str(err.value)


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_keras_csvlogger_steps_are_epochs():
    data = load_run(FORMATS_DIR / "keras_csv", sandbox=Sandbox.unrestricted())
    rows = _csv_rows(FORMATS_DIR / "keras_csv" / "training.csv")
    assert data.source == "csv"
    assert _points(data, "val_loss") == ([int(r["epoch"]) for r in rows], [float(r["val_loss"]) for r in rows])
    assert (data.roles.train_loss, data.roles.val_loss, data.roles.lr) == ("loss", ["val_loss"], "learning_rate")
    assert "epoch" not in data.series


def test_csv_without_step_column_uses_row_numbers():
    data = load_run(FORMATS_DIR / "keras_history_noepoch" / "history.csv", sandbox=Sandbox.unrestricted())
    rows = _csv_rows(FORMATS_DIR / "keras_history_noepoch" / "history.csv")
    assert _points(data, "loss") == (list(range(len(rows))), [float(r["loss"]) for r in rows])
    assert any("steps are data row numbers" in w for w in data.warnings)


def test_lightning_sparse_metrics_csv():
    data = load_run(FORMATS_DIR / "lightning", sandbox=Sandbox.unrestricted())
    rows = _csv_rows(FORMATS_DIR / "lightning" / "lightning_logs" / "version_0" / "metrics.csv")
    val = [r for r in rows if r["val_loss"]]
    assert _points(data, "val_loss") == ([int(r["step"]) for r in val], [float(r["val_loss"]) for r in val])
    assert data.series["train_loss_step"].steps.tolist() == [49, 99, 149, 199, 249, 299]
    assert data.roles.train_loss == "train_loss_step"
    assert (data.roles.val_loss, data.roles.lr, data.roles.epoch) == (["val_loss"], "lr-AdamW", "epoch")
    assert "step" not in data.series


def test_generic_csv_with_iteration_column_and_wall_time():
    data = load_run(FORMATS_DIR / "generic_csv", sandbox=Sandbox.unrestricted())
    rows = _csv_rows(FORMATS_DIR / "generic_csv" / "log.csv")
    assert _points(data, "loss") == ([int(r["iteration"]) for r in rows], [float(r["loss"]) for r in rows])
    assert data.series["loss"].wall_times.tolist() == [float(r["wall_time"]) for r in rows]
    assert (data.roles.train_loss, data.roles.lr, data.roles.grad_total) == ("loss", "lr", "grad_norm")
    assert "run_name" not in data.series and "wall_time" not in data.series


def test_csv_malformed_rows_are_reported_with_line_numbers_and_capped(tmp_path):
    lines = ["step,loss,lr"] + [f"{i},{1.0 / (i + 1)},0.1" for i in range(30)]
    lines[3] = "2,0.33"  # too few fields: line 4
    lines[5] = "4,oops,0.1"  # not a number: line 6
    for i in range(10, 25):
        lines[i] = f"{i - 1},bad,0.1"
    path = tmp_path / "log.csv"
    path.write_text("\n".join(lines) + "\n")
    data = load_run(path, sandbox=Sandbox.unrestricted())
    warnings = "\n".join(data.warnings)
    assert f"{path}:4: 2 fields where the header has 3" in warnings
    assert f"{path}:6: 'loss' is not a number" in warnings
    assert "and 7 more unreadable lines" in warnings  # 1 row + 16 cells = 17 problems, 10 shown
    assert len(data.series["loss"]) == 30 - 17
    assert len(data.series["lr"]) == 29


# ---------------------------------------------------------------------------------------------
# JSONL
# ---------------------------------------------------------------------------------------------


def test_jsonl_per_step_records():
    data = load_run(FORMATS_DIR / "jsonl", sandbox=Sandbox.unrestricted())
    records = [json.loads(line) for line in (FORMATS_DIR / "jsonl" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if "loss" in r]
    assert data.source == "jsonl"
    assert _points(data, "loss") == ([r["step"] for r in train], [r["loss"] for r in train])
    assert data.series["val_loss"].steps.tolist() == [100, 200]
    roles = data.roles
    assert (roles.train_loss, roles.val_loss, roles.lr, roles.grad_total) == ("loss", ["val_loss"], "lr", "grad_norm")


def test_wandb_history_export_flattens_and_uses_step_and_timestamp():
    path = FORMATS_DIR / "wandb_export" / "wandb-history.jsonl"
    data = load_run(path, sandbox=Sandbox.unrestricted())
    records = [json.loads(line) for line in path.read_text().splitlines()]
    val = [r for r in records if "val" in r]
    assert _points(data, "val/loss") == ([r["_step"] for r in val], [r["val"]["loss"] for r in val])
    assert data.series["train/loss"].wall_times.tolist() == [r["_timestamp"] for r in records]
    assert not any(name.startswith(("_", "examples")) for name in data.series)
    roles = data.roles
    assert (roles.train_loss, roles.val_loss, roles.lr, roles.grad_total) == (
        "train/loss",
        ["val/loss"],
        "train/lr",
        "grad/norm",
    )


def test_jsonl_bad_lines_reported(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 0, "loss": 1.0}\n{"step": 1, "loss": \n[1, 2]\n{"step": 2, "loss": NaN}\n')
    data = load_run(path, sandbox=Sandbox.unrestricted())
    assert data.series["loss"].steps.tolist() == [0, 2]
    assert math.isnan(data.series["loss"].values[1])
    warnings = "\n".join(data.warnings)
    assert f"{path}:2: not valid JSON" in warnings and f"{path}:3: a JSON list, not an object" in warnings


# ---------------------------------------------------------------------------------------------
# Plain-text logs
# ---------------------------------------------------------------------------------------------


def test_hf_stdout_dict_lines_with_nan_loss():
    data = load_run(TEXT / "hf_stdout", sandbox=Sandbox.unrestricted())
    assert data.source == "textlog"
    loss = data.series["loss"]
    assert loss.steps.tolist() == [1, 2, 3, 4, 5, 6]
    assert np.isnan(loss.values[4:]).all() and np.isfinite(loss.values[:4]).all()
    assert data.series["eval_loss"].steps.tolist() == [3] and data.series["eval_loss"].values[0] == 1.2345
    roles = data.roles
    assert (roles.train_loss, roles.val_loss, roles.lr, roles.grad_total) == (
        "loss",
        ["eval_loss"],
        "learning_rate",
        "grad_norm",
    )
    assert not {"eval_runtime", "train_loss", "Epochs"} & data.series.keys()  # timings, summary, config echo
    assert any("carry no step" in w for w in data.warnings)


def test_key_value_lines_ignore_nan_timings():
    data = load_run(TEXT / "nanogpt" / "train.log", sandbox=Sandbox.unrestricted())
    assert set(data.series) == {"train_loss", "val_loss"}  # step_avg:nanms / train_time are not metrics
    assert data.series["val_loss"].steps.tolist() == [0, 50, 100, 150, 200]
    assert np.isfinite(data.series["val_loss"].values).all()
    assert data.series["train_loss"].steps.tolist() == list(range(1, 201))
    assert (data.roles.train_loss, data.roles.val_loss) == ("train_loss", ["val_loss"])


def test_pytorch_example_table_lines():
    data = load_run(TEXT / "pytorch_wlm", sandbox=Sandbox.unrestricted())
    lines = (TEXT / "pytorch_wlm" / "train.log").read_text().splitlines()
    first = lines[0].split("|")
    assert data.series["loss"].steps[0] == 200 and data.series["loss"].values[0] == float(first[5].split()[1])
    assert data.series["loss"].steps[-1] == 2 * 2983 + 2800
    assert data.series["valid_loss"].steps.tolist() == [2983, 5966, 8949]
    assert data.roles.val_loss == ["valid_loss", "test_loss"]
    assert (data.roles.train_loss, data.roles.lr) == ("loss", "lr")
    assert "ms/batch" not in data.series and "time" not in data.series


def test_keras_progress_lines_with_ansi_codes():
    data = load_run(TEXT / "keras", sandbox=Sandbox.unrestricted())
    assert data.series["val_loss"].steps.tolist() == list(range(1, 11))
    text = (TEXT / "keras" / "train.out").read_text()
    assert data.series["loss"].values[0] == float(text.split(" - loss: ")[1].split()[0])
    assert (data.roles.train_loss, data.roles.val_loss) == ("loss", ["val_loss"])


def test_tqdm_postfix_steps_continue_across_epochs():
    data = load_run(TEXT / "lightning_tqdm", sandbox=Sandbox.unrestricted())
    assert data.series["train_loss"].steps.tolist() == list(range(0, 301, 20))
    # val_loss stays in the bar after each validation: one point per new value, not one per refresh.
    assert data.series["val_loss"].steps.tolist() == [100, 200]
    assert "v_num" not in data.series


def test_csv_named_dot_log_is_read_as_csv():
    data = load_run(TEXT / "keras_csvlogger" / "training.log", sandbox=Sandbox.unrestricted())
    rows = _csv_rows(FORMATS_DIR / "keras_csv" / "training.csv")
    assert data.series["loss"].values.tolist() == [float(r["loss"]) for r in rows]
    assert data.source == "csv"  # recognised by its content, whatever its name


def test_timing_nan_is_not_a_nan_loss_but_loss_nan_is(tmp_path):
    path = tmp_path / "train.log"
    path.write_text(
        "| epoch   1 |   200/ 2983 batches | lr 20.00 | ms/batch   nan | loss  7.64 | ppl  2078.37\n"
        "| epoch   1 |   400/ 2983 batches | lr 20.00 | ms/batch 45.20 | loss   nan | ppl      nan\n"
        "step=500 loss=0.5 eta=nan\n"
    )
    data = load_run(path, sandbox=Sandbox.unrestricted())
    loss = data.series["loss"]
    assert loss.steps.tolist() == [200, 400, 500]
    assert loss.values[0] == 7.64 and math.isnan(loss.values[1]) and loss.values[2] == 0.5
    assert not any("ms" in name or "eta" in name for name in data.series)


def test_user_regex_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "run.out"
    path.write_text("it 10 | loss 2.5 | lr 1e-3\nit 20 | loss nan | lr 1e-3\nit x0 | loss 1 | lr 1\n")
    # The line template is learned: "it" is the step, "it x0" is another template.
    learned = load_run(path, sandbox=Sandbox.unrestricted())
    assert learned.series["loss"].steps.tolist() == [10, 20] and "user regex" not in str(learned.warnings)
    path.write_text("it 10 | loss 2.5 | lr 1e-3\nit 20 | loss nan | lr 1e-3\nit x0 | loss 1 | lr 1\n")
    filecache.clear()
    monkeypatch.setenv("TRAINTRIAGE_LOG_REGEX", r"^it (?P<step>\S+) \| loss (?P<loss>\S+) \| lr (?P<lr>\S+)")
    data = load_run(path, sandbox=Sandbox.unrestricted())
    assert data.series["loss"].steps.tolist() == [10, 20] and math.isnan(data.series["loss"].values[1])
    assert (data.roles.train_loss, data.roles.lr) == ("loss", "lr")
    assert f"{path}:3: step 'x0' is not a number" in data.warnings


def test_unrecognised_log_contributes_nothing_and_says_so():
    with pytest.raises(InputError) as err:
        load_run(TEXT / "unrecognised", sandbox=Sandbox.unrestricted())
    message = str(err.value)
    assert "setup.log: text with no line this tool reads as a metric" in message
    assert "TRAINTRIAGE_LOG_REGEX" in err.value.hint


def test_text_logs_only_read_when_nothing_structured(tmp_path):
    (tmp_path / "stdout.log").write_text("step=1 loss=9.0\n")
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
    data = load_run(tmp_path, sandbox=Sandbox.unrestricted())
    assert data.source == "jsonl" and data.series["loss"].values.tolist() == [1.0]
    assert any("also found textlog" in w for w in data.warnings)
    assert "requirements.txt" not in str(detect_formats(FORMATS_DIR, sandbox=Sandbox.unrestricted()))
    (tmp_path / "requirements.txt").write_text("numpy\n")
    assert [p.name for p in detect_formats(tmp_path, sandbox=Sandbox.unrestricted())["textlog"]] == ["stdout.log"]


# ---------------------------------------------------------------------------------------------
# MLflow file store
# ---------------------------------------------------------------------------------------------


def test_mlflow_store_reads_newest_run_with_nested_keys():
    data = load_run(FORMATS_DIR / "mlruns", sandbox=Sandbox.unrestricted())
    assert data.source == "mlflow"
    run = FORMATS_DIR / "mlruns" / "1" / "9e8d7c6b5a4f43219876fedcba012345"
    lines = [line.split() for line in (run / "metrics" / "val_loss").read_text().splitlines()]
    assert _points(data, "val_loss") == ([int(p[2]) for p in lines], [float(p[1]) for p in lines])
    assert data.series["val_loss"].wall_times.tolist() == [int(p[0]) / 1000 for p in lines]
    assert (data.roles.train_loss, data.roles.val_loss, data.roles.lr) == ("loss", ["val_loss"], "train/lr")
    assert any("read brave-fox-27" in w for w in data.warnings)


def test_mlflow_run_dir_and_bad_metric_lines(tmp_path):
    run = tmp_path / "mlruns" / "1" / "abc"
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text("run_id: abc\nstart_time: 1\nlifecycle_stage: active\n")
    (run / "metrics" / "loss").write_text("1000 0.5 0\n1001 zz 1\n1002 0.4\n1003 0.3 2\n")
    data = load_run(run, sandbox=Sandbox.unrestricted())
    assert data.series["loss"].steps.tolist() == [0, 2]
    assert f"{run / 'metrics' / 'loss'}:2: not numbers" in "\n".join(data.warnings)


# ---------------------------------------------------------------------------------------------
# Shared behaviour
# ---------------------------------------------------------------------------------------------


def test_unknown_file_names_the_known_formats(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\x00\x01")
    with pytest.raises(InputError) as err:
        load_run(path, sandbox=Sandbox.unrestricted())
    assert known_formats() in str(err.value)
    for name in ("trainer_state", "csv", "jsonl", "mlflow", "textlog"):
        assert f"{name}:" in known_formats()


def test_parsed_files_are_cached_until_the_file_changes(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 0, "loss": 1.0}\n')
    load_run(path, sandbox=Sandbox.unrestricted())
    load_run(path, sandbox=Sandbox.unrestricted())
    assert filecache.stats == {"hits": 1, "misses": 1}
    with open(path, "a") as fh:
        fh.write('{"step": 1, "loss": 0.5}\n')
    os.utime(path, ns=(1, 2))  # a different mtime even on coarse-clock filesystems
    assert load_run(path, sandbox=Sandbox.unrestricted()).series["loss"].steps.tolist() == [0, 1]
    assert filecache.stats["misses"] == 2


@pytest.mark.parametrize(
    "target",
    [
        "hf_trainer",
        "keras_csv",
        "lightning",
        "generic_csv",
        "jsonl",
        "wandb_export",
        "textlogs/hf_stdout",
        "textlogs/nanogpt",
        "textlogs/pytorch_wlm",
        "textlogs/keras",
        "textlogs/lightning_tqdm",
        "mlruns",
    ],
)
def test_summarize_end_to_end(target):
    description = summarize(load_run(FORMATS_DIR / target, sandbox=Sandbox.unrestricted()))
    by_name = {s.name: s for s in description.series}
    train = description.run.roles.train_loss
    assert train is not None and by_name[train].role == "train_loss" and by_name[train].points > 0
    assert description.run.first_step is not None and description.run.last_step > description.run.first_step


def test_analyze_loss_runs_on_trainer_state():
    from traintriage.api import analyze_loss

    report = analyze_loss(HF, sandbox=Sandbox.unrestricted())
    assert report.run.source == "trainer_state" and report.run.roles.train_loss == "loss"
    assert not [f for f in report.findings if f.code == "nan_inf"]


def test_analyze_loss_sees_nan_loss_from_a_text_log():
    from traintriage.api import analyze_loss

    report = analyze_loss(TEXT / "hf_stdout", sandbox=Sandbox.unrestricted())
    assert any(f.code == "nan_inf" and f.severity == "critical" for f in report.findings)


@pytest.mark.parametrize(
    ("name", "complete", "cut", "rest", "final"),
    [
        ("metrics.csv", "step,loss\n0,2.5\n1,2.25\n", "2,0.5", "321\n", 0.5321),
        # A JSON record cut short is not JSON at all: the case that matters is a whole record before its "\n".
        ("log.jsonl", '{"step": 0, "loss": 2.5}\n{"step": 1, "loss": 2.25}\n', '{"step": 2, "loss": 0.5}', "\n", 0.5),
        ("train.log", "step:0 loss:2.5\nstep:1 loss:2.25\n", "step:2 loss:0.5", "321\n", 0.5321),
    ],
)
def test_a_half_written_last_line_is_held_back_while_the_file_is_written(tmp_path, name, complete, cut, rest, final):
    """stdout redirected to a file is flushed in blocks, so a log read during training often ends in half
    a line: ``loss 0.5`` of ``loss 0.5321``. While the file is fresh that line is not read (and a warning
    says why); once the file has been left alone for a while, an unterminated last line is read as is."""
    run = tmp_path / "run"
    run.mkdir()
    path = run / name
    path.write_text(complete + cut)
    live = load_run(run, sandbox=Sandbox.unrestricted())
    loss = next(s for n, s in live.series.items() if n.endswith("loss"))
    assert loss.steps.tolist() == [0, 1] and loss.values.tolist() == [2.5, 2.25]
    assert any("the last line has no line break yet" in w for w in live.warnings)

    old = path.stat().st_mtime - 3600
    os.utime(path, (old, old))
    filecache.clear()
    done = load_run(run, sandbox=Sandbox.unrestricted())
    loss = next(s for n, s in done.series.items() if n.endswith("loss"))
    assert loss.steps.tolist() == [0, 1, 2] and loss.values.tolist() == [2.5, 2.25, 0.5]
    assert not any("no line break" in w for w in done.warnings)

    path.write_text(complete + cut + rest)  # the writer finished the line
    assert load_run(run, sandbox=Sandbox.unrestricted()).series[loss.name].values.tolist() == [2.5, 2.25, final]
