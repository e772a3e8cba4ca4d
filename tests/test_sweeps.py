"""Sweeps: trial discovery, hyperparameter readers, ranking, failure modes and their correlates.

The real study is tests/fixtures/optuna_study (a 16-trial Optuna search of a numpy MLP whose high
learning rates diverge for real; generate.py next to it). Directory layouts of other frameworks are
built here with real event files (tests/eventwriter.py: TensorBoard's own writer).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from eventwriter import decaying, write_run

from traintriage.errors import InputError, OutsideRootsError, TargetNotFoundError
from traintriage.sandbox import Sandbox
from traintriage.sweeps import execute, plan_sweep, run_plan, sweep
from traintriage.sweeps.discover import find_trials, is_trial_name
from traintriage.sweeps.effects import best_split, cliffs_delta, param_effects, verdict
from traintriage.sweeps.hparams import read_hparams
from traintriage.sweeps.miniyaml import parse
from traintriage.sweeps.models import TrialRow
from traintriage.sweeps.optuna_db import plan_optuna
from traintriage.sweeps.text import render_sweep

FIXTURES = Path(__file__).parent / "fixtures"
STUDY = FIXTURES / "optuna_study"
STUDY_URL = f"sqlite:///{STUDY / 'study.db'}"


def _healthy(n: int = 60) -> dict:
    return {"Loss/train": decaying(n), "lr": [(s, 1e-3) for s in range(n)]}


# -- discovery -------------------------------------------------------------------------------------


def test_trial_names() -> None:
    for name in (
        "trial_0",
        "trial-12",
        "trial7",
        "trial_3_lr=0.1",
        "train_fn_2c9a4_00003",
        "train_2c9a4_00000_0_lr=0.1",
    ):
        assert is_trial_name(name), name
    for name in ("run_20240101", "version_0", "trials", "lightning_logs", "train"):
        assert not is_trial_name(name), name


def test_runs_fold_into_their_trial(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    # Lightning inside a trial dir: the trial is trial_0, not version_0.
    write_run(root / "trial_0" / "lightning_logs" / "version_0", _healthy())
    # add_hparams writes <run>/<timestamp>/: a run nested in a run is part of it.
    write_run(root / "lr_0.1", _healthy())
    write_run(root / "lr_0.1" / "1700000000.123", {"hp_metric": [(0, 0.5)]})
    # Keras phases are parts of one run, Ray Tune trial dirs are trials.
    write_run(root / "keras_run" / "train", _healthy())
    write_run(root / "keras_run" / "validation", {"epoch_loss": decaying(5)})
    write_run(root / "tune" / "train_fn_2c9a4_00001", _healthy())
    trials, stopped = find_trials(root)
    assert not stopped
    assert sorted(t.relative_to(root).as_posix() for t in trials) == [
        "keras_run",
        "lr_0.1",
        "trial_0",
        "tune/train_fn_2c9a4_00001",
    ]
    # A root that is itself a trial is one trial.
    assert find_trials(root / "trial_0")[0] == [root / "trial_0"]


# -- hyperparameter readers ------------------------------------------------------------------------

LIGHTNING_HPARAMS = """\
batch_size: 32
lr: 0.001
dropout: 1.0e-05
optimizer: adamw   # a comment
use_amp: true
layers:
- 64
- 32
model:
  hidden: 128
  act: 'relu'
args: !!python/object:argparse.Namespace
  seed: 7
"""


def test_miniyaml_reads_what_yaml_dump_writes() -> None:
    assert parse(LIGHTNING_HPARAMS) == {
        "batch_size": 32,
        "lr": 0.001,
        "dropout": 1e-05,
        "optimizer": "adamw",
        "use_amp": True,
        "layers": [64, 32],
        "model": {"hidden": 128, "act": "relu"},
        "args": {"seed": 7},  # the tag is dropped, nothing is constructed
    }
    assert parse("- lr=0.1\n- +model.depth=3\n") == ["lr=0.1", "+model.depth=3"]
    assert parse("items:\n  - a: 1\n    b: [x, 'y z']\n  - ~\n") == {"items": [{"a": 1, "b": ["x", "y z"]}, None]}


def test_hparams_from_each_framework(tmp_path: Path) -> None:
    ray = tmp_path / "ray" / "train_fn_2c9a4_00000"
    write_run(ray, _healthy())
    (ray / "params.json").write_text(json.dumps({"lr": 0.01, "model": {"depth": 4}, "act": "gelu"}))
    (ray / "params.pkl").write_bytes(b"\x80\x04never unpickled")
    assert read_hparams(ray) == ({"lr": 0.01, "model.depth": 4, "act": "gelu"}, ["params.json"])

    lightning = tmp_path / "pl" / "trial_1"
    write_run(lightning / "lightning_logs" / "version_0", _healthy())
    (lightning / "lightning_logs" / "version_0" / "hparams.yaml").write_text(LIGHTNING_HPARAMS)
    params, where = read_hparams(lightning)
    assert where == ["lightning_logs/version_0/hparams.yaml"]
    assert params["lr"] == 0.001 and params["model.hidden"] == 128 and params["layers"] == "[64, 32]"

    hydra = tmp_path / "multirun" / "0"
    write_run(hydra, _healthy())
    (hydra / ".hydra").mkdir()
    (hydra / ".hydra" / "overrides.yaml").write_text("- optim.lr=0.3\n- model=resnet\n- +seed=2\n")
    assert read_hparams(hydra)[0] == {"optim.lr": 0.3, "model": "resnet", "seed": 2}


def test_hparams_from_tensorboard_plugin(tmp_path: Path) -> None:
    """What add_hparams / hp.hparams write: a session_start_info summary, decoded without TensorFlow."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    run = tmp_path / "trial_4"
    write_run(run, _healthy())
    writer = EventFileWriter(str(run / "1700000000.5"))
    writer.add_event(Event(step=0, summary=hp.hparams_pb({"lr": 0.03, "optimizer": "sgd", "bn": True, "depth": 3})))
    writer.close()
    params, where = read_hparams(run)
    assert where == ["tensorboard hparams"]
    assert params == {"lr": 0.03, "optimizer": "sgd", "bn": True, "depth": 3}


def test_hparams_from_mlflow_params_and_sweep_of_a_store() -> None:
    report = sweep(FIXTURES / "formats" / "mlruns", workers=1, sandbox=Sandbox.unrestricted())
    assert report.trials_total == 2 and report.trials_ok == 2
    by_name = {row.name: row for row in report.trials}
    assert set(by_name) == {"gentle-owl-12", "brave-fox-27"}
    assert all(row.params_from == ["mlflow params/"] for row in report.trials)
    assert {row.params["lr"] for row in report.trials} == {0.1}  # stored as text, read as a number
    assert {row.params["batch_size"] for row in report.trials} == {128}


# -- effects ---------------------------------------------------------------------------------------


def _row(i: int, lr: float, opt: str, codes: dict[str, str]) -> TrialRow:
    return TrialRow(id=str(i), path=None, status="ok", params={"lr": lr, "opt": opt, "seed": i}, codes=codes)


def test_effects_numbers_and_honest_verdicts() -> None:
    lrs = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 0.1, 0.3, 1.0]
    rows = [
        _row(i, lr, "sgd" if i % 2 else "adam", {"divergence": "critical"} if lr >= 0.1 else {})
        for i, lr in enumerate(lrs)
    ]
    effects = {e.param: e for e in param_effects(rows, "divergence")}
    lr = effects["lr"]
    assert lr.n_with == 3 and lr.n_without == 5 and lr.effect_size == 1.0
    assert lr.split is not None and lr.split.rule == "lr >= 0.1"
    assert (lr.split.inside, lr.split.outside, lr.split.balanced_accuracy) == ("3/3", "0/5", 1.0)
    assert lr.p_value == pytest.approx(1 / 28)  # exact: 1 of C(8,3)=56 orderings, two-sided
    assert "Cliff's delta +1.00" in verdict(lr, "divergence", 1) and "holds after Bonferroni" in verdict(
        lr, "divergence", 1
    )
    # The same p with 3 comparisons in the sweep is not claimed.
    assert "not significant after correcting for 3 comparisons" in verdict(lr, "divergence", 3)
    opt = effects["opt"]
    assert opt.kind == "categorical" and {r.value: (r.with_mode, r.trials) for r in opt.rates} == {
        "sgd": (2, 4),
        "adam": (1, 4),
    }
    assert "rates only, no test" in verdict(opt, "divergence", 1)
    # Two trials with the mode: described, never tested.
    few = param_effects(rows[:4] + rows[-2:], "divergence")
    assert "Too few trials to test" in verdict(next(e for e in few if e.param == "lr"), "divergence", 1)


def test_split_and_delta_directions() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    has = np.array([True, True, False, False, False])
    assert cliffs_delta(values[has], values[~has]) == -1.0
    split = best_split("wd", values, has)
    assert split is not None and split.rule == "wd <= 2" and split.other_side == 3.0


# -- Optuna ----------------------------------------------------------------------------------------


def test_optuna_storage_read_without_optuna() -> None:
    plan = plan_optuna(STUDY_URL, sandbox=Sandbox.unrestricted())
    assert plan.study == "mlp_lr_search" and plan.directions == ["MINIMIZE"]
    assert [j.id for j in plan.jobs] == [str(i) for i in range(16)]
    states = [j.state for j in plan.jobs]
    assert states.count("FAIL") == 5 and states.count("PRUNED") == 2 and states.count("COMPLETE") == 9
    first = plan.jobs[0]  # enqueued: lr 2.5, momentum, 16 hidden
    assert first.params == {"lr": 2.5, "optimizer": "momentum", "hidden": 16, "weight_decay": 1e-4}
    assert isinstance(plan.jobs[5].params["hidden"], int)
    assert {j.params["optimizer"] for j in plan.jobs} == {"sgd", "momentum"}  # categorical decoded
    assert first.objective is None and isinstance(plan.jobs[2].objective[0], float)  # FAIL has no value
    assert all(j.error is None and j.path == (STUDY / "runs" / f"trial_{j.id}").resolve() for j in plan.jobs)


def test_optuna_sweep_finds_divergence_and_the_learning_rate_behind_it() -> None:
    report = sweep(STUDY_URL, workers=1, sandbox=Sandbox.unrestricted())
    assert report.kind == "optuna" and report.trials_total == 16 and report.trials_ok == 16
    failed = {r.id for r in report.trials if r.state == "FAIL"}
    # Every trial the search recorded as failed diverged, and ranks below every healthy trial.
    assert all({"divergence", "nan_inf"} <= set(r.codes) for r in report.trials if r.id in failed)
    ranks = {r.id: r.rank for r in report.trials}
    healthy = [r for r in report.trials if r.critical == 0 and r.warnings == 0]
    assert healthy and max(ranks[r.id] for r in healthy) < min(ranks[i] for i in failed)
    assert report.trials[0].critical == 0 and report.trials[0].best_val_loss < 0.52

    mode = next(m for m in report.failure_modes if m.code == "nan_inf")
    assert mode.trials == 5 and mode.recurring and set(mode.trial_ids) == failed
    top = mode.effects[0]
    assert top.param == "lr" and top.effect_size == 1.0
    assert top.split is not None and top.split.rule.startswith("lr >= ") and top.split.inside == "5/5"
    assert "n=5 with nan_inf, 11 without" in top.verdict
    text = render_sweep(report)
    assert "FAILURE MODES" in text and "lr >= " in text and "FAIL" in text
    # Modes found in exactly the same trials are shown (and counted as tests) once.
    groups: dict[tuple, list[str]] = {}
    for m in report.failure_modes:
        groups.setdefault(tuple(sorted(m.trial_ids)), []).append(m.code)
    for codes in groups.values():
        if len(codes) > 1:
            assert "/".join(codes) in text
    tested = {
        (tuple(sorted(m.trial_ids)), e.param)
        for m in report.failure_modes
        for e in m.effects
        if e.p_value is not None and min(e.n_with, e.n_without) >= 3
    }
    assert report.comparisons == len(tested)


def test_optuna_errors_become_rows_or_clear_messages(tmp_path: Path) -> None:
    # The database alone, without its runs/: every trial is a row saying its logs are missing.
    shutil.copy(STUDY / "study.db", tmp_path / "study.db")
    report = sweep(f"sqlite:///{tmp_path / 'study.db'}", workers=1, sandbox=Sandbox.unrestricted())
    assert report.trials_total == 16 and report.trials_unreadable == 16
    assert all("does not exist" in r.error and r.params for r in report.trials)
    # A wrong attribute key: rows, plus a warning saying which key to set.
    plan = plan_sweep(STUDY_URL, log_dir_attr="logdir", sandbox=Sandbox.unrestricted())
    assert all("no user attribute 'logdir'" in j.error for j in plan.jobs) and plan.warnings
    with pytest.raises(TargetNotFoundError, match="no study 'other'"):
        plan_sweep(STUDY_URL, study="other", sandbox=Sandbox.unrestricted())
    (tmp_path / "not.db").write_bytes(b"not a database" * 100)
    with pytest.raises(InputError, match="not a readable Optuna storage"):
        plan_sweep(f"sqlite:///{tmp_path / 'not.db'}", sandbox=Sandbox.unrestricted())


def test_optuna_log_dirs_must_lie_under_the_roots(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(STUDY / "study.db", root / "study.db")
    (root / "runs").symlink_to(STUDY / "runs")  # the logs really live outside the root
    report = sweep(f"sqlite:///{root / 'study.db'}", sandbox=Sandbox.of([root]), workers=1)
    assert report.trials_unreadable == 16 and all("outside every root" in r.error for r in report.trials)
    with pytest.raises(OutsideRootsError):
        plan_sweep(STUDY_URL, sandbox=Sandbox.of([tmp_path]))


# -- directories, bad trials, parallel -------------------------------------------------------------


def _ray_layout(tmp_path: Path) -> Path:
    """The study's trials as Ray Tune lays them out: <trainable>_<id>/ with params.json next to the logs."""
    root = tmp_path / "ray_results" / "mlp"
    for job in plan_optuna(STUDY_URL, sandbox=Sandbox.unrestricted()).jobs:
        trial = root / f"train_mlp_1a2b3_{int(job.id):05d}"
        shutil.copytree(job.path, trial)
        (trial / "params.json").write_text(json.dumps(job.params))
    broken = root / "train_mlp_1a2b3_00099"
    broken.mkdir()
    (broken / "events.out.tfevents.1.x.0.0").write_bytes(b"not an event file at all")
    return root


def test_directory_sweep_matches_the_study_and_survives_a_bad_trial(tmp_path: Path) -> None:
    root = _ray_layout(tmp_path)
    report = sweep(root, workers=1, sandbox=Sandbox.unrestricted())
    assert report.trials_total == 17 and report.trials_ok == 16 and report.trials_unreadable == 1
    bad = report.trials[-1]
    assert bad.id == "train_mlp_1a2b3_00099" and bad.status == "error" and bad.rank == 17 and bad.error
    study = sweep(STUDY_URL, workers=1, sandbox=Sandbox.unrestricted())
    by_number = {int(r.id.rsplit("_", 1)[1]): r for r in report.trials if r.status == "ok"}
    assert {n: r.codes for n, r in by_number.items()} == {int(r.id): r.codes for r in study.trials}
    assert all(r.params_from == ["params.json"] for r in by_number.values())
    lr = next(m for m in report.failure_modes if m.code == "nan_inf").effects[0]
    assert (
        lr.param == "lr"
        and lr.split.rule == next(m for m in study.failure_modes if m.code == "nan_inf").effects[0].split.rule
    )


def test_parallel_sweep_equals_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _ray_layout(tmp_path)
    monkeypatch.setattr(execute, "PARALLEL_MIN_TRIALS", 2)
    monkeypatch.setattr(execute.os, "cpu_count", lambda: 2)  # the pool is used even on a 1-CPU runner
    plan = plan_sweep(root, sandbox=Sandbox.unrestricted())
    serial = run_plan(plan, workers=1)
    parallel = run_plan(plan, workers=2)
    assert serial.backend == "serial" and parallel.backend == "processes:2"

    def strip(report):
        return [r.model_dump(exclude={"seconds"}) for r in report.trials]

    assert strip(parallel) == strip(serial)
    assert parallel.model_dump(include={"failure_modes"}) == serial.model_dump(include={"failure_modes"})


def test_relative_targets_resolve_against_the_roots(tmp_path: Path) -> None:
    """As the other tools do: a relative path under a root, or a study's name under outputs/optuna/."""
    root = tmp_path / "project"
    shutil.copytree(STUDY, root / "outputs" / "optuna" / "mlp")
    by_name = plan_sweep("mlp", sandbox=Sandbox.of([root]))
    assert by_name.kind == "directory" and len(by_name.jobs) == 16
    by_path = plan_sweep("outputs/optuna/mlp/runs", sandbox=Sandbox.of([root]))
    assert ["runs/" + j.id for j in by_path.jobs] == [j.id for j in by_name.jobs]
    study = plan_sweep("sqlite:///outputs/optuna/mlp/study.db", sandbox=Sandbox.of([root]))
    assert study.kind == "optuna" and all(j.error is None for j in study.jobs)
    with pytest.raises(TargetNotFoundError, match="not a directory"):
        plan_sweep("no_such_study", sandbox=Sandbox.of([root]))


def test_a_sweep_and_a_triage_need_no_scipy(tmp_path: Path) -> None:
    """scipy is a test oracle, not a runtime dependency: with it unimportable, the sweep still tests the
    hyperparameters (Mann-Whitney in numpy) and the triage still runs."""
    import subprocess
    import sys

    shutil.copytree(STUDY, tmp_path / "study")
    code = (
        "import sys; sys.modules['scipy'] = None\n"
        "from traintriage.cli import main\n"
        f"rc = main(['sweep', 'sqlite:///{tmp_path / 'study' / 'study.db'}', '--workers', '1', '--text'])\n"
        "rc |= main(['triage', 'benchmarks/corpus/runs/loss_spike_lr_bump'])\n"
        "assert 'scipy' not in sys.modules or sys.modules['scipy'] is None\n"
        "sys.exit(rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Mann-Whitney p=0.00046" in done.stdout  # lr and nan_inf, as scipy computes it


def test_optuna_storages_in_other_databases_get_a_clear_error_and_a_driver_suffix_is_accepted(tmp_path: Path) -> None:
    """A PostgreSQL or MySQL storage URL is not mistaken for a remote file URL: the error says what is read
    and how to copy the study into SQLite; ``sqlite+pysqlite:///`` is the same SQLite file as ``sqlite:///``."""
    for url in ("postgresql+psycopg2://user@db/optuna", "mysql://user@db/optuna"):
        with pytest.raises(InputError) as err:
            plan_sweep(url, sandbox=Sandbox.unrestricted())
        assert "Optuna storages are not read" in str(err.value) and "optuna.copy_study" in err.value.hint
    shutil.copytree(STUDY, tmp_path / "study")
    plain = plan_sweep(f"sqlite:///{tmp_path / 'study' / 'study.db'}", sandbox=Sandbox.unrestricted())
    with_driver = plan_sweep(f"sqlite+pysqlite:///{tmp_path / 'study' / 'study.db'}", sandbox=Sandbox.unrestricted())
    assert [(j.id, j.path) for j in with_driver.jobs] == [(j.id, j.path) for j in plain.jobs]
    assert len(plain.jobs) == 16 and plain.study == with_driver.study == "mlp_lr_search"
