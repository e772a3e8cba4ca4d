"""A small cache of parsed log files, for the long-lived MCP server.

An agent asks several questions about the same run in a row (describe it, analyse the loss, the
gradients, triage it); re-parsing a 200 MB text log for each would make every call slow. Parsed
results are kept keyed by ``(path, size, mtime_ns)`` plus the parser and its options, so a file that
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

MAX_ENTRIES = 128
MAX_POINTS = 20_000_000
"""About 400 MB of step/value/wall arrays at most; a bigger run is re-read rather than pinned in memory."""

_lock = threading.Lock()
_entries: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
_points = 0
stats = {"hits": 0, "misses": 0}


def _size_of(result: Any) -> int:
    """Points held by a parse result (a ``(series_dict, warnings)`` pair or anything else: 1)."""
    try:
        series = result[0]
        return sum(len(s) for s in series.values()) + 1
    except (TypeError, KeyError, IndexError, AttributeError):
        return 1


def cached(path: Path, parse: Callable[[Path], Any], variant: str = "") -> Any:
    """``parse(path)``, or the result kept from the last parse of this very file version.

    ``variant`` distinguishes options that change the result (e.g. a user-supplied regex). Parsers
    must return values the caller does not mutate (series are frozen; copy dicts and lists before
    changing them). A file that cannot be stat'ed is parsed without caching (the parser reports it).
    """
    global _points
    try:
        st = os.stat(path)
    except OSError:
        return parse(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, f"{parse.__module__}.{parse.__qualname__}", variant)
    with _lock:
        hit = _entries.get(key)
        if hit is not None:
            _entries.move_to_end(key)
            stats["hits"] += 1
            return hit[0]
        stats["misses"] += 1
    result = parse(path)
    size = _size_of(result)
    with _lock:
        if size <= MAX_POINTS:
            # Drop older versions of the same file first: they can never be hit again.
            for old in [k for k in _entries if k[0] == key[0] and k[3:] == key[3:] and k != key]:
                _points -= _entries.pop(old)[1]
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
