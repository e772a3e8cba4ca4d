"""A cache of parsed event files for a long-lived server, which reads only what a file added.

A server answers many questions about the same runs while they are still training, so re-reading a
growing event file from the start each time would waste seconds per call. Entries are keyed by the
resolved path and validated with ``(size, mtime_ns, inode)``:

* unchanged -> the cached scan (``bytes_read == 0``);
* same inode, grown, same first bytes and same bytes just before ``end_offset`` -> read from the saved
  ``end_offset`` only, append;
* anything else (shrunk, replaced: another inode, or a file rewritten in place whose first bytes or
  bytes before the saved offset differ) -> re-read whole, with a warning.

A file replaced or truncated *while* it is read (inode or size checked again after the read) is read
again, so a cached scan never mixes two files. Inside a server call each file read is a check of
the call's budget (:mod:`traintriage.limits`); a stopped read leaves the cache as it was.

Appending does not copy what is cached: each tag's arrays are views of :class:`~.eventfile.Columns`
with room for ``SPARE`` more values (:func:`~.eventfile.scan_event_file` leaves it), and the values of
the new bytes are written into that room. A run that logs 1% more has 1% of its values written, not
all of them copied, and a 1 GB log does not briefly need its arrays twice. Values already handed out
never change: columns are only written past the most values handed out from them, and a result that
was read but dropped (the file changed during the read) leaves the next append to copy instead.

Thread-safe (one lock for the table, one per path so that two threads never parse the same file at
once) and bounded: least recently used entries are dropped once their buffers exceed ``max_bytes``.
Cached arrays are made read-only, since every caller shares them.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import InputError
from ..limits import check_budget
from .eventfile import Columns, EventFileScan, scan_event_file

_HEAD_BYTES = 64
_TAIL_BYTES = 64
SPARE = 0.125
"""Room left after each tag's values, as a fraction of them, for what a growing file appends."""


@dataclass
class _Entry:
    size: int
    mtime_ns: int
    inode: int
    head: bytes
    tail: bytes
    scan: EventFileScan
    columns: dict[str, Columns]  # what each tag's arrays in ``scan`` are views of

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.columns.values())


def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _freeze(scan: EventFileScan) -> EventFileScan:
    for t in scan.scalars.values():
        for a in (t.steps, t.values, t.wall_times):
            a.flags.writeable = False
    return scan


def _merge(
    old: EventFileScan, columns: dict[str, Columns], new: EventFileScan
) -> tuple[EventFileScan, dict[str, Columns]]:
    """``old`` followed by ``new`` (read from where ``old`` ended), and the columns of the result."""
    scalars = dict(old.scalars)
    columns = dict(columns)
    for tag, t in new.scalars.items():
        prev = scalars.get(tag)
        if prev is None:
            held = Columns.adopt(t)
        else:
            held = columns[tag]
            if held.n != len(prev):  # its room went to a result that was dropped (read again): copy
                held = Columns.copy_of(prev, room=len(t) + int(len(prev) * SPARE))
            held.append((t.steps, t.values, t.wall_times))
        columns[tag], scalars[tag] = held, held.view()
    # A tail that was incomplete before and is read now is no longer worth a warning.
    kept = [w for w in old.warnings if not w.startswith("incomplete last record")]
    merged = replace(
        new,
        scalars=scalars,
        records_read=old.records_read + new.records_read,
        warnings=kept + new.warnings,
        start_offset=old.start_offset,
    )
    return merged, columns


_LOCK_POLL_S = 0.05
_MAX_ATTEMPTS = 3


def _acquire(lock: threading.Lock) -> None:
    """Take ``lock``, checking the call's budget while another thread reads the same file."""
    while not lock.acquire(timeout=_LOCK_POLL_S):
        check_budget()


def _bytes_at(path: Path, offset: int, n: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(n)


class EventCache:
    """Parsed event files, read incrementally; see the module docstring."""

    def __init__(self, max_bytes: int = 512 << 20, *, check_crc: bool = True) -> None:
        self.max_bytes = max_bytes
        self.check_crc = check_crc
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._path_locks: dict[str, tuple[threading.Lock, list[int]]] = {}  # path -> (lock, [threads using it])

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @contextlib.contextmanager
    def _holding(self, key: str) -> Iterator[None]:
        """Hold the lock of one path (one reader per file at a time). A path's lock lives while some thread
        uses or waits for it, so a server reading many files over its life does not keep a lock per file."""
        with self._lock:
            lock, users = self._path_locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            _acquire(lock)
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._lock:
                users[0] -= 1
                if users[0] == 0:
                    del self._path_locks[key]

    def scan(self, path: str | os.PathLike[str]) -> EventFileScan:
        """Everything the file holds now (cumulative over incremental reads).

        ``bytes_read`` of the result says what this call read: 0 on a hit, the new bytes after a
        growth, the whole file otherwise. ``records_read`` counts all records in the scan.

        Within a server call, the call's budget is checked before each file (with the memory the read
        will take, estimated from the bytes to read) and while waiting for another thread's read of it.
        """
        p = Path(path)
        key = str(p.resolve())
        check_budget()
        with self._holding(key):
            for _attempt in range(_MAX_ATTEMPTS):
                scan, entry, stable = self._read(p, key)
                if stable:
                    if entry is not None:
                        self._store(key, entry)
                    return scan
            # The file kept being replaced while it was read: return the last read, uncached.
            return replace(scan, warnings=[*scan.warnings, f"{p.name} was replaced while it was read; "
                                           "this result may mix the old and the new file"])

    def _read(self, p: Path, key: str) -> tuple[EventFileScan, _Entry | None, bool]:
        """One attempt: the scan, the entry to store (None on a hit), and False when the file was replaced
        or truncated while it was read (the scan may then mix two files: read again)."""
        try:
            st = os.stat(p)
        except OSError as exc:
            raise InputError(f"cannot read event file {p}: {exc.strerror or exc}",
                             hint="Check that the path exists and is readable.") from exc
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is not None and (entry.size, entry.mtime_ns, entry.inode) == (st.st_size, st.st_mtime_ns, st.st_ino):
            return replace(entry.scan, bytes_read=0), None, True
        head = _head(p, _HEAD_BYTES)
        warning = None
        scan = None
        if entry is not None:
            end = entry.scan.end_offset
            same_file = (
                st.st_ino == entry.inode
                and st.st_size >= end
                and head[: len(entry.head)] == entry.head
                and _bytes_at(p, end - len(entry.tail), len(entry.tail)) == entry.tail
            )
            if same_file:
                # Arrays for the new bytes and, at worst (no room left), a larger copy of the cached ones.
                check_budget(planned_bytes=(st.st_size - end) // 2 + entry.nbytes)
                new = scan_event_file(p, end, check_crc=self.check_crc, tag_plugins=entry.scan.tag_plugins,
                                      spare=SPARE)
                scan, columns = _merge(entry.scan, entry.columns, new)
            else:
                warning = (f"{p.name} was replaced or shrank since it was last read "
                           f"({entry.size} -> {st.st_size} bytes); read it again from the start")
        if scan is None:
            check_budget(planned_bytes=st.st_size // 2)
            scan = scan_event_file(p, 0, check_crc=self.check_crc, spare=SPARE)
            columns = {tag: Columns.adopt(t) for tag, t in scan.scalars.items()}
        scan = _freeze(scan)
        tail_at = max(scan.end_offset - _TAIL_BYTES, 0)
        try:
            tail = _bytes_at(p, tail_at, scan.end_offset - tail_at)
            after = os.stat(p)
        except OSError:
            after = None
        if after is None or after.st_ino != st.st_ino or after.st_size < scan.end_offset or len(tail) != (
            scan.end_offset - tail_at
        ):
            # Replaced, truncated or removed while it was read: what was read may belong to either file.
            return scan, None, False
        result = replace(scan, warnings=[warning, *scan.warnings]) if warning else scan
        # The replacement is news for this call only; the stored scan stays clean.
        return result, _Entry(st.st_size, st.st_mtime_ns, st.st_ino, head, tail, scan, columns), True

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
