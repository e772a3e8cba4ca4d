"""A cache of parsed event files for a long-lived server, which reads only what a file added.

A server answers many questions about the same runs while they are still training, so re-reading a
growing event file from the start each time would waste seconds per call. Entries are keyed by the
resolved path and validated with ``(size, mtime_ns, inode)``:

* unchanged -> the cached scan (``bytes_read == 0``);
* same inode, grown, same first bytes -> read from the saved ``end_offset`` only, append;
* anything else (shrunk, replaced: another inode or other first bytes) -> re-read whole, with a warning.

Thread-safe (one lock for the table, one per path so that two threads never parse the same file at
once) and bounded: least recently used entries are dropped once their arrays exceed ``max_bytes``.
Cached arrays are made read-only, since every caller shares them.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import InputError
from .eventfile import EventFileScan, TagScalars, scan_event_file

_HEAD_BYTES = 64


@dataclass
class _Entry:
    size: int
    mtime_ns: int
    inode: int
    head: bytes
    scan: EventFileScan
    nbytes: int


def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _freeze(scan: EventFileScan) -> EventFileScan:
    for t in scan.scalars.values():
        for a in (t.steps, t.values, t.wall_times):
            a.flags.writeable = False
    return scan


def _merge(old: EventFileScan, new: EventFileScan) -> EventFileScan:
    scalars = dict(old.scalars)
    for tag, t in new.scalars.items():
        prev = scalars.get(tag)
        if prev is None:
            scalars[tag] = t
        else:
            scalars[tag] = TagScalars(
                np.concatenate([prev.steps, t.steps]),
                np.concatenate([prev.values, t.values]),
                np.concatenate([prev.wall_times, t.wall_times]),
            )
    # A tail that was incomplete before and is read now is no longer worth a warning.
    kept = [w for w in old.warnings if not w.startswith("incomplete last record")]
    return replace(
        new,
        scalars=scalars,
        records_read=old.records_read + new.records_read,
        warnings=kept + new.warnings,
        start_offset=old.start_offset,
    )


class EventCache:
    """Parsed event files, read incrementally; see the module docstring."""

    def __init__(self, max_bytes: int = 512 << 20, *, check_crc: bool = True) -> None:
        self.max_bytes = max_bytes
        self.check_crc = check_crc
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._path_locks: dict[str, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _path_lock(self, key: str) -> threading.Lock:
        with self._lock:
            lock = self._path_locks.get(key)
            if lock is None:
                lock = self._path_locks[key] = threading.Lock()
            return lock

    def scan(self, path: str | os.PathLike[str]) -> EventFileScan:
        """Everything the file holds now (cumulative over incremental reads).

        ``bytes_read`` of the result says what this call read: 0 on a hit, the new bytes after a
        growth, the whole file otherwise. ``records_read`` counts all records in the scan.
        """
        p = Path(path)
        key = str(p.resolve())
        with self._path_lock(key):
            try:
                st = os.stat(p)
            except OSError as exc:
                raise InputError(f"cannot read event file {p}: {exc.strerror or exc}",
                                 hint="Check that the path exists and is readable.") from exc
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
            if entry is not None and (entry.size, entry.mtime_ns, entry.inode) == (
                st.st_size, st.st_mtime_ns, st.st_ino
            ):
                return replace(entry.scan, bytes_read=0)
            warning = None
            scan = None
            if entry is not None:
                same_file = (
                    st.st_ino == entry.inode
                    and st.st_size >= entry.scan.end_offset
                    and _head(p, len(entry.head)) == entry.head
                )
                if same_file:
                    new = scan_event_file(p, entry.scan.end_offset, check_crc=self.check_crc,
                                          tag_plugins=entry.scan.tag_plugins)
                    scan = _merge(entry.scan, new)
                else:
                    warning = (f"{p.name} was replaced or shrank since it was last read "
                               f"({entry.size} -> {st.st_size} bytes); read it again from the start")
            if scan is None:
                scan = scan_event_file(p, 0, check_crc=self.check_crc)
            scan = _freeze(scan)
            self._store(key, _Entry(st.st_size, st.st_mtime_ns, st.st_ino, _head(p, _HEAD_BYTES),
                                    scan, scan.nbytes))
            # The replacement is news for this call only; the stored scan stays clean.
            return replace(scan, warnings=[warning, *scan.warnings]) if warning else scan

    def _store(self, key: str, entry: _Entry) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = entry
            self._bytes += entry.nbytes
            while self._bytes > self.max_bytes and len(self._entries) > 1:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes


default_cache = EventCache()
