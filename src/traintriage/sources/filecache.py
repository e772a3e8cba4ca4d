"""A small cache of parsed log files, for the long-lived MCP server.

An agent asks several questions about the same run in a row (describe it, analyse the loss, the
gradients, triage it); re-parsing a 200 MB text log for each would make every call slow. Parsed
results are kept keyed by ``(path, size, mtime_ns, inode)`` plus the parser and its options, so a file that
is still being written (a live run) is re-read as soon as it changes, and a stale result is never
served. The cache is bounded (entries and total points) and thread-safe, since the server may run
tools concurrently.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..limits import check_budget

MAX_ENTRIES = 128
MAX_POINTS = 20_000_000
"""About 400 MB of step/value/wall arrays at most; a bigger run is re-read rather than pinned in memory."""

_WAIT_POLL_S = 0.05

_lock = threading.Lock()
_entries: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
_inflight: dict[tuple, _Parse] = {}
_points = 0
stats = {"hits": 0, "misses": 0}


class _Parse:
    """One parse in progress; threads wanting the same file version wait for it instead of parsing too."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False
        self.result: Any = None


def _size_of(result: Any) -> int:
    """Points held by a parse result (a ``(series_dict, warnings)`` pair or anything else: 1)."""
    try:
        series = result[0]
        return sum(len(s) for s in series.values()) + 1
    except (TypeError, KeyError, IndexError, AttributeError):
        return 1


def _freeze(result: Any) -> None:
    """Make the arrays of the series in a ``(series_dict, ...)`` result read-only: every caller shares them."""
    try:
        series = result[0]
        values = list(series.values())
    except (TypeError, KeyError, IndexError, AttributeError):
        return
    for s in values:
        for name in ("steps", "values", "wall_times"):
            arr = getattr(s, name, None)
            flags = getattr(arr, "flags", None)
            if flags is not None:
                flags.writeable = False


def _stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def cached(path: Path, parse: Callable[[Path], Any], variant: str = "") -> Any:
    """``parse(path)``, or the result kept from the last parse of this very file version.

    ``variant`` distinguishes options that change the result (e.g. a user-supplied regex). Parsers
    must return values the caller does not mutate (the series' arrays are made read-only; copy dicts
    and lists before changing them). A file that cannot be stat'ed is parsed without caching (the
    parser reports it). Two threads asking for the same file version parse it once. A file that
    changed while it was parsed is returned but not kept (the next call parses the new version). Each
    call is a check of the server call's budget (:mod:`traintriage.limits`).
    """
    global _points
    check_budget()
    try:
        st = os.stat(path)
    except OSError:
        return parse(path)
    version = _stat_key(st)
    key = (str(Path(path).resolve()), *version, f"{parse.__module__}.{parse.__qualname__}", variant)
    while True:
        with _lock:
            hit = _entries.get(key)
            if hit is not None:
                _entries.move_to_end(key)
                stats["hits"] += 1
                return hit[0]
            other = _inflight.get(key)
            if other is None:
                mine = _inflight[key] = _Parse()
                stats["misses"] += 1
                break
        while not other.done.wait(_WAIT_POLL_S):
            check_budget()
        if other.ok:
            with _lock:
                stats["hits"] += 1
            return other.result
        # That parse failed or was stopped: try again (this thread may parse it now).
    try:
        result = parse(path)
        _freeze(result)
        mine.result, mine.ok = result, True
    finally:
        with _lock:
            _inflight.pop(key, None)
        mine.done.set()
    try:
        unchanged = _stat_key(os.stat(path)) == version
    except OSError:
        unchanged = False
    size = _size_of(result)
    if unchanged and size <= MAX_POINTS:
        with _lock:
            # Drop older versions of the same file first: they can never be hit again.
            for old in [k for k in _entries if k[0] == key[0] and k[4:] == key[4:] and k != key]:
                _points -= _entries.pop(old)[1]
            if key not in _entries:
                _entries[key] = (result, size)
                _points += size
            while _entries and (len(_entries) > MAX_ENTRIES or _points > MAX_POINTS):
                _points -= _entries.popitem(last=False)[1][1]
    return result


def clear() -> None:
    """Forget everything (tests; a server asked to re-read from scratch)."""
    global _points
    with _lock:
        _entries.clear()
        _points = 0
        stats["hits"] = stats["misses"] = 0
