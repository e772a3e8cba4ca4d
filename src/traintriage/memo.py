"""Reports of unchanged runs, remembered: a warm server answers a repeated analysis in milliseconds.

An agent asks about the same run again and again (``correlate``, then ``analyze_loss`` for detail,
then ``correlate`` after reading a guide). The event cache already makes the re-read cheap; this
makes the re-analysis free too. A report is remembered under the analysis, its options and the
run's :meth:`~traintriage.sources.RunPlan.fingerprint` (every file under the run with its size,
mtime and inode), so any write to the run (a training job appending events, a replaced file, a new
checkpoint) changes the key and the next call analyses afresh. Reports are records; each
caller gets its own deep copy, so nothing a caller does to one leaks into the next answer.

Identical calls that arrive together (an agent firing the same triage twice, fifty parallel calls on
one run) compute once: the others wait for that analysis, at their own budget's checks (so a
cancelled or timed-out waiter still stops), and get copies of its report. If it fails or is stopped,
the waiters compute for themselves.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .record import Record

M = TypeVar("M", bound=Record)

MAX_ENTRIES = 64
_WAIT_POLL_S = 0.05


def freeze(value: Any) -> Hashable:
    """A hashable, order-independent form of an option value (mappings, sequences, paths)."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set | frozenset):
        items = [freeze(v) for v in value]
        return tuple(sorted(items, key=repr)) if isinstance(value, set | frozenset) else tuple(items)
    if isinstance(value, Path):
        return str(value)
    return value


class ReportMemo:
    """A small LRU of reports keyed by (analysis, options, run fingerprint); safe across threads."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, Record] = OrderedDict()
        self._running: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], M]) -> M:
        from .limits import check_budget

        while True:
            with self._lock:
                found = self._entries.get(key)
                if found is not None:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return found.model_copy(deep=True)  # type: ignore[return-value]
                running = self._running.get(key)
                if running is None:
                    running = self._running[key] = threading.Event()
                    self.misses += 1
                    break
            while not running.wait(_WAIT_POLL_S):  # the same analysis is running in another call
                check_budget()
            # It finished: the next round answers from the memo; or it failed: the next round computes.
        try:
            report = compute()  # outside the lock: a slow analysis never blocks other runs' answers
            with self._lock:
                self._entries[key] = report.model_copy(deep=True)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        finally:
            with self._lock:
                if self._running.get(key) is running:
                    del self._running[key]
            running.set()
        return report

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


REPORTS = ReportMemo()
"""The process-wide memo the API uses."""
