"""Streamed value checks: NaN/Inf and all-zero tensors, and content digests for tie detection.

Tensor bytes are read in fixed-size chunks and decoded with numpy, so memory stays bounded whatever
the checkpoint's size; the total read is capped by a byte budget, and tensors past it are listed
as skipped. bfloat16 and float8 have no numpy dtype, so they are decoded from their bit patterns.

The same pass gathers what the weight-health checks (:mod:`.health`) need: each float tensor's sum
of squares and near-zero count (a norm far from its siblings, a norm gain collapsed to 0) and, for
embedding tables, which rows are all zero and which are exact copies of another row (read in
row-aligned chunks and hashed, so no table is held whole).
"""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from .tensors import ITEMSIZE, Location, TensorInfo, extent

CHUNK_BYTES = 16 * 1024 * 1024
MAX_STRIDED_BYTES = 256 * 1024 * 1024

_NUMPY = {"float64": "f8", "float32": "f4", "float16": "f2", "complex64": "f4", "complex128": "f8",
          "int64": "i8", "int32": "i4", "int16": "i2", "int8": "i1", "uint64": "u8", "uint32": "u4",
          "uint16": "u2", "uint8": "u1", "bool": "u1", "qint8": "i1", "quint8": "u1", "qint32": "i4",
          "bfloat16": "u2", "complex32": "f2", "float8_e4m3fn": "u1", "float8_e5m2": "u1",
          "float8_e4m3fnuz": "u1", "float8_e5m2fnuz": "u1"}


@dataclass
class TensorScan:
    """Counts for one tensor (complex tensors count their real and imaginary parts separately)."""

    nan: int = 0
    inf: int = 0
    nonzero: bool = False
    digest: str | None = None
    sumsq: float = 0.0  # over finite elements (float dtypes decoded by numpy or from bfloat16 bits)
    abs_sum: float = 0.0
    near_zero: int = 0  # finite elements with |x| < NEAR_ZERO
    zero_rows: int | None = None  # embedding tables only: rows all zero ...
    duplicate_rows: int | None = None  # ... and nonzero rows identical to another row
    rows_seen: int = 0


NEAR_ZERO = 1e-3
_ROW_HASH_WEIGHTS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _float_values(dtype: str, arr: np.ndarray) -> np.ndarray | None:
    """A chunk as floats for the norm statistics (None: float8 and complex, not summarised)."""
    if dtype in ("float64", "float32", "float16"):
        return arr
    if dtype == "bfloat16":
        return (arr.astype(np.uint32) << 16).view(np.float32)
    return None


def _moments(dtype: str, arr: np.ndarray, acc: TensorScan) -> None:
    vals = _float_values(dtype, arr)
    if vals is None:
        return
    with np.errstate(all="ignore"):  # garbage bytes decode to huge values: their squares overflow to inf
        vals = vals.astype(np.float64, copy=False)
        finite = vals[np.isfinite(vals)] if acc.nan or acc.inf else vals
        acc.sumsq += float(np.dot(finite, finite))
        a = np.abs(finite)
        acc.abs_sum += float(a.sum())
        acc.near_zero += int(np.count_nonzero(a < NEAR_ZERO))


def _row_hashes(rows: np.ndarray) -> np.ndarray:
    """A 128-bit hash per row of raw bytes (two wrapping weighted sums with fixed random weights)."""
    width = rows.shape[1]
    if width not in _ROW_HASH_WEIGHTS:
        rng = np.random.default_rng(width)
        _ROW_HASH_WEIGHTS[width] = (rng.integers(1, 2**63, width, dtype=np.uint64) | np.uint64(1),
                                    rng.integers(1, 2**63, width, dtype=np.uint64) | np.uint64(1))
    w1, w2 = _ROW_HASH_WEIGHTS[width]
    b = rows.astype(np.uint64)
    with np.errstate(over="ignore"):
        h1 = (b * w1).sum(axis=1, dtype=np.uint64)
        h2 = (b * w2).sum(axis=1, dtype=np.uint64)
    return np.stack([h1, h2], axis=1)


def _count(dtype: str, arr: np.ndarray, acc: TensorScan) -> None:
    """Add the NaN/Inf counts of one decoded chunk to ``acc`` and note any nonzero element."""
    if dtype in ("float64", "float32", "float16", "complex64", "complex128", "complex32"):
        acc.nan += int(np.count_nonzero(np.isnan(arr)))
        acc.inf += int(np.count_nonzero(np.isinf(arr)))
        acc.nonzero = acc.nonzero or bool(np.any(arr != 0))
    elif dtype == "bfloat16":
        u = arr.astype(np.uint16, copy=False)
        special = (u & 0x7F80) == 0x7F80
        mant = (u & 0x007F) != 0
        acc.nan += int(np.count_nonzero(special & mant))
        acc.inf += int(np.count_nonzero(special & ~mant))
        acc.nonzero = acc.nonzero or bool(np.any((u & 0x7FFF) != 0))
    elif dtype in ("float8_e4m3fn", "float8_e4m3fnuz"):
        acc.nan += int(np.count_nonzero((arr & 0x7F) == 0x7F if dtype == "float8_e4m3fn" else arr == 0x80))
        acc.nonzero = acc.nonzero or bool(np.any((arr & 0x7F) != 0))
    elif dtype in ("float8_e5m2", "float8_e5m2fnuz"):
        if dtype == "float8_e5m2":
            special = (arr & 0x7C) == 0x7C
            mant = (arr & 0x03) != 0
            acc.nan += int(np.count_nonzero(special & mant))
            acc.inf += int(np.count_nonzero(special & ~mant))
        else:
            acc.nan += int(np.count_nonzero(arr == 0x80))
        acc.nonzero = acc.nonzero or bool(np.any((arr & 0x7F) != 0))
    else:  # integers, bool, quantized: only zero-ness
        acc.nonzero = acc.nonzero or bool(np.any(arr != 0))


class _Opener:
    """Opens files and zip members once per scan, so reading many tensors does not reopen archives."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._files: dict[str, BinaryIO] = {}
        self._zips: dict[str, zipfile.ZipFile] = {}

    def open(self, loc: Location) -> BinaryIO:
        if loc.member is None:
            if loc.file not in self._files:
                self._files[loc.file] = self._stack.enter_context(open(loc.file, "rb"))  # noqa: SIM115
            fh = self._files[loc.file]
        else:
            if loc.file not in self._zips:
                self._zips[loc.file] = self._stack.enter_context(zipfile.ZipFile(loc.file))
            fh = self._stack.enter_context(self._zips[loc.file].open(loc.member))
        fh.seek(loc.offset)
        return fh


def _chunks(fh: BinaryIO, nbytes: int, itemsize: int) -> Iterator[bytes]:
    step = max(CHUNK_BYTES - CHUNK_BYTES % itemsize, itemsize)
    left = nbytes
    while left > 0:
        data = fh.read(min(step, left))
        if not data:
            raise EOFError("tensor data ends early")
        left -= len(data)
        yield data


def scan_tensor(t: TensorInfo, opener: _Opener, want_digest: bool, want_rows: bool = False) -> TensorScan:
    """Decode ``t`` chunk by chunk; ``want_digest`` also hashes its (logical) bytes for tie detection,
    ``want_rows`` (a contiguous 2-D table) counts its zero and duplicated rows."""
    loc = t.location
    assert loc is not None
    itemsize = ITEMSIZE[t.dtype]
    code = _NUMPY[t.dtype]
    dt = np.dtype(("<" if not loc.big_endian else ">") + code) if code not in ("i1", "u1") else np.dtype(code)
    acc = TensorScan()
    hasher = hashlib.blake2b(digest_size=16) if want_digest else None
    fh = opener.open(loc)
    rows = want_rows and loc.strides is None and len(t.shape) == 2 and t.shape[1] > 0
    row_bytes = t.shape[1] * itemsize if rows else itemsize
    hashes: list[np.ndarray] = []
    if loc.strides is None:
        for data in _chunks(fh, t.numel * itemsize, row_bytes):
            arr = np.frombuffer(data, dtype=dt)
            _count(t.dtype, arr, acc)
            _moments(t.dtype, arr, acc)
            if hasher:
                hasher.update(data)
            if rows:
                raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, row_bytes)
                nonzero = raw.any(axis=1)
                acc.zero_rows = (acc.zero_rows or 0) + int(np.count_nonzero(~nonzero))
                acc.rows_seen += raw.shape[0]
                hashes.append(_row_hashes(raw[nonzero]))
        if rows:
            allh = np.concatenate(hashes) if hashes else np.empty((0, 2), np.uint64)
            _, counts = np.unique(allh, axis=0, return_counts=True)
            acc.duplicate_rows = int(counts[counts > 1].sum())
    else:
        span = extent(t.shape, loc.strides) * itemsize
        raw = b"".join(_chunks(fh, span, itemsize))
        base = np.frombuffer(raw, dtype=dt)
        arr = np.lib.stride_tricks.as_strided(base, shape=t.shape,
                                              strides=tuple(s * itemsize for s in loc.strides))
        arr = np.ascontiguousarray(arr)
        _count(t.dtype, arr.reshape(-1), acc)
        _moments(t.dtype, arr.reshape(-1), acc)
        if hasher:
            hasher.update(arr.tobytes())
    acc.digest = hasher.hexdigest() if hasher else None
    return acc


def scan_tensors(tensors: list[TensorInfo], *, budget_bytes: int | None, digest_names: set[str],
                 row_names: set[str] | frozenset[str] = frozenset(),
                 progress: Callable[[int, int], None] | None = None) -> tuple[dict[str, TensorScan], list[str], int]:
    """Scan each tensor once; returns results by name, what was skipped (and why), bytes read.

    ``row_names``: embedding tables whose rows are checked; ``progress(bytes_done, bytes_total)`` is called
    after each tensor (the MCP adapter turns it into progress notifications)."""
    results: dict[str, TensorScan] = {}
    skipped: list[str] = []
    read = 0
    planned = sum(t.nbytes for t in tensors if t.location is not None)
    if budget_bytes is not None:
        planned = min(planned, budget_bytes)
    with ExitStack() as stack:
        opener = _Opener(stack)
        for t in tensors:
            if t.location is None:
                skipped.append(f"{t.name}: no data in the checkpoint")
                continue
            if t.dtype not in _NUMPY:
                skipped.append(f"{t.name}: dtype {t.dtype} not decoded")
                continue
            cost = t.nbytes if t.location.strides is None else extent(t.shape, t.location.strides) * ITEMSIZE[t.dtype]
            if t.location.strides is not None and cost > MAX_STRIDED_BYTES:
                skipped.append(f"{t.name}: a strided view over {cost:,} bytes")
                continue
            if budget_bytes is not None and read + cost > budget_bytes:
                skipped.append(f"{t.name}: past the scan budget of {budget_bytes:,} bytes")
                continue
            try:
                results[t.name] = scan_tensor(t, opener, t.name in digest_names, t.name in row_names)
            # NotImplementedError: unknown compression or zip version; RuntimeError: an encrypted member
            except (OSError, EOFError, zipfile.BadZipFile, ValueError, zlib.error, NotImplementedError,
                    RuntimeError) as exc:
                skipped.append(f"{t.name}: unreadable ({str(exc)[:100]})")
                continue
            read += cost
            if progress is not None:
                progress(read, planned)
    return results, skipped, read
