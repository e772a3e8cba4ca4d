"""Run listing: the parallel path (a process pool, for many runs) lists exactly what the serial one does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eventwriter import decaying, write_run

from traintriage.sources import catalog
from traintriage.sources.catalog import effective_workers, list_runs


@pytest.fixture
def ten_runs(tmp_path: Path) -> Path:
    root = tmp_path / "sweep"
    for i in range(10):
        exp = f"exp{i % 2}"
        scalars = {"Loss/train": decaying(5 + i), "lr": [(s, 1e-3) for s in range(5 + i)]}
        write_run(root / exp / f"trial_{i:02d}", scalars)
    (root / "exp0" / "broken").mkdir()
    (root / "exp0" / "broken" / "events.out.tfevents.1.x.0.0").write_bytes(b"not an event file")
    return root


def test_parallel_listing_matches_serial(ten_runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "PARALLEL_MIN_RUNS", 2)
    assert effective_workers(2, 11) == 2  # the pool is really used below
    serial = list_runs([ten_runs], workers=1)
    parallel = list_runs([ten_runs], workers=2)
    assert len(serial.runs) == 11
    assert parallel.model_dump() == serial.model_dump()
    last_steps = {r.run: r.last_step for r in serial.runs if r.run != "broken"}
    assert last_steps == {f"trial_{i:02d}": 4 + i for i in range(10)}
    assert serial.warnings  # the broken run is listed, with a warning, by both paths


def test_few_runs_stay_in_process() -> None:
    assert effective_workers(0, catalog.PARALLEL_MIN_RUNS - 1) == 1
    assert effective_workers(8, 3 * catalog.PARALLEL_MIN_RUNS) == 8
    assert effective_workers(64, catalog.PARALLEL_MIN_RUNS) == catalog.PARALLEL_MIN_RUNS


def test_runs_stream_prints_json_lines(ten_runs: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from traintriage.cli import main

    monkeypatch.setattr(catalog, "PARALLEL_MIN_RUNS", 2)
    assert main(["runs", str(ten_runs), "--stream", "--workers", "2", "--experiment", "exp1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["summary"]["runs"] == 5
    assert sorted(line["run"] for line in lines[:-1]) == [f"trial_{i:02d}" for i in range(1, 10, 2)]


def test_mlflow_store_lists_runs_not_experiments() -> None:
    """``mlruns/<exp>/meta.yaml`` describes an experiment; only ``mlruns/<exp>/<run>/`` (with metrics/) are runs."""
    mlruns = Path(__file__).parent / "fixtures" / "formats" / "mlruns"
    catalog_ = list_runs([mlruns])
    assert sorted(r.run for r in catalog_.runs) == [
        "3f1a2b4c5d6e4f708192a3b4c5d6e7f8",
        "9e8d7c6b5a4f43219876fedcba012345",
    ]
    assert {r.experiment for r in catalog_.runs} == {"1"}
    assert {r.source for r in catalog_.runs} == {"mlflow"}
    assert all(r.last_step == 190 for r in catalog_.runs)
    assert catalog_.warnings == []
