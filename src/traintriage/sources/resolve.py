"""Turn what a user typed (a path, an experiment name, a trial) into one run directory or file.

Users name runs the way their training scripts lay them out: a TensorBoard log dir, a single event
file, an experiment name whose runs live in ``outputs/training/<experiment>/<run>/``, or one trial of
a hyperparameter search. Resolution is explicit about what it chose and why (``Resolved.how``), and
a target that resolves to nothing gets an error listing what exists nearby, so the next attempt is
right.

Roots: every look-up stays inside the caller's :class:`~traintriage.sandbox.Sandbox` (the MCP server's
roots). Every candidate is resolved (symlinks and ``..``) before it is checked, and names from outside the
roots never appear in errors.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import OutsideRootsError, TargetNotFoundError
from ..sandbox import Sandbox

if TYPE_CHECKING:
    from .inventory import Inventory

EXPERIMENT_DIRS = (Path("outputs") / "training",)
"""Where experiment names are looked up, relative to the working directory and to each root."""

TRIAL_DIRS = (
    Path("outputs") / "training",
    Path("outputs") / "optuna",
    Path("outputs") / "hpo",
    Path("outputs") / "sweeps",
)
"""Where a hyperparameter-search trial given by name (``study/trial_7``) is looked up."""

# Subdirectories that split ONE run by phase (Keras writes train/ and validation/, others eval/).
PHASE_DIRS = frozenset(
    {"train", "training", "validation", "val", "valid", "eval", "evaluation", "test", "dev", "metrics"}
)

# HF Trainer's output_dir/checkpoint-<step>/ hold snapshots of ONE run's trainer_state.json, not runs of their own.
_CHECKPOINT_DIR_RE = re.compile(r"^checkpoint-\d+$")


def is_part_of_parent_run(dirname: str) -> bool:
    """A phase split (``train/``, ``validation/``) or an HF ``checkpoint-<step>/``: part of the run above."""
    return dirname.lower() in PHASE_DIRS or bool(_CHECKPOINT_DIR_RE.match(dirname))


_TIMESTAMP_RE = re.compile(r"(\d{4})[-_]?(\d{2})[-_]?(\d{2})(?:[-_T]?(\d{2})[-_:]?(\d{2})(?:[-_:]?(\d{2}))?)?")


@dataclass(frozen=True)
class Resolved:
    """A target resolved to a path, with a sentence saying how, and the log files found under it (None when
    resolution did not need to look: a trial directory, read as it is)."""

    path: Path
    how: str
    inventory: Inventory | None = None


def _scan(path: Path, sandbox: Sandbox) -> Inventory:
    """The log files under a directory, one level deeper than a run is read, so that each run found in it
    keeps the depth it would have on its own. Nothing outside the sandbox is opened."""
    from .inventory import MAX_DEPTH, scan  # local: the format modules import this module

    return scan(path, max_depth=MAX_DEPTH + 1, sandbox=sandbox)


def _run_subdirs(inv: Inventory, path: Path) -> list[Path]:
    """Subdirectories of ``path`` that are runs of their own: they hold log files within 4 levels and are
    not phase splits."""
    names = set()
    for f in inv.files:
        rel = f.path.relative_to(path).parts
        if 1 < len(rel) <= 6 and not rel[0].startswith(".") and not is_part_of_parent_run(rel[0]):
            names.add(rel[0])
    return [path / name for name in sorted(names)]


def _own_files(inv: Inventory, path: Path) -> bool:
    """True when the directory itself (not a run subdirectory) holds run data files: directly, or in a
    phase subdirectory (``train/``, ``validation/``) within 4 levels."""
    for f in inv.files:
        rel = f.path.relative_to(path).parts
        if len(rel) == 1 or (rel[0].lower() in PHASE_DIRS and len(rel) <= 6):
            return True
    return False


def _timestamp_key(name: str) -> str | None:
    match = _TIMESTAMP_RE.search(name)
    if not match:
        return None
    return "".join(g or "00" for g in match.groups())


def _last_write(path: Path) -> float:
    latest = 0.0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                latest = max(latest, os.stat(os.path.join(dirpath, f)).st_mtime)
            except OSError:
                continue
    return latest


def newest_run(runs: Sequence[Path]) -> tuple[Path, str]:
    """The newest of several run dirs, and why: by the timestamp in the names when every name has one,
    else by the last write of any file inside (names like ``version_3`` do not sort as time)."""
    keys = [_timestamp_key(r.name) for r in runs]
    if all(k is not None for k in keys):
        best = max(zip(keys, [r.name for r in runs], runs, strict=True))[2]
        return best, "newest by the timestamp in its name"
    best = max(runs, key=_last_write)
    return best, "newest by last write (run names do not all carry a timestamp)"


def _choose_in_experiment(exp_dir: Path, label: str, inv: Inventory) -> Resolved:
    runs = _run_subdirs(inv, exp_dir)
    if not runs:
        if _own_files(inv, exp_dir):
            return Resolved(exp_dir, f"{label}: the directory holds the run's files itself", inv.within(exp_dir))
        raise TargetNotFoundError(
            f"{label} ({exp_dir}) holds no run: no event files, trainer_state.json, CSV or JSONL logs found.",
            hint="Point at the run directory that holds the logs, or check that training wrote logs.",
        )
    if len(runs) == 1:
        return Resolved(runs[0], f"{label}: its only run is {runs[0].name}", inv.within(runs[0]))
    best, why = newest_run(runs)
    others = ", ".join(r.name for r in runs if r != best)
    return Resolved(best, f"{label}: chose run {best.name} ({why}) among {len(runs)} runs; others: {others}",
                    inv.within(best))


def _exists(path: Path) -> bool:
    """``path.exists()`` that is False, not an exception, for a name the file system cannot hold (too long)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def _nearby(target: str, sandbox: Sandbox) -> str:
    """A hint listing experiments and close path names, only from inside the roots."""
    lines = []
    for base in sandbox.bases():
        for exp_root in EXPERIMENT_DIRS:
            d = base / exp_root
            if d.is_dir():
                names = sorted(p.name for p in d.iterdir() if p.is_dir())
                if names:
                    close = difflib.get_close_matches(target, names, n=3)
                    lines.append(
                        f"experiments in {d}: {', '.join(names[:20])}"
                        + (f" (did you mean {', '.join(close)}?)" if close else "")
                    )
        candidate = (base / target) if not Path(target).is_absolute() else Path(target)
        parent = candidate.parent
        if _is_dir(parent):
            try:
                sandbox.check(parent)
            except OutsideRootsError:
                continue
            names = sorted(p.name for p in parent.iterdir() if not p.name.startswith("."))
            close = difflib.get_close_matches(candidate.name, names, n=3)
            if close:
                lines.append(f"in {parent}: did you mean {', '.join(close)}?")
            elif names:
                lines.append(f"{parent} holds: {', '.join(names[:15])}")
    return "; ".join(dict.fromkeys(lines)) or "nothing similar was found under " + ", ".join(
        str(b) for b in sandbox.bases()
    )


def resolve_target(target: str, *, sandbox: Sandbox, trial: bool = False) -> Resolved:
    """Resolve a target to a run directory or file (see module docstring), inside ``sandbox``.

    - an existing file: that file (an event file, ``trainer_state.json``, a CSV/JSONL log, ...);
    - an existing directory: the run itself, unless it holds several runs (an experiment dir, a
      ``lightning_logs`` dir with versions): then the newest of them, and ``how`` says so;
      ``train/``, ``validation/`` and other phase subdirectories are parts of ONE run;
    - with ``trial=True``: the whole trial directory is one run (no newest-run choice), looked up
      as a path or by name under ``outputs/{training,optuna,hpo,sweeps}/``;
    - otherwise an experiment name: ``outputs/training/<name>/`` -> its newest run.
    """
    sandbox.require_roots()
    if not target or not target.strip():
        raise TargetNotFoundError("no target given.", hint="Pass a run directory, event file or experiment name.")
    target = target.strip()
    if "\0" in target:
        raise TargetNotFoundError("the target holds a NUL byte, which no path can.",
                                  hint="Pass a run directory, event file or experiment name.")
    try:
        expanded = Path(target).expanduser()
    except RuntimeError:  # ~user of a user that does not exist: keep the name as it is
        expanded = Path(target)
    for base in sandbox.bases():
        candidate = expanded if expanded.is_absolute() else base / expanded
        if not _exists(candidate):
            continue
        real = sandbox.check(candidate)
        if real.is_file():
            return Resolved(real, "the target is a file")
        if trial:
            return Resolved(real, "trial directory (read as one run)")
        inv = _scan(real, sandbox)
        if _own_files(inv, real) or not _run_subdirs(inv, real):
            return Resolved(real, "the target directory is the run", inv.within(real))
        return _choose_in_experiment(real, f"{real.name} is a directory of runs", inv)

    for base in sandbox.bases():
        dirs = TRIAL_DIRS if trial else EXPERIMENT_DIRS
        for exp_root in dirs:
            candidate = base / exp_root / target
            if _is_dir(candidate):
                real = sandbox.check(candidate)
                if trial:
                    return Resolved(real, f"trial {target} found under {base / exp_root}")
                return _choose_in_experiment(real, f"experiment {target!r}", _scan(real, sandbox))

    kind = "trial" if trial else "path or experiment name"
    raise TargetNotFoundError(f"no {kind} {target!r} was found.", hint=_nearby(target, sandbox))
