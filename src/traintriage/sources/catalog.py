"""List the runs under a set of roots: what ``runs://`` and ``traintriage runs`` show.

A run is a directory that holds log files itself or in phase subdirectories (``train/``,
``validation/``); its experiment is the directory above it (for ``outputs/training/<exp>/<run>``
that is ``<exp>``). Listing reads each run's files to find its last step, through the same cached
readers the analyses use, so listing a tree that an agent is about to analyse warms the cache.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from . import FORMATS, detect_formats
from .resolve import check_inside_roots, is_part_of_parent_run

MAX_RUNS = 1000
MAX_DEPTH = 8
MAX_DIRS_WALKED = 50_000
"""A root may be a home directory: listing stays bounded and says when it stopped early."""


class RunListing(BaseModel):
    experiment: str = Field(description="Directory above the run, relative to its root.")
    run: str = Field(description="Run directory name.")
    path: str
    source: str = Field(description="Log format, e.g. 'tensorboard'.")
    last_step: int | None
    last_write: str = Field(description="ISO time of the newest file in the run.")
    size_bytes: int
    files: int


class RunCatalog(BaseModel):
    roots: list[str]
    runs: list[RunListing]
    truncated: bool = Field(description="True when more than the listing limit exist.")
    warnings: list[str]


def _run_dirs(root: Path) -> tuple[list[Path], bool]:
    """Directories holding log files, with phase and checkpoint-<step> subdirectories folded into their
    parent run;
    and whether the walk stopped early (too deep or too many directories)."""
    matchers = [f.matches for f in FORMATS]
    runs: set[Path] = set()
    base_depth = len(root.parts)
    stopped = False
    for walked, (dirpath, dirnames, filenames) in enumerate(os.walk(root), start=1):
        if walked > MAX_DIRS_WALKED:
            stopped = True
            break
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in ("__pycache__", "node_modules")]
        if len(Path(dirpath).parts) - base_depth >= MAX_DEPTH:
            dirnames[:] = []
        if any(m(name) for name in filenames for m in matchers):
            path = Path(dirpath)
            runs.add(path.parent if is_part_of_parent_run(path.name) and path != root else path)
    return sorted(runs), stopped


def _last_step(path: Path) -> tuple[str, int | None, list[str]]:
    from . import load_run

    try:
        data = load_run(str(path))
    except Exception as err:  # a listing must not fail because one run is unreadable
        return "unknown", None, [f"{path.name}: {err}"]
    steps = [int(s.steps[-1]) for s in data.series.values() if len(s)]
    return data.source, (max(steps) if steps else None), []


def list_runs(roots: Sequence[Path], *, under: str | None = None) -> RunCatalog:
    """Every run under ``roots`` (optionally only those whose experiment is ``under``)."""
    listings: list[RunListing] = []
    warnings: list[str] = []
    truncated = False
    for root in roots:
        root = Path(root).resolve()
        run_dirs, stopped = _run_dirs(root)
        if stopped:
            truncated = True
            warnings.append(f"{root}: stopped after {MAX_DIRS_WALKED} directories; pass a narrower root.")
        for run_dir in run_dirs:
            rel_parent = run_dir.parent.relative_to(root) if run_dir != root else Path(".")
            experiment = run_dir.parent.name if run_dir != root else root.name
            if under is not None and under not in (experiment, str(rel_parent)):
                continue
            if len(listings) >= MAX_RUNS:
                truncated = True
                break
            check_inside_roots(run_dir, roots)
            files = [p for paths in detect_formats(run_dir, max_depth=2).values() for p in paths]
            stats = [p.stat() for p in files if p.exists()]
            source, last_step, errs = _last_step(run_dir)
            warnings.extend(errs)
            listings.append(
                RunListing(
                    experiment=experiment,
                    run=run_dir.name,
                    path=str(run_dir),
                    source=source,
                    last_step=last_step,
                    last_write=datetime.fromtimestamp(max((s.st_mtime for s in stats), default=0), UTC).isoformat(
                        timespec="seconds"
                    ),
                    size_bytes=sum(s.st_size for s in stats),
                    files=len(files),
                )
            )
    return RunCatalog(roots=[str(r) for r in roots], runs=listings, truncated=truncated, warnings=warnings)
