"""Find the trials of a hyperparameter search laid out as directories.

A sweep directory holds one directory per trial, but a trial often holds several log directories
of its own (Lightning's ``trial_3/lightning_logs/version_0/``, PyTorch's ``add_hparams`` writing
``<run>/<timestamp>/``, Keras' ``train/`` and ``validation/``). Runs are found the way the run listing
finds them (:func:`traintriage.sources.catalog.run_dirs`: names only, phase and ``checkpoint-*``
folders folded in), then each run is folded into its trial:

1. the topmost directory below the sweep root whose name says it is a trial: ``trial_7``, ``trial-7``,
   ``trial7`` (Optuna and most hand-written loops), or Ray Tune's ``<trainable>_<5 hex>_<5 digits>...``;
2. else the topmost directory below the root that holds logs itself (a run nested in a run is part
   of it);
3. a root that holds logs itself, or whose own name says it is a trial, is a single trial.

Each trial is then read whole (``trial=True``), so all of its logs are analysed together.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import OutsideRootsError
from ..sandbox import Sandbox
from ..sources.catalog import MAX_RUNS, run_dirs
from ..sources.resolve import TRIAL_DIRS
from .jobs import SweepPlan, TrialJob

TRIAL_NAME_RE = re.compile(r"(?i)^trial[_-]?\d+(?:[_-].*)?$|_[0-9a-f]{5}_\d{5}(?:_|$)")
"""``trial_7``/``trial-0007``/``trial7``; Ray Tune's ``train_fn_2c9a4_00003[_3_lr=0.1,...]``."""


def is_trial_name(name: str) -> bool:
    return bool(TRIAL_NAME_RE.search(name))


def trial_of(run: Path, root: Path, runs: set[Path]) -> Path:
    """The trial directory a run directory belongs to (see module docstring)."""
    if run == root or is_trial_name(root.name):
        return root
    parts = run.relative_to(root).parts
    chain = [root.joinpath(*parts[: k + 1]) for k in range(len(parts))]
    for candidate in chain:
        if is_trial_name(candidate.name):
            return candidate
    return next(c for c in chain if c in runs)


def find_trials(root: Path) -> tuple[list[Path], bool]:
    """Trial directories under ``root`` in walk order, and whether the walk stopped early."""
    found, stopped = run_dirs(root)
    runs = set(found)
    trials: dict[Path, None] = {}
    for run in found:
        trials.setdefault(trial_of(run, root, runs), None)
    return list(trials), stopped


def trial_id(trial: Path, root: Path) -> str:
    return "." if trial == root else trial.relative_to(root).as_posix()


def locate(target: str, sandbox: Sandbox) -> Path | None:
    """Where ``target`` is, as the other tools resolve paths: absolute as given; relative to each root in
    turn (the working directory in an unrestricted sandbox); else a study by name under
    ``outputs/{training,optuna,hpo,sweeps}/``. None when nothing exists (the caller checks the sandbox on
    what it gets)."""
    path = Path(target).expanduser()
    if path.is_absolute():
        return path if path.exists() else None
    bases = sandbox.bases()
    for base in bases:
        if (base / path).exists():
            return base / path
    for base in bases:
        for folder in TRIAL_DIRS:
            if (base / folder / path).is_dir():
                return base / folder / path
    return None


def plan_directory(
    root: Path,
    *,
    sandbox: Sandbox,
    target: str | None = None,
    display_base: str | None = None,
) -> SweepPlan:
    """One job per trial under ``root`` (which must lie in ``sandbox``).

    ``display_base``: what to show instead of ``root`` in trial paths (the remote URL a local cache
    mirrors), so a report names where the logs really are.
    """
    root = sandbox.check(root)
    trials, stopped = find_trials(root)
    warnings = []
    if stopped:
        warnings.append(f"{root}: stopped walking after too many directories; pass a narrower directory.")
    truncated = stopped or len(trials) > MAX_RUNS
    if len(trials) > MAX_RUNS:
        warnings.append(f"{len(trials)} trials found; analysing the first {MAX_RUNS} in walk order.")
        trials = trials[:MAX_RUNS]
    jobs = []
    for trial in trials:
        tid = trial_id(trial, root)
        display = str(trial) if display_base is None else display_base.rstrip("/") + ("" if tid == "." else "/" + tid)
        try:
            path, error = sandbox.check(trial), None
        except OutsideRootsError as err:  # a symlinked trial pointing elsewhere: a row with an error, not an abort
            path, error = None, err.message
        jobs.append(TrialJob(id=tid, path=path, display=display, sandbox=sandbox, error=error))
    if not jobs:
        warnings.append(f"no training logs found under {display_base or root}.")
    return SweepPlan(target=target or str(root), kind="directory", jobs=jobs, warnings=warnings, truncated=truncated)
