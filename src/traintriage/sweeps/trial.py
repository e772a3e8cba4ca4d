"""Analyse one trial: the full triage (``correlate``) reduced to the row a sweep table needs.

Runs in a worker process or a Ray task, so it is a top-level function of a picklable job, and it
never raises: a trial whose logs cannot be read becomes a row with the reason, and the sweep goes on.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from ..errors import TraintriageError
from ..findings import SEVERITY_RANK, json_number
from ..signals import Series
from .jobs import TrialJob
from .models import TrialRow

TOP_ISSUES = 3
MAX_READ_WARNINGS = 5


def _best(series: Series | None) -> tuple[float | None, int | None]:
    """Lowest finite value of a series and its step (NaN/Inf points are never 'best')."""
    if series is None or not len(series):
        return None, None
    finite = np.isfinite(series.values)
    if not finite.any():
        return None, None
    idx = int(np.flatnonzero(finite)[np.argmin(series.values[finite])])
    return float(series.values[idx]), int(series.steps[idx])


def _run_name(path: Path) -> str | None:
    """An MLflow run's name (``tags/mlflow.runName``): the ids of an MLflow store are opaque hashes."""
    tag = path / "tags" / "mlflow.runName"
    if not tag.is_file():
        return None
    try:
        return tag.read_text(encoding="utf-8", errors="replace").strip()[:200] or None
    except OSError:
        return None


def error_row(
    job: TrialJob,
    message: str,
    *,
    params: dict | None = None,
    params_from: list[str] | None = None,
    seconds: float = 0.0,
) -> TrialRow:
    """The row of a trial that could not be analysed: what is known about it, and why."""
    return TrialRow(
        id=job.id,
        path=job.display or (str(job.path) if job.path is not None else None),
        status="error",
        error=message,
        state=job.state,
        objective=list(job.objective) if job.objective is not None else None,
        params=dict(job.params) if params is None else params,
        attrs=dict(job.attrs),
        params_from=list(job.params_from) if params_from is None else params_from,
        seconds=seconds,
    )


def analyze_trial(job: TrialJob) -> TrialRow:
    """Read the trial's hyperparameters and logs, triage it, and summarise it as one row."""
    from ..sources import load_run
    from ..triage import correlate
    from .hparams import read_hparams

    start = time.perf_counter()
    if job.error is not None or job.path is None:
        return error_row(job, job.error or "the trial has no log directory.")
    params, params_from = dict(job.params), list(job.params_from)
    try:
        found, sources = read_hparams(job.path)
    except OSError as err:  # hyperparameters are a bonus: their absence never fails the trial
        found, sources = {}, [f"hyperparameters not read: {err}"]
    for key, value in found.items():
        params.setdefault(key, value)
    params_from += sources
    try:
        data = load_run(str(job.path), sandbox=job.sandbox, trial=True)
        report = correlate(data, sandbox=job.sandbox)
    except Exception as err:  # a bug, or a file the readers choke on: one bad trial must not end the sweep
        message = err.message if isinstance(err, TraintriageError) else f"internal error ({type(err).__name__}: {err})"
        seconds = round(time.perf_counter() - start, 3)
        return error_row(job, message, params=params, params_from=params_from, seconds=seconds)

    top_codes: list[str] = []
    for issue in report.issues[:TOP_ISSUES]:
        for code in issue.codes:
            if code not in top_codes:
                top_codes.append(code)
    codes: dict[str, str] = {}  # code -> its worst severity, warnings and criticals only
    for f in report.findings:
        if SEVERITY_RANK[f.severity] < SEVERITY_RANK[codes.get(f.code, "info")]:
            codes[f.code] = f.severity
    train = data.get(data.roles.train_loss)
    val = data.get(data.roles.val_loss[0]) if data.roles.val_loss else None
    best_train, best_train_step = _best(train)
    best_val, best_val_step = _best(val)
    final = float(train.values[-1]) if train is not None and len(train) else None
    last = [int(s.steps[-1]) for s in data.series.values() if len(s)]
    return TrialRow(
        id=job.id,
        name=_run_name(job.path),
        path=job.display or str(job.path),
        status="ok",
        state=job.state,
        objective=list(job.objective) if job.objective is not None else None,
        params=params,
        params_from=params_from,
        attrs=dict(job.attrs),
        source=data.source,
        critical=sum(1 for i in report.issues if i.severity == "critical"),
        warnings=sum(1 for i in report.issues if i.severity == "warning"),
        top_issue=report.issues[0].title if report.issues else None,
        top_codes=top_codes,
        codes=dict(sorted(codes.items())),
        best_val_loss=best_val,
        best_val_step=best_val_step,
        best_train_loss=best_train,
        best_train_step=best_train_step,
        final_train_loss=json_number(final) if final is not None and not math.isfinite(final) else final,
        last_step=max(last) if last else None,
        read_warnings=report.warnings[:MAX_READ_WARNINGS],
        seconds=round(time.perf_counter() - start, 3),
    )
