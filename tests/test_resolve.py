"""Run resolution: paths, experiment names (newest run), trials, roots and symlinks, helpful errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eventwriter import decaying, write_run

from traintriage.errors import OutsideRootsError, TargetNotFoundError
from traintriage.sandbox import Sandbox
from traintriage.sources import load_run
from traintriage.sources.resolve import resolve_target


def _experiment(root: Path, name: str, runs: list[str]) -> Path:
    exp = root / "outputs" / "training" / name
    for run in runs:
        write_run(exp / run, {"Loss/train": decaying(20)})
    return exp


def test_experiment_name_resolves_to_newest_run_by_timestamp(tmp_path: Path) -> None:
    exp = _experiment(tmp_path, "gnn", ["run_20260101_120000", "run_20260315_090000", "run_20260210_235959"])
    # Make the oldest-named run the most recently written, so name order and mtime disagree.
    os.utime(next((exp / "run_20260101_120000").iterdir()), (2e9, 2e9))
    resolved = resolve_target("gnn", sandbox=Sandbox.of([tmp_path]))
    assert resolved.path == (exp / "run_20260315_090000").resolve()
    assert "timestamp" in resolved.how and "run_20260101_120000" in resolved.how


def test_experiment_without_timestamps_uses_last_write(tmp_path: Path) -> None:
    exp = _experiment(tmp_path, "lm", ["alpha", "beta"])
    os.utime(next((exp / "alpha").iterdir()), (2e9, 2e9))
    resolved = resolve_target("lm", sandbox=Sandbox.of([tmp_path]))
    assert resolved.path.name == "alpha"
    assert "last write" in resolved.how


def test_experiment_dir_given_as_path_picks_newest_run(tmp_path: Path) -> None:
    exp = _experiment(tmp_path, "gnn", ["run_20260101_120000", "run_20260102_120000"])
    assert resolve_target(str(exp), sandbox=Sandbox.unrestricted()).path.name == "run_20260102_120000"


def test_train_and_validation_subdirs_are_one_run(tmp_path: Path) -> None:
    run = tmp_path / "keras_run"
    write_run(run / "train", {"epoch_loss": decaying(10)}, tensor_encoded=True)
    write_run(run / "validation", {"epoch_loss": decaying(10, start=2.2)}, tensor_encoded=True)
    resolved = resolve_target(str(run), sandbox=Sandbox.unrestricted())
    assert resolved.path == run.resolve()
    assert "is the run" in resolved.how


def test_trial_reads_whole_directory(tmp_path: Path) -> None:
    trial = tmp_path / "outputs" / "optuna" / "study1" / "trial_7"
    write_run(trial / "tb" / "a", {"Loss/train": decaying(10)})
    write_run(trial / "tb" / "b", {"Loss/train": decaying(10)})
    resolved = resolve_target("study1/trial_7", sandbox=Sandbox.of([tmp_path]), trial=True)
    assert resolved.path == trial.resolve()
    assert "trial" in resolved.how


def test_missing_target_lists_what_exists(tmp_path: Path) -> None:
    _experiment(tmp_path, "mobility_gnn", ["run_20260101_120000"])
    with pytest.raises(TargetNotFoundError) as err:
        resolve_target("mobility_gn", sandbox=Sandbox.of([tmp_path]))
    assert "mobility_gnn" in (err.value.hint or "")


def test_outside_roots_refused_also_through_symlink(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "secret_run"
    write_run(outside, {"Loss/train": decaying(10)})
    root.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(OutsideRootsError):
        resolve_target(str(outside), sandbox=Sandbox.of([root]))
    with pytest.raises(OutsideRootsError):
        resolve_target("link", sandbox=Sandbox.of([root]))
    with pytest.raises(OutsideRootsError):
        resolve_target("../secret_run", sandbox=Sandbox.of([root]))


def test_outside_root_names_do_not_leak_in_hints(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "private_experiment_name").mkdir()
    with pytest.raises(TargetNotFoundError) as err:
        resolve_target("../private_experiment_nam", sandbox=Sandbox.of([root]))
    assert "private_experiment_name" not in str(err.value)


def test_load_run_reads_series_and_roles(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_run(run, {"Loss/train": decaying(30), "lr": [(i, 1e-3) for i in range(30)]})
    write_run(run, {"loss/val": decaying(3, step_every=10)}, filename_suffix=".val")
    data = load_run(str(run), sandbox=Sandbox.unrestricted())
    assert data.roles.train_loss == "Loss/train"
    assert data.roles.val_loss == ["loss/val"]
    assert data.roles.lr == "lr"
    assert len(data.series["Loss/train"]) == 30
    assert data.info().last_step == 29


def test_directory_without_logs_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("hello")
    from traintriage.errors import InputError

    with pytest.raises(InputError) as err:
        load_run(str(tmp_path), sandbox=Sandbox.unrestricted())
    assert "Known formats" in (err.value.hint or "")
