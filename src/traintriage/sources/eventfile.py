"""Read every scalar from a TensorBoard event file, fast, with every CRC checked.

An event file is a TFRecord stream: ``uint64 length | uint32 masked_crc32c(length) | data |
uint32 masked_crc32c(data)``, each ``data`` a serialized ``Event``. Reading a million scalars one
protobuf object at a time takes tens of seconds (tbparse, EventAccumulator); this reader builds no
per-event object and does the work with numpy, in three vectorised passes per 8 MiB window:

1. **Framing.** Training code logs the same tags in the same order every step, so record lengths
   repeat with a short period. A tight loop walks a few records, finds the period of their lengths,
   predicts where the next thousands of records start and verifies the predicted 12-byte headers in
   blocks (gathered as uint64 lengths and uint32 CRCs); it falls back to the record-by-record walk
   where the prediction breaks (a new tag, a step varint growing a byte, a histogram).
2. **CRC.** Big records (512 bytes or more: histograms, images, text, most of the bytes of many real
   logs) are checked one by one with the hardware CRC32C of ``google-crc32c`` and dropped by their
   framing when they hold no scalar (:mod:`.eventskim`); only those that may hold one go on. Small
   records are grouped by length and checked with :func:`crc32c.crc32c_rows`, whose cost is
   proportional to the number of *varying* byte columns, not to the bytes (see that module).
3. **Decoding.** Within a length group, one record is parsed in Python
   (:func:`eventproto.parse_layout`); every other record whose structural bytes match is decoded by
   fancy indexing (wall time, step varint, tag bytes, value bytes); the rest go to the next round,
   and after a few rounds record by record (rare layouts: graphs, small histograms).

Damage is reported, never fatal: a record whose data CRC fails is skipped with a warning giving its
byte offset; a bad *length* CRC means framing is lost, so the reader scans forward for the next
offset whose header verifies (and whose length fits in the file) and resumes there. A length beyond
the end of the file is never allocated: that is a truncated tail (a file still being written), so
everything complete is returned with ``end_offset`` at the last complete record, from which a later
call can continue (``start_offset``). With ``check_crc=False`` nothing is verified and a corrupt
length is taken at its word (it ends the read as a truncated tail).

Tensor-encoded values are kept when the tag's plugin (from the first ``SummaryMetadata`` seen for it,
as TensorBoard does) is ``scalars`` or undeclared.
"""

from __future__ import annotations

import os
import struct
from collections import ChainMap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import InputError
from ..limits import check_budget
from ..parallel import PARALLEL_MIN_POINTS, map_each
from .crc32c import NATIVE_MISSING, crc32c, crc32c_rows, mask, mask_array, masked_crc32c, native_available
from .eventproto import Layout, Malformed, decode_values, parse_layout, varint_columns
from .eventskim import SKIM_MIN, HistogramPoint, skim

CHUNK_BYTES = 8 << 20
"""Bytes read per window. Peak memory is about the window plus what its groups copy while they are decoded
(two at once on two cores); 8 MiB reads as fast as 16 MiB here and keeps a 1M-scalar analysis ~35 MB lower."""
_HEADER = struct.Struct("<QI")
_MAX_ROUNDS = 24  # vectorised layout rounds per length group before going record by record
_MAX_WARNINGS = 25
_PERIOD_MAX = 512
_BINCOUNT_LENGTHS = 1 << 16  # record lengths below this are grouped by counting (a 512 KiB table)


@dataclass
class TagScalars:
    """All values of one tag in file order (duplicated steps kept): int64 steps, float64 values/wall times."""

    steps: np.ndarray
    values: np.ndarray
    wall_times: np.ndarray

    def __len__(self) -> int:
        return int(self.steps.shape[0])


@dataclass
class EventFileScan:
    """What one event file holds, from ``start_offset`` up to ``end_offset``.

    ``records_read`` counts the complete records framed in that range (skipped damaged ones too);
    ``bytes_read`` is how many bytes the read that produced this object consumed (0 for a cache hit).
    ``tag_plugins`` (tag -> plugin name, first declaration wins) is carried into continued reads.
    """

    path: Path
    scalars: dict[str, TagScalars]
    end_offset: int
    records_read: int
    warnings: list[str]
    truncated_tail: bool
    start_offset: int = 0
    bytes_read: int = 0
    tag_plugins: dict[str, str] = field(default_factory=dict)
    histograms: list[HistogramPoint] = field(default_factory=list)  # filled when asked for, file order

    @property
    def nbytes(self) -> int:
        return sum(t.steps.nbytes + t.values.nbytes + t.wall_times.nbytes for t in self.scalars.values())


# ----------------------------------------------------------------------------------------------
# Framing
# ----------------------------------------------------------------------------------------------


class _Headers:
    """The length CRC of each record length (lengths repeat, so each is computed once)."""

    def __init__(self) -> None:
        self._crc: dict[int, int] = {}

    def crc(self, length: int) -> int:
        c = self._crc.get(length)
        if c is None:
            c = self._crc[length] = masked_crc32c(struct.pack("<Q", length))
        return c


def _period(lens: list[int]) -> int:
    """Smallest p such that the whole window of lengths repeats with period p (0: none)."""
    a = np.asarray(lens, dtype=np.int64)
    for p in range(1, min(a.size // 2, _PERIOD_MAX) + 1):
        if a[p] == a[0] and (a[p:] == a[:-p]).all():
            return p
    return 0


_FF_BLOCK_HEADERS = 1 << 16
"""Most predicted headers checked in one gather: ~1.5 MB of positions and words, whatever the window."""


def _fast_forward(arr: np.ndarray, pos: int, cycle: list[int], headers: _Headers):
    """Verify the predicted headers of repeated cycles of record lengths; return the verified records.

    Every byte offset of the buffer is viewed as the start of a little-endian uint64 (the length)
    and of a uint32 (its CRC), so a block of predicted headers is checked with two gathers and two
    comparisons, whatever the cycle's length (one strided 12-byte comparison per record of the
    cycle cost four times as much on 50-tag runs). Blocks grow from 64 cycles, so that a prediction
    that breaks early costs little, up to a bounded number of headers.
    """
    p = len(cycle)
    want_len = np.asarray(cycle, dtype=np.uint64)
    sizes = want_len.astype(np.int64) + 16
    pre = np.zeros(p + 1, dtype=np.int64)
    np.cumsum(sizes, out=pre[1:])
    cb = int(pre[-1])
    k_total = (arr.shape[0] - pos) // cb
    if k_total < 2:
        return None
    want_crc = np.array([headers.crc(c) for c in cycle], dtype=np.uint32)
    n = arr.shape[0]  # >= 2 * cb > 12: every header gathered below lies inside the buffer
    length_at = np.ndarray((n - 7,), dtype="<u8", buffer=arr, strides=(1,))
    crc_at = np.ndarray((n - 3,), dtype="<u4", buffer=arr, strides=(1,))
    done = 0
    block = 64
    first_bad = k_total * p
    while done < k_total:
        k = min(block, k_total - done)
        at = (pos + (done + np.arange(k, dtype=np.int64)) * cb)[:, None] + pre[:p]  # (cycle, record)
        ok = (length_at[at] == want_len) & (crc_at[at + 8] == want_crc)
        if not ok.all():
            first_bad = done * p + int(np.argmin(ok.reshape(-1)))
            break
        done += k
        block = min(block * 4, max(64, _FF_BLOCK_HEADERS // p))
    if first_bad == 0:
        return None
    idx = np.arange(first_bad, dtype=np.int64)
    slot = idx % p
    starts = pos + (idx // p) * cb + pre[slot]
    lens = sizes[slot] - 16
    new_pos = pos + (first_bad // p) * cb + int(pre[first_bad % p])
    return starts, lens, new_pos


def _frame(buf: bytes, arr: np.ndarray, pos: int, check_crc: bool, headers: _Headers):
    """Walk complete records from ``pos``; stop at the buffer's end ('end') or a bad length CRC ('badlen').

    The record-by-record walk hands over to :func:`_fast_forward` whenever the last ``window``
    lengths are periodic; the window doubles each time a prediction fails or holds only briefly, so
    a long period (many tags of different lengths, a validation step every N steps) is found too.
    """
    unpack = _HEADER.unpack_from
    n = len(buf)
    s_list: list[int] = []
    l_list: list[int] = []
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    since = 0
    window = 16
    next_try = window
    reason = "end"
    while True:
        if pos + 12 > n:
            break
        length, lcrc = unpack(buf, pos)
        if check_crc and headers.crc(length) != lcrc:
            reason = "badlen"
            break
        if pos + 16 + length > n:
            break
        s_list.append(pos)
        l_list.append(length)
        pos += 16 + length
        since += 1
        if since >= next_try:
            p = _period(l_list[-min(since, 2 * _PERIOD_MAX) :])
            ff = _fast_forward(arr, pos, l_list[-p:], headers) if p else None
            if ff is not None:
                parts.append((np.asarray(s_list, dtype=np.int64), np.asarray(l_list, dtype=np.int64)))
                parts.append((ff[0], ff[1]))
                s_list, l_list = [], []
                pos = ff[2]
                if ff[0].size < 8 * p:
                    window = min(window * 2, 2 * _PERIOD_MAX)
                since, next_try = 0, window
            else:
                window = min(window * 2, 2 * _PERIOD_MAX)
                next_try = since + window
    parts.append((np.asarray(s_list, dtype=np.int64), np.asarray(l_list, dtype=np.int64)))
    starts = np.concatenate([s for s, _ in parts])
    lens = np.concatenate([s for _, s in parts])
    return starts, lens, pos, reason


def _resync(arr: np.ndarray, lo: int, file_left: int, headers: _Headers) -> int | None:
    """First offset >= lo in the buffer whose 12-byte header verifies and whose record fits in the file.

    ``file_left``: bytes from the buffer's start to the end of the file.
    """
    n = arr.shape[0]
    if n < 12:
        return None
    win8 = sliding_window_view(arr, 8)
    win4 = sliding_window_view(arr, 4)
    block = 1 << 20
    for a in range(lo, n - 11, block):
        b = min(a + block, n - 11)
        rows = win8[a:b]
        crcs = mask_array(crc32c_rows(rows, np.arange(8)))
        stored = np.ascontiguousarray(win4[a + 8 : b + 8]).view("<u4")[:, 0]
        cand = np.flatnonzero(crcs == stored)
        if cand.size:
            lengths = np.ascontiguousarray(rows[cand]).view("<u8")[:, 0]
            fits = lengths <= np.uint64(max(file_left, 0))
            fits &= (a + cand + 16 + lengths.astype(np.float64)) <= file_left
            good = cand[fits]
            if good.size:
                return a + int(good[0])
    return None


# ----------------------------------------------------------------------------------------------
# Decoding
# ----------------------------------------------------------------------------------------------


class Columns:
    """One tag's steps, values and wall times in buffers with room after them for more.

    The reader fills one per tag, window by window, and the event cache keeps them to append what a
    growing file adds later: neither copies the values already held unless the room runs out (then
    the buffers grow by half, so appending costs O(1) per value). ``n`` values are written; what is
    handed out are views ``buffer[:n]`` and only what lies past ``n`` is ever written, so a view never
    changes.
    """

    __slots__ = ("buffers", "n")

    def __init__(self, capacity: int) -> None:
        self.buffers = (np.empty(capacity, np.int64), np.empty(capacity, np.float64), np.empty(capacity, np.float64))
        self.n = 0

    @classmethod
    def adopt(cls, t: TagScalars) -> Columns:
        """The columns a scan read with ``spare`` > 0 handed ``t`` out from (its arrays' ``.base``)."""
        columns = cls.__new__(cls)
        columns.buffers = (t.steps.base, t.values.base, t.wall_times.base)
        assert all(b is not None and b.ndim == 1 and b.shape[0] >= len(t) for b in columns.buffers)
        columns.n = len(t)
        return columns

    @classmethod
    def copy_of(cls, t: TagScalars, room: int) -> Columns:
        columns = cls(len(t) + room)
        columns.append((t.steps, t.values, t.wall_times))
        return columns

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.buffers)

    def append(self, arrays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        n, k = self.n, arrays[0].shape[0]
        if n + k > self.buffers[0].shape[0]:
            self._resize(max(n + k, n + n // 2))
        for buffer, column in zip(self.buffers, arrays, strict=True):
            buffer[n : n + k] = column
        self.n = n + k

    def view(self) -> TagScalars:
        return TagScalars(*(b[: self.n] for b in self.buffers))

    def trim(self, spare: float) -> None:
        """Leave room for about ``spare`` more (a fraction of ``n``): an estimate that overshot by more
        than half is cut, so that a cache counting buffers is not misled."""
        want = self.n + int(self.n * spare) + (1 if spare > 0 else 0)
        if self.buffers[0].shape[0] > want + want // 2 + 64:
            self._resize(want)

    def _resize(self, capacity: int) -> None:
        grown = tuple(np.empty(capacity, b.dtype) for b in self.buffers)
        for old, new in zip(self.buffers, grown, strict=True):
            new[: self.n] = old[: self.n]
        self.buffers = grown  # type: ignore[assignment]


class _State:
    """Accumulates one scan: tags, per-tag columns, plugins, warnings."""

    def __init__(self, path: Path, tag_plugins: dict[str, str] | None, spare: float = 0.0) -> None:
        self.path = path
        self.tag_names: dict[bytes, str] = {}
        self.columns: dict[str, Columns] = {}
        self.bytes_to_read = 0  # set once the file's size is known
        self.bytes_done = 0
        self.spare = spare
        self.tag_plugins: dict[str, str] = dict(tag_plugins or {})
        self.warnings: list[str] = []
        self.suppressed = 0
        self.records = 0
        # per window
        self.entries: list[tuple[str, bool, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.decls: list[tuple[int, str, str]] = []
        self.histograms: list[HistogramPoint] | None = None  # a list when the caller asked for them
        self.slow_crc_warned = False

    def warn(self, msg: str) -> None:
        if len(self.warnings) < _MAX_WARNINGS:
            self.warnings.append(msg)
        else:
            self.suppressed += 1

    def tag(self, raw: bytes) -> str:
        name = self.tag_names.get(raw)
        if name is None:
            name = self.tag_names[raw] = raw.decode("utf-8", errors="replace")
        return name

    def fork(self) -> _State:
        """A state for one group of records decoded alongside others: its own values, declarations and
        warnings (merged back in group order by :meth:`join`), the same tag names and plugins."""
        child = _State.__new__(_State)
        child.path, child.tag_names, child.tag_plugins = self.path, self.tag_names, self.tag_plugins
        child.columns, child.warnings, child.suppressed, child.records = {}, [], 0, self.records
        child.entries, child.decls = [], []
        return child

    def join(self, child: _State) -> None:
        self.entries.extend(child.entries)
        self.decls.extend(child.decls)
        for msg in child.warnings:
            self.warn(msg)
        self.suppressed += child.suppressed

    def flush_window(self, bytes_done: int) -> None:
        """Order this window's values by record and append them to the per-tag columns (``bytes_done``:
        how far into the bytes to read this window ends, for sizing the columns of new tags: a tag's
        count in its first window, extrapolated from that window's bytes to all the bytes left)."""
        window_bytes = max(bytes_done - self.bytes_done, 1)
        bytes_left = max(self.bytes_to_read - self.bytes_done, window_bytes)
        self.bytes_done = bytes_done
        for rec, tag, plugin in sorted(self.decls):
            del rec
            self.tag_plugins.setdefault(tag, plugin)
        by_tag: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {}
        for tag, is_tensor, rec, steps, values, walls in self.entries:
            if is_tensor and self.tag_plugins.get(tag, "scalars") != "scalars":
                continue
            by_tag.setdefault(tag, []).append((rec, steps, values, walls))
        for tag, items in by_tag.items():
            if len(items) == 1:
                _, steps, values, walls = items[0]
            else:
                rec = np.concatenate([i[0] for i in items])
                order = np.argsort(rec, kind="stable")
                steps = np.concatenate([i[1] for i in items])[order]
                values = np.concatenate([i[2] for i in items])[order]
                walls = np.concatenate([i[3] for i in items])[order]
            columns = self.columns.get(tag)
            if columns is None:
                expected = steps.shape[0] * bytes_left / window_bytes
                # A regular log fills columns sized so without copying them once.
                columns = self.columns[tag] = Columns(int(expected * (1 + self.spare)) + 1)
            columns.append((steps, values, walls))
        self.entries = []
        self.decls = []


def _small_ids(inv: np.ndarray, count: int) -> np.ndarray:
    """``inv`` in the narrowest unsigned dtype: NumPy's stable argsort is then a radix sort, O(n)."""
    return inv.astype(np.uint8 if count <= 0xFF else np.uint16 if count <= 0xFFFF else np.int64)


def _periodic_rows(words: np.ndarray, h: np.ndarray) -> int:
    """Smallest p such that row i equals row i - p for every i >= p (0: none found below half the rows).

    Training code logs the same tags in the same order every step, so the tag bytes of same-length
    records usually repeat with a short period. Candidates are where the first row's hash ``h`` recurs;
    each is verified exactly on the bytes, in one pass, where finding distinct rows by sorting costs a sort.
    """
    n = words.shape[0]
    for p in np.flatnonzero(h[1 : min(n, _PERIOD_MAX + 1)] == h[0])[:4] + 1:
        p = int(p)
        if 2 * p <= n and bool((words[p:] == words[:-p]).all()):
            return p
    return 0


def _unique_rows(cols: np.ndarray) -> tuple[list[bytes], np.ndarray | None]:
    """Distinct rows of a 2-D uint8 array and each row's index among them (None: all rows equal).

    The distinct rows are listed in the order ``np.unique`` gives their hashes, whichever path finds them.
    """
    n, t = cols.shape
    if n == 1 or t == 0 or not _varying_columns(cols).any():
        return [cols[0].tobytes()], None
    w = (t + 7) // 8
    padded = np.zeros((n, w * 8), dtype=np.uint8)
    padded[:, :t] = cols
    words = padded.view("<u8")
    h = words[:, 0].copy()
    for i in range(1, w):
        h = (h * np.uint64(0x9E3779B97F4A7C15)) ^ words[:, i]
    p = _periodic_rows(words, h)
    if p:
        tags, inv_first = _unique_rows(cols[:p])
        if inv_first is not None:
            return tags, np.tile(inv_first, n // p + 1)[:n]
    _, first, inv = np.unique(h, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    if w > 1 and not bool((words[first][inv] == words).all()):  # hash collision: exact but slower
        _, first, inv = np.unique(padded.view(np.dtype((np.void, w * 8)))[:, 0], return_index=True,
                                  return_inverse=True)
        inv = inv.reshape(-1)
    return [cols[i].tobytes() for i in first.tolist()], inv


def _matches(rows: np.ndarray, layout: Layout, template: np.ndarray, varying_mask: np.ndarray) -> np.ndarray:
    """Which rows have the template's structure (structural bytes equal, varint lengths equal)."""
    ok = np.ones(rows.shape[0], dtype=bool)
    check = np.flatnonzero(varying_mask & ~layout.variable)
    if check.size:
        ok &= (rows[:, check] == template[check]).all(axis=1)
    for off, m in layout.varints:
        if varying_mask[off : off + m].any():
            cont = rows[:, off : off + m] & 0x80
            ok &= (cont[:, : m - 1] != 0).all(axis=1) & (cont[:, m - 1] == 0)
    return ok


def _emit(state: _State, rows: np.ndarray, layout: Layout, rec: np.ndarray) -> None:
    n = rows.shape[0]
    if layout.wall_off is not None:
        o = layout.wall_off
        walls = np.ascontiguousarray(rows[:, o : o + 8]).view("<f8")[:, 0].copy()
    else:
        walls = np.zeros(n, dtype=np.float64)
    if layout.step is not None:
        o, m = layout.step
        steps = varint_columns(rows[:, o : o + m]).view(np.int64)
    else:
        steps = np.zeros(n, dtype=np.int64)
    for v in layout.values:
        values = decode_values(rows[:, v.val_off : v.val_off + v.val_len], v.kind)
        tags, inv = _unique_rows(rows[:, v.tag_off : v.tag_off + v.tag_len])
        if inv is None:
            groups = [(tags[0], None)]
        else:
            order = np.argsort(_small_ids(inv, len(tags)), kind="stable")
            bounds = np.concatenate([[0], np.cumsum(np.bincount(inv, minlength=len(tags)))])
            groups = [(tags[i], order[bounds[i] : bounds[i + 1]]) for i in range(len(tags))]
        for raw, sel in groups:
            tag = state.tag(raw)
            if sel is None:
                state.entries.append((tag, v.is_tensor, rec, steps, values, walls))
                first = int(rec[0])
            else:
                state.entries.append((tag, v.is_tensor, rec[sel], steps[sel], values[sel], walls[sel]))
                first = int(rec[sel[0]])
            if v.plugin is not None:
                state.decls.append((first, tag, v.plugin))
    for raw, plugin in layout.other_plugins:
        state.decls.append((int(rec[0]), state.tag(raw), plugin))


def _varying_columns(rows: np.ndarray) -> np.ndarray:
    """Mask of the columns whose bytes differ between rows (one XOR pass and one OR-reduction: faster
    than ``min != max``, two reductions); the CRC and the layout matching both need it."""
    if rows.shape[0] <= 1:
        return np.zeros(rows.shape[1], bool)
    return np.bitwise_or.reduce(rows ^ rows[0], axis=0) != 0


def _decode_group(state: _State, rows: np.ndarray, rec: np.ndarray, offsets: np.ndarray,
                  varying: np.ndarray) -> None:
    """Decode same-length records: vectorised layout rounds, then record by record."""
    remaining = np.arange(rows.shape[0])
    rounds = 0
    while remaining.size:
        first = int(remaining[0])
        template = rows[first]
        try:
            layout = parse_layout(template.tobytes())
        except Malformed as exc:
            state.warn(f"record at byte offset {int(offsets[first])} is not a valid Event ({exc}); skipped")
            remaining = remaining[1:]
            continue
        if rounds >= _MAX_ROUNDS:  # rare layouts: one record at a time
            _emit(state, rows[first : first + 1], layout, rec[first : first + 1])
            remaining = remaining[1:]
            continue
        rounds += 1
        sub = rows if remaining.size == rows.shape[0] else rows[remaining]
        ok = _matches(sub, layout, template, varying)
        if ok.all():
            _emit(state, sub, layout, rec[remaining])
            return
        ok[0] = True
        _emit(state, sub[ok], layout, rec[remaining[ok]])
        remaining = remaining[~ok]


def _skim_big(state: _State, buf: bytes, arr: np.ndarray, starts: np.ndarray, lens: np.ndarray,
              rec_ids: np.ndarray, base: int, check_crc: bool) -> np.ndarray:
    """Check and skim the big records one by one; True where a record still has to be decoded.

    A big record's CRC costs one call of the hardware library (numpy's fallback takes 100x longer, and
    says so once per file); one that holds no scalar is dropped here, its plugin declarations and
    (when asked) histogram statistics kept.
    """
    if check_crc and not native_available() and not state.slow_crc_warned:
        state.slow_crc_warned = True
        state.warn(NATIVE_MISSING)
    stored = np.ndarray((arr.shape[0] - 3,), dtype="<u4", buffer=arr, strides=(1,))[starts + 12 + lens] \
        if check_crc else None
    decode = np.zeros(starts.size, dtype=bool)
    want = state.histograms is not None
    declared: dict[str, str] = {}  # this window's declarations, before flush_window records them
    plugins = ChainMap(state.tag_plugins, declared)
    for i, (st, ln, rid) in enumerate(zip(starts.tolist(), lens.tolist(), rec_ids.tolist(), strict=True)):
        s = st + 12
        if check_crc and mask(crc32c(arr[s : s + ln])) != int(stored[i]):
            state.warn(f"record at byte offset {st + base}: data CRC mismatch; record skipped")
            continue
        found = skim(buf, s, s + ln, plugins, want)
        if found is None:
            decode[i] = True
            continue
        for raw, plugin in found.plugins:
            tag = state.tag(raw)
            declared.setdefault(tag, plugin)
            state.decls.append((rid, tag, plugin))
        if want and found.histograms:
            state.histograms.extend(found.histograms)  # type: ignore[union-attr]
    return decode


def _decode_window(state: _State, arr: np.ndarray, starts: np.ndarray, lens: np.ndarray,
                   base: int, check_crc: bool, buf: bytes | None = None) -> None:
    if starts.size == 0:
        return
    rec_ids = np.arange(starts.size, dtype=np.int64) + state.records
    state.records += int(starts.size)
    big = np.flatnonzero(lens >= SKIM_MIN)
    if big.size:
        decode = _skim_big(state, buf if buf is not None else arr.tobytes(), arr, starts[big], lens[big],
                           rec_ids[big], base, check_crc)
        if not decode.all():
            keep = np.ones(starts.size, dtype=bool)
            keep[big[~decode]] = False
            starts, lens, rec_ids = starts[keep], lens[keep], rec_ids[keep]
            if starts.size == 0:
                return
    if int(lens.max()) < _BINCOUNT_LENGTHS:  # the usual case: count lengths instead of sorting them
        counts = np.bincount(lens)
        uniq = np.flatnonzero(counts)
        lookup = np.zeros(counts.size, dtype=np.int64)
        lookup[uniq] = np.arange(uniq.size)
        inv = lookup[lens]
    else:
        uniq, inv = np.unique(lens, return_inverse=True)
        inv = inv.reshape(-1)
    if uniq.size == 1:
        groups = [(int(uniq[0]), np.arange(starts.size))]
    else:
        order = np.argsort(_small_ids(inv, uniq.size), kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(inv))])
        groups = [(int(uniq[i]), order[bounds[i] : bounds[i + 1]]) for i in range(uniq.size)]
    win4 = sliding_window_view(arr, 4)

    def decode(group_state: _State, length: int, idx: np.ndarray) -> None:
        data_starts = starts[idx] + 12
        rows = sliding_window_view(arr, length)[data_starts] if length else np.zeros((idx.size, 0), np.uint8)
        rec = rec_ids[idx]
        varying = _varying_columns(rows)
        if check_crc:
            stored = np.ascontiguousarray(win4[data_starts + length]).view("<u4")[:, 0]
            good = mask_array(crc32c_rows(rows, np.flatnonzero(varying))) == stored
            if not good.all():
                for off in (data_starts[~good] - 12 + base).tolist():
                    group_state.warn(f"record at byte offset {off}: data CRC mismatch; record skipped")
                rows, rec, data_starts = rows[good], rec[good], data_starts[good]
                varying = _varying_columns(rows)  # a corrupt record may have been the only one to differ
        if rows.shape[0] and length:
            _decode_group(group_state, rows, rec, data_starts - 12 + base, varying)

    if len(groups) > 1 and starts.size >= PARALLEL_MIN_POINTS:
        # Groups are independent: decode them side by side, then merge in group order (deterministic).
        forks = [state.fork() for _ in groups]
        map_each(lambda j: decode(forks[j], *groups[j]), range(len(groups)), points=int(starts.size))
        for child in forks:
            state.join(child)
    else:
        for length, idx in groups:
            decode(state, length, idx)


# ----------------------------------------------------------------------------------------------
# The scan
# ----------------------------------------------------------------------------------------------


def _next_window(f, rest: bytes | bytearray, count: int) -> bytearray:
    """``rest`` followed by the next ``count`` bytes of ``f``, read straight into a new buffer (``rest +
    f.read()`` copies every window twice; a new buffer each time, since decoded views may outlive it)."""
    buf = bytearray(len(rest) + count)
    buf[: len(rest)] = rest
    view = memoryview(buf)
    got = len(rest)
    while got < len(buf):
        n = f.readinto(view[got:])
        if not n:
            del view
            del buf[got:]
            break
        got += n
    return buf


def _incomplete(offset: int, length: int | None, size: int) -> str:
    what = f"declares {length} bytes of data" if length is not None else "its header is cut short"
    return (f"incomplete last record at byte offset {offset} ({what}; the file ends {size - offset} bytes "
            "later): the file is probably still being written (or its end is corrupt); read up to that offset")


def scan_event_file(
    path: str | os.PathLike[str],
    start_offset: int = 0,
    *,
    check_crc: bool = True,
    tag_plugins: dict[str, str] | None = None,
    spare: float = 0.0,
    histograms: bool = False,
) -> EventFileScan:
    """Read the scalars of an event file from ``start_offset`` (a record boundary, e.g. a previous
    scan's ``end_offset``) to its last complete record.

    ``tag_plugins`` carries plugin declarations from an earlier read of the same file. With ``spare``
    > 0, each array of the result is the start of its own buffer (its ``.base``), which has room for
    that fraction more values: a cache can append a later read of a growing file there instead of
    copying every value it holds (:mod:`.eventcache`). With ``histograms``, the summary statistics of
    every histogram are collected too (``EventFileScan.histograms``). Raises
    :class:`~traintriage.errors.InputError` when the file cannot be opened, or when (read from the
    start, CRCs checked) not one valid record header is found in it.
    """
    path = Path(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed in finally, read in windows
    except OSError as exc:
        raise InputError(f"cannot open event file {path}: {exc.strerror or exc}",
                         hint="Check that the path exists and is readable.") from exc
    state = _State(path, tag_plugins, spare=spare)
    if histograms:
        state.histograms = []
    headers = _Headers()
    truncated = False
    try:
        size = os.fstat(f.fileno()).st_size
        if start_offset < 0 or start_offset > size:
            raise InputError(f"start offset {start_offset} is outside {path} ({size} bytes).",
                             hint="Re-read the file from the start (offset 0).")
        f.seek(start_offset)
        state.bytes_to_read = size - start_offset
        buf_off = start_offset  # file offset of buf[0]
        buf = f.read(min(CHUNK_BYTES, size - start_offset))
        resync_from: int | None = None  # file offset of a bad length header while searching
        end_offset = start_offset
        while True:
            at_eof = buf_off + len(buf) >= size
            arr = np.frombuffer(buf, dtype=np.uint8)
            pos = 0
            all_starts: list[np.ndarray] = []
            all_lens: list[np.ndarray] = []
            while True:
                if resync_from is not None:
                    q = _resync(arr, pos, size - buf_off, headers)
                    if q is None:
                        pos = len(buf) if at_eof else max(pos, len(buf) - 11)
                        break
                    state.warn(f"bad length CRC at byte offset {resync_from}: framing lost, resumed at "
                               f"offset {buf_off + q} ({buf_off + q - resync_from} bytes skipped)")
                    resync_from = None
                    pos = q
                starts, lens, pos, reason = _frame(buf, arr, pos, check_crc, headers)
                all_starts.append(starts)
                all_lens.append(lens)
                if reason != "badlen":
                    break
                resync_from = buf_off + pos
                pos += 1
            starts = np.concatenate(all_starts)
            lens = np.concatenate(all_lens)
            _decode_window(state, arr, starts, lens, buf_off, check_crc, buf)
            state.flush_window(buf_off + pos - start_offset)
            if resync_from is None:
                end_offset = buf_off + pos
            if at_eof:
                if resync_from is not None:
                    if start_offset == 0 and state.records == 0 and resync_from == 0:
                        raise InputError(
                            f"{path} is not a TensorBoard event file: no valid record header in it.",
                            hint="Event files are named events.out.tfevents.*; check the path.")
                    state.warn(f"bad length CRC at byte offset {resync_from}: no valid record after it; "
                               f"{size - resync_from} bytes at the end skipped")
                    end_offset = size
                elif pos < len(buf):
                    truncated = True
                    length = _HEADER.unpack_from(buf, pos)[0] if len(buf) - pos >= 12 else None
                    state.warn(_incomplete(end_offset, length, size))
                break
            rest = buf[pos:]
            need = CHUNK_BYTES
            if len(rest) >= 12 and resync_from is None:
                length = _HEADER.unpack_from(rest, 0)[0]
                if buf_off + pos + 16 + length > size:  # cannot complete: never read (or allocate) it
                    truncated = True
                    state.warn(_incomplete(buf_off + pos, length, size))
                    break
                need = max(need, 16 + length - len(rest))
            buf_off += pos
            check_budget(planned_bytes=need // 2)  # a server call stopped or over budget ends here, between windows
            buf = _next_window(f, rest, min(need, size - buf_off - len(rest)))
    finally:
        f.close()
    if state.suppressed:
        state.warnings.append(f"... and {state.suppressed} more warnings like these")
    for columns in state.columns.values():
        columns.trim(spare)
    scalars = {tag: columns.view() for tag, columns in state.columns.items()}
    return EventFileScan(
        path=path,
        scalars=scalars,
        end_offset=end_offset,
        records_read=state.records,
        warnings=state.warnings,
        truncated_tail=truncated,
        start_offset=start_offset,
        bytes_read=end_offset - start_offset,
        tag_plugins=state.tag_plugins,
        histograms=state.histograms or [],
    )
