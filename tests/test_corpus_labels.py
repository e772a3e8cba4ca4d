"""The labelled corpus is consistent: labels name runs that exist, use real codes, and cover every code.

Why: the accuracy benchmark is only meaningful if its ground truth is. A label naming a run that was
renamed, a code that was misspelt, or a loggable code no run exercises would let the benchmark pass
while measuring nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from traintriage.findings import CODES

CORPUS = Path(__file__).resolve().parents[1] / "benchmarks" / "corpus"
ROOT_CAUSES = {"optimizer", "data", "curriculum", "architecture", "initialization", "numerics", "memory",
               "pipeline", "unknown"}
# Codes the corpus's runs (TensorBoard scalars) cannot show: parameters need a checkpoint, input_bound a profiler
# trace, messages a text log (tests/test_messages.py checks log_message on real text logs).
NOT_LOGGABLE = {code for code, info in CODES.items() if info.area in ("parameters", "messages")} | {"input_bound"}
# Codes added after the corpus was labelled whose positive cases are real runs made for each in tests/fixtures/runs/
# (metric collapse, configuration); benchmarks/accuracy.py forbids every beyond-the-loss code on every healthy run.
BEYOND_THE_LOSS = {code for code, info in CODES.items() if info.area in ("metrics", "config")}


@pytest.fixture(scope="module")
def labels() -> dict:
    return json.loads((CORPUS / "labels.json").read_text())


def test_every_label_names_a_run_with_event_files(labels: dict) -> None:
    for run in labels["runs"]:
        run_dir = CORPUS / "runs" / run["case"]
        assert run_dir.is_dir(), f"{run['case']}: no run directory"
        assert list(run_dir.rglob("events.out.tfevents.*")), f"{run['case']}: no event files"


def test_every_run_directory_has_a_label(labels: dict) -> None:
    named = {run["case"] for run in labels["runs"]}
    on_disk = {p.name for p in (CORPUS / "runs").iterdir() if p.is_dir()}
    assert on_disk == named


def test_codes_are_registered(labels: dict) -> None:
    for run in labels["runs"]:
        for code in run["must"] + run["must_not"]:
            assert code in CODES, f"{run['case']}: unknown code {code!r}"
        assert not set(run["must"]) & set(run["must_not"]), f"{run['case']}: a code both required and forbidden"


def _time_labels() -> list[dict]:
    """The accuracy benchmark's labels for the time codes (real runs and traces in ``tests/fixtures/timing``)."""
    sys.path.insert(0, str(CORPUS.parent))
    from accuracy import TIME_LABELS

    return TIME_LABELS


def test_time_labels_name_fixtures_that_exist_and_real_codes() -> None:
    for run in _time_labels():
        assert Path(run["path"]).exists(), run["case"]
        for code in run["must"] + run["must_not"]:
            assert code in CODES and CODES[code].area == "time", f"{run['case']}: {code!r}"


def test_every_loggable_code_is_required_somewhere(labels: dict) -> None:
    required = {code for run in [*labels["runs"], *_time_labels()] for code in run["must"]}
    missing = set(CODES) - NOT_LOGGABLE - BEYOND_THE_LOSS - required
    assert not missing, f"no corpus run requires: {sorted(missing)}"


def test_fault_runs_have_a_cause_and_step(labels: dict) -> None:
    for run in labels["runs"]:
        if run["healthy"]:
            continue
        assert run["root_cause"] in ROOT_CAUSES, run["case"]
        assert isinstance(run["fault_step"], int) and run["fault_step"] >= 0, run["case"]
        assert run["description"], run["case"]


def test_healthy_runs_forbid_every_loggable_alarm(labels: dict) -> None:
    healthy = [run for run in labels["runs"] if run["healthy"]]
    assert len(healthy) >= 8
    for run in healthy:
        assert not run["must"]
        assert set(CODES) - NOT_LOGGABLE - BEYOND_THE_LOSS <= set(run["must_not"]), run["case"]


def test_the_benchmark_forbids_the_later_codes_on_healthy_runs() -> None:
    sys.path.insert(0, str(CORPUS.parent))
    import accuracy

    healthy = [run for run in accuracy.load_labels() if run["healthy"]]
    for run in healthy:
        # The timing fixtures are labelled for the time codes only; every healthy run forbids the later codes.
        forbidden = set(CODES) - NOT_LOGGABLE if not run["case"].startswith("timing/") else BEYOND_THE_LOSS
        assert forbidden <= set(run["must_not"]), run["case"]


def test_corpus_stays_small() -> None:
    size = sum(p.stat().st_size for p in (CORPUS / "runs").rglob("*") if p.is_file())
    assert size < 15 * 2**20, f"corpus is {size / 2**20:.1f} MiB; keep it under 15 MiB"
