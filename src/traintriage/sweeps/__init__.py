"""Sweeps: triage every trial of a hyperparameter search, rank them, and find what the failures share.

A search leaves many runs; looking at them one by one hides the pattern (every trial with a large
learning rate diverged, every SGD trial plateaued). :func:`sweep` analyses each trial with the full
triage (``correlate``), in parallel, and reports:

- a ranking of the trials by health (:mod:`.report`), each row with its hyperparameters, top issue
  codes and best losses;
- the failure modes (finding codes) that recur, with counts;
- for each recurring mode, how the hyperparameters differ between trials with and without it
  (:mod:`.effects`: rank-based effect sizes and the best separating threshold, honest about n).

Targets (:func:`plan_sweep`): a directory of trials (:mod:`.discover`; Ray Tune, Optuna-style
``trial_N/``, Lightning, MLflow file stores, Hydra multiruns), an Optuna storage ``sqlite:///study.db``
(:mod:`.optuna_db`, read without Optuna), or a remote URL (``s3://``, ``gs://``, ``memory://``; read
through fsspec into a local cache, :mod:`traintriage.sources.remote`). Trials are analysed in this
process, a local process pool, or on a Ray cluster (:mod:`.execute`), and stream back as they finish.
Every path read lies in the caller's sandbox (the roots); nothing in the artifacts is executed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..sandbox import Sandbox
from .jobs import SweepPlan, TrialJob
from .models import FailureMode, ParamEffect, SweepReport, TrialRow


def plan_sweep(
    target: str | Path,
    *,
    sandbox: Sandbox,
    remote_roots: Sequence[str] | None = None,
    study: str | None = None,
    log_dir_attr: str = "log_dir",
    cache_dir: Path | None = None,
) -> SweepPlan:
    """The trials of ``target``, found but not read yet (see module docstring for the target kinds).

    ``sandbox``: where local paths may lie (the server's roots; ``Sandbox.unrestricted()`` on the command line);
    ``remote_roots``: URL prefixes a remote target must lie under (a remote target is refused without one).
    """
    from ..errors import TargetNotFoundError
    from ..sources import remote
    from .discover import locate, plan_directory
    from .optuna_db import check_other_storage, is_optuna_url, plan_optuna

    text = str(target).strip()
    check_other_storage(text)
    if is_optuna_url(text):
        return plan_optuna(text, sandbox=sandbox, study=study, log_dir_attr=log_dir_attr)
    if remote.is_remote(text):
        url = remote.check_remote_roots(text, remote_roots)
        local = remote.mirror(url, cache_dir=cache_dir)
        return plan_directory(local, sandbox=Sandbox.of([local]), target=url, display_base=url)
    path = locate(text, sandbox)
    if path is None or not path.is_dir():
        raise TargetNotFoundError(
            f"{text} is not a directory.",
            hint="Pass the directory holding the trials (or a study's name under outputs/optuna/, hpo/, sweeps/), "
            "an Optuna storage URL (sqlite:///study.db), or a remote URL (s3://bucket/prefix) with a matching --root.",
        )
    return plan_directory(path, sandbox=sandbox, target=text)


def run_plan(
    plan: SweepPlan,
    *,
    workers: int = 0,
    ray: str | None = None,
    on_row: Callable[[TrialRow, int, int], None] | None = None,
) -> SweepReport:
    """Analyse the plan's trials and build the report; ``on_row(row, done, total)`` as each one finishes."""
    from .execute import backend_name, iter_results
    from .report import build_report

    start = time.perf_counter()
    rows: list[TrialRow] = []
    for row in iter_results(plan.jobs, workers=workers, ray=ray):
        rows.append(row)
        if on_row is not None:
            on_row(row, len(rows), len(plan.jobs))
    backend = backend_name(plan.jobs, workers=workers, ray=ray)
    return build_report(plan, rows, backend=backend, seconds=time.perf_counter() - start)


def sweep(
    target: str | Path,
    *,
    sandbox: Sandbox,
    remote_roots: Sequence[str] | None = None,
    study: str | None = None,
    log_dir_attr: str = "log_dir",
    workers: int = 0,
    ray: str | None = None,
    cache_dir: Path | None = None,
    on_row: Callable[[TrialRow, int, int], None] | None = None,
) -> SweepReport:
    """Triage every trial of ``target`` and report the ranking, recurring failure modes and their correlates."""
    plan = plan_sweep(
        target, sandbox=sandbox, remote_roots=remote_roots, study=study, log_dir_attr=log_dir_attr, cache_dir=cache_dir
    )
    return run_plan(plan, workers=workers, ray=ray, on_row=on_row)


__all__ = [
    "FailureMode",
    "ParamEffect",
    "SweepPlan",
    "SweepReport",
    "TrialJob",
    "TrialRow",
    "plan_sweep",
    "run_plan",
    "sweep",
]
