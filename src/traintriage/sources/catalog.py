"""List the runs under a set of roots: what ``runs://`` and ``traintriage runs`` show.

A run is a directory that holds log files itself or in phase subdirectories (``train/``,
``validation/``); its experiment is the directory above it (for ``outputs/training/<exp>/<run>``
that is ``<exp>``). Listing reads each run's files to find its last step, through the same cached
readers the analyses use, so listing a tree that an agent is about to analyse warms the cache.

Many runs (hundreds, e.g. a hyperparameter sweep) are read in a process pool instead
(``list_runs(..., workers=N)``, ``traintriage runs --workers``); :func:`iter_listings` yields each
run as soon as it is read, which ``traintriage runs --stream`` prints as JSON lines. Runs read by
workers do not warm this process's cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..record import Field, Record
from ..sandbox import Sandbox
from . import detect_formats
from .inventory import classify, name_claims
from .resolve import is_part_of_parent_run

MAX_RUNS = 1000
MAX_DEPTH = 8
MAX_DIRS_WALKED = 50_000
"""A root may be a home directory: listing stays bounded and says when it stopped early."""


class RunListing(Record):
    experiment: str = Field(description="Directory above the run, relative to its root.")
    run: str = Field(description="Run directory name.")
    path: str
    source: str = Field(description="Log format, e.g. 'tensorboard'.")
    last_step: int | None
    last_write: str = Field(description="ISO time of the newest file in the run.")
    size_bytes: int
    files: int


class RunCatalog(Record):
    roots: list[str]
    runs: list[RunListing]
    truncated: bool = Field(description="True when more than the listing limit exist.")
    warnings: list[str]


def _holds_logs(dirpath: str, filenames: list[str], sandbox: Sandbox) -> bool:
    """True when a directory's own files are a run's logs.

    MLflow writes ``meta.yaml`` both for an experiment (``mlruns/<exp_id>/``) and for each of its runs
    (``mlruns/<exp_id>/<run_id>/``, next to ``metrics/``): only the run's one makes a run, else the
    experiment would be listed as a run of its own next to its runs.
    """
    for name in filenames:
        path = Path(dirpath) / name
        claims = name_claims(path)
        if not any(c for _, c in claims):
            continue
        if not sandbox.contains(path):  # never opened: reading the run says it is outside the roots
            return True
        fmt = classify(path, claims=claims)  # by name where that settles it, else by a sniff of its head
        if fmt is None:
            continue
        if fmt == "mlflow" and not os.path.isdir(os.path.join(dirpath, "metrics")):
            continue
        return True
    return False


def run_dirs(root: Path) -> tuple[list[Path], bool]:
    """Directories holding log files, with phase and checkpoint-<step> subdirectories folded into their
    parent run, and whether the walk stopped early (too deep or too many directories). A file whose name
    does not settle its format is sniffed (its first kilobytes; never one outside ``root``): the listing
    and sweeps (:mod:`traintriage.sweeps.discover`) both start from it."""
    runs: set[Path] = set()
    base_depth = len(root.parts)
    within = Sandbox.of([root])  # the walk opens nothing outside the root it walks
    stopped = False
    for walked, (dirpath, dirnames, filenames) in enumerate(os.walk(root), start=1):
        if walked > MAX_DIRS_WALKED:
            stopped = True
            break
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in ("__pycache__", "node_modules")]
        if len(Path(dirpath).parts) - base_depth >= MAX_DEPTH:
            dirnames[:] = []
        if _holds_logs(dirpath, filenames, within):
            path = Path(dirpath)
            while path != root and is_part_of_parent_run(path.name):  # validation/, metrics/train/ (MLflow keys)
                path = path.parent
            runs.add(path)
    return sorted(runs), stopped


def _last_step(path: Path, sandbox: Sandbox) -> tuple[str, int | None, list[str]]:
    from . import load_run

    try:
        data = load_run(str(path), sandbox=sandbox)  # a log symlinked to outside the sandbox is not read
    except Exception as err:  # a listing must not fail because one run is unreadable
        return "unknown", None, [f"{path.name}: {err}"]
    steps = [int(s.steps[-1]) for s in data.series.values() if len(s)]
    return data.source, (max(steps) if steps else None), []


PARALLEL_MIN_RUNS = 16
"""Below this many runs a listing reads them in this process: starting workers would cost more than it saves."""


@dataclass(frozen=True)
class RunJob:
    """One run found by the walk, not read yet."""

    experiment: str
    run_dir: Path
    sandbox: Sandbox = field(default_factory=Sandbox)  # the roots listed: nothing outside them is read


def plan_runs(roots: Sequence[Path], *, under: str | None = None) -> tuple[list[RunJob], bool, list[str]]:
    """Walk ``roots`` (cheap: names only): the runs to read, whether the listing was cut short, warnings."""
    jobs: list[RunJob] = []
    warnings: list[str] = []
    truncated = False
    sandbox = Sandbox.of(roots)  # a listing reads only under the directories it lists
    for root in roots:
        root = Path(root).resolve()
        found, stopped = run_dirs(root)
        if stopped:
            truncated = True
            warnings.append(f"{root}: stopped after {MAX_DIRS_WALKED} directories; pass a narrower root.")
        for run_dir in found:
            rel_parent = run_dir.parent.relative_to(root) if run_dir != root else Path(".")
            experiment = run_dir.parent.name if run_dir != root else root.name
            if under is not None and under not in (experiment, str(rel_parent)):
                continue
            if len(jobs) >= MAX_RUNS:
                truncated = True
                break
            sandbox.check(run_dir)
            jobs.append(RunJob(experiment, run_dir, sandbox))
    return jobs, truncated, warnings


def read_listing(job: RunJob) -> tuple[RunListing, list[str]]:
    """Read one run for its listing (its last step needs its series); top level, so workers can run it."""
    run_dir = job.run_dir
    files = [p for paths in detect_formats(run_dir, max_depth=2, sandbox=job.sandbox).values() for p in paths]
    stats = [p.stat() for p in files if p.exists()]
    source, last_step, errs = _last_step(run_dir, job.sandbox)
    listing = RunListing(
        experiment=job.experiment,
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
    return listing, errs


def effective_workers(workers: int, runs: int) -> int:
    """Processes a listing of ``runs`` runs uses: ``workers`` (0 or less: one per CPU), but one (this
    process) for fewer than :data:`PARALLEL_MIN_RUNS` runs, and never more than there are runs."""
    if workers <= 0:
        workers = os.cpu_count() or 1
    return 1 if runs < PARALLEL_MIN_RUNS else max(1, min(workers, runs))


def iter_listings(jobs: Sequence[RunJob], *, workers: int = 1) -> Iterator[tuple[int, RunListing, list[str]]]:
    """``(index in jobs, listing, warnings)`` for each run as soon as it is read.

    Serial (in order, in this process, warming its event cache) unless :func:`effective_workers` says
    otherwise; then the runs are read in a process pool and yielded as they complete, in any order.
    """
    n = effective_workers(workers, len(jobs))
    if n <= 1:
        for i, job in enumerate(jobs):
            yield i, *read_listing(job)
        return
    pool = ProcessPoolExecutor(max_workers=n)
    try:
        futures = {pool.submit(read_listing, job): i for i, job in enumerate(jobs)}
        for fut in as_completed(futures):
            yield futures[fut], *fut.result()
    finally:  # also when the consumer stops early: drop what has not started
        pool.shutdown(wait=True, cancel_futures=True)


def list_runs(roots: Sequence[Path], *, under: str | None = None, workers: int = 1) -> RunCatalog:
    """Every run under ``roots`` (optionally only those whose experiment is ``under``), in walk order.

    ``workers``: 1 reads the runs in this process (a server's listing then warms its event cache for
    the analyses that follow); N > 1 reads them in N processes when there are at least
    :data:`PARALLEL_MIN_RUNS`; 0 means one process per CPU. The result is the same either way.
    """
    jobs, truncated, warnings = plan_runs(roots, under=under)
    results: list[tuple[RunListing, list[str]] | None] = [None] * len(jobs)
    for i, listing, errs in iter_listings(jobs, workers=workers):
        results[i] = (listing, errs)
    listings = []
    for listing, errs in filter(None, results):
        listings.append(listing)
        warnings.extend(errs)
    return RunCatalog(roots=[str(r) for r in roots], runs=listings, truncated=truncated, warnings=warnings)
