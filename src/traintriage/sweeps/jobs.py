"""What a sweep plans before it reads anything: one job per trial, and the sweep's own metadata.

A job is plain data (paths, strings, numbers) so that it can be sent to a worker process or a Ray
task as it is; everything a worker needs to analyse the trial, including the sandbox it must stay
in (the sweep's roots), travels in the job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..sandbox import Sandbox


@dataclass(frozen=True)
class TrialJob:
    """One trial to analyse.

    ``path`` is the local directory (or file) holding its logs, None when there is nothing to read;
    ``error`` is set when the trial is known not to be analysable before reading (no log directory,
    one outside the roots), and the worker then only reports it. ``params`` known in advance (Optuna's)
    win over those read from files.
    """

    id: str
    path: Path | None
    display: str | None = None
    sandbox: Sandbox = field(default_factory=Sandbox)  # where the worker may read: the sweep's own
    params: dict[str, Any] = field(default_factory=dict)
    params_from: tuple[str, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    state: str | None = None
    objective: tuple[float | str | None, ...] | None = None
    error: str | None = None


@dataclass
class SweepPlan:
    target: str
    kind: Literal["directory", "optuna"]
    jobs: list[TrialJob]
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False
    study: str | None = None
    directions: list[str] = field(default_factory=list)
