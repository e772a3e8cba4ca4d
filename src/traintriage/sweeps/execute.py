"""Run the trials' analyses: in this process, in a local process pool, or on a Ray cluster.

Each backend yields a :class:`TrialRow` as soon as a trial is done (in completion order), so that a
caller can stream rows while the rest are still running. A trial that fails, or a worker that dies
under it, becomes a row with the error: the sweep never stops because of one trial.

Local pool: a trial's triage takes a fraction of a second to a few seconds, a worker about half a
second to start, so few trials (below :data:`PARALLEL_MIN_TRIALS`) are analysed in this process.
Workers are forked from a single-threaded process (the CLI: fastest, modules already imported); from
a threaded one (the MCP server, whose tools run in worker threads) they come from a fork server,
since forking a process with other threads running can copy a lock in the held state.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from ..limits import check_budget
from .jobs import TrialJob
from .models import TrialRow
from .trial import analyze_trial, error_row

PARALLEL_MIN_TRIALS = 4


def effective_workers(workers: int, trials: int) -> int:
    """Processes used for ``trials`` trials: ``workers`` (0 or less: one per CPU), one below
    :data:`PARALLEL_MIN_TRIALS`, never more than there are trials or CPUs (the work is CPU-bound, and
    an MCP client choosing ``workers`` must not be able to fork hundreds of processes)."""
    cpus = os.cpu_count() or 1
    if workers <= 0:
        workers = cpus
    return 1 if trials < PARALLEL_MIN_TRIALS else max(1, min(workers, trials, cpus))


def backend_name(jobs: Sequence[TrialJob], *, workers: int = 0, ray: str | None = None) -> str:
    if ray is not None:
        return f"ray:{ray}"
    n = effective_workers(workers, len(jobs))
    return "serial" if n <= 1 else f"processes:{n}"


def _context() -> multiprocessing.context.BaseContext | None:
    if threading.active_count() > 1 and "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return None


def iter_local(jobs: Sequence[TrialJob], *, workers: int = 0) -> Iterator[TrialRow]:
    """Rows as trials finish: serially in this process, or in a process pool (see module docstring).

    Between trials (and every half second while waiting on the pool) the call's budget is checked
    (:func:`traintriage.limits.check_budget`): a server call that is cancelled or runs out of time stops
    there, dropping the trials not started instead of waiting for them.
    """
    n = effective_workers(workers, len(jobs))
    if n <= 1:
        for job in jobs:
            check_budget()
            yield analyze_trial(job)
        return
    pool = ProcessPoolExecutor(max_workers=n, mp_context=_context())
    try:
        futures = {pool.submit(analyze_trial, job): job for job in jobs}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            check_budget()
            for fut in done:
                try:
                    row = fut.result()
                except Exception as err:  # the worker died (killed, out of memory): that trial's row says so
                    row = error_row(futures[fut], f"worker failed ({type(err).__name__}: {err})")
                yield row
    except BaseException:  # stopped, or the consumer stopped early: drop what has not started, do not wait
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def iter_results(jobs: Sequence[TrialJob], *, workers: int = 0, ray: str | None = None) -> Iterator[TrialRow]:
    """Rows as trials finish, on the chosen backend (``ray``: an address, ``auto`` or ``local``)."""
    if ray is not None:
        from .ray_backend import iter_ray

        return iter_ray(jobs, address=ray)
    return iter_local(jobs, workers=workers)
