"""Spread independent work of one large read or analysis over the machine's cores.

A run with dozens of gradient-norm components of 20k points each spends most of an analysis in
per-component statistics (rolling medians, percentiles) that do not depend on one another, and the
event reader decodes each group of same-length records on its own. numpy and bottleneck release the
GIL inside those kernels, so threads run them side by side. Small work stays serial (a thread
hand-off costs more than it saves).

The work functions must be pure (no shared mutable state). Each task runs in a copy of the caller's
context, so the per-call budget of the server (:mod:`traintriage.limits`) stops them at its
checkpoints too. Tasks must not call :func:`map_each` themselves: the pool is shared and bounded.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # the pool (and concurrent.futures, with logging) only when work is large enough
    from concurrent.futures import ThreadPoolExecutor

T = TypeVar("T")
R = TypeVar("R")

PARALLEL_MIN_POINTS = 100_000
"""Below this many points (or records) in all, the work is done in the calling thread."""

MAX_WORKERS = 4

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _workers() -> int:
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _pool = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="traintriage-worker")
        return _pool


def map_each(fn: Callable[[T], R], items: Sequence[T], *, points: int) -> list[R]:
    """``[fn(item) for item in items]``, on several cores when ``points`` (the size of the work) is large.

    Results keep the order of ``items``; the first exception (a stopped budget included) is raised.
    """
    if points < PARALLEL_MIN_POINTS or len(items) < 2 or _workers() < 2:
        return [fn(item) for item in items]
    pool = _shared_pool()
    futures = [pool.submit(contextvars.copy_context().run, fn, item) for item in items]
    try:
        return [f.result() for f in futures]
    finally:
        for f in futures:  # after an exception: do not start what is no longer needed
            f.cancel()
