"""Sweeps on Ray (``--ray local``): one task per trial on a real local Ray instance, rows streamed back as
tasks finish, the same report as local processes. Skipped where ray is not installed (it is not in the
``test`` extra: too heavy for CI); README "Sweeps" says how this was run."""

from __future__ import annotations

from pathlib import Path

import pytest

from traintriage.sandbox import Sandbox
from traintriage.sweeps import plan_sweep, run_plan

ray = pytest.importorskip("ray")

STUDY = Path(__file__).parent / "fixtures" / "optuna_study"


def test_ray_local_gives_the_local_report_streamed() -> None:
    plan = plan_sweep(f"sqlite:///{STUDY / 'study.db'}", sandbox=Sandbox.unrestricted())
    local = run_plan(plan, workers=1)
    streamed: list[tuple[str, int, int]] = []
    on_ray = run_plan(plan, ray="local", on_row=lambda row, done, total: streamed.append((row.id, done, total)))
    assert on_ray.backend == "ray:local" and not ray.is_initialized()  # the private instance is stopped again
    assert [d for _, d, _ in streamed] == list(range(1, 17)) and {t for _, _, t in streamed} == {16}
    assert sorted(i for i, _, _ in streamed) == sorted(j.id for j in plan.jobs)

    def rows(report):
        return [r.model_dump(exclude={"seconds"}) for r in report.trials]

    assert rows(on_ray) == rows(local)
    assert on_ray.model_dump(include={"failure_modes"}) == local.model_dump(include={"failure_modes"})
