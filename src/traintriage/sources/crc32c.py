"""CRC32C (Castagnoli) for TFRecord framing, fast without any compiled extension.

TFRecord stores ``masked_crc32c`` of every record's length and of its data. Checking a million
small records one call at a time costs as much as decoding them, so this module offers two shapes:

* :func:`crc32c` for one buffer (the slow path: rare layouts, big graph/image records). It uses the
  ``crc32c`` PyPI package when it is installed (optional, C-backed); otherwise a table walk in
  Python for short buffers and, for long ones, numpy over 256-byte rows combined by Horner's rule.
* :func:`crc32c_rows` for many same-length records at once (the fast path). CRC is affine over
  GF(2): ``crc(x) = crc(x with the varying bytes zeroed) ^ XOR_j L_j[x_j]`` where ``L_j`` is a
  256-entry table of the contribution of a byte at distance ``j`` from the end. Records of one
  layout differ only in a dozen bytes (wall time, step, value), so checking them costs two numpy
  operations per *varying* column, not per byte; the constant bytes are folded in by one
  :func:`crc32c` call. This makes CRC checking nearly free, which is why the default does not
  need the C package.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

try:  # Optional C implementation; only used for single buffers, where it beats the Python walk.
    from crc32c import crc32c as _native_crc32c  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the environment
    _native_crc32c = None

_POLY = 0x82F63B78  # reflected Castagnoli polynomial
_MASK_DELTA = 0xA282EAD8


def _make_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()
_TABLE_NP = np.array(_TABLE, dtype=np.uint32)
_ROW = 256  # row width of the numpy path for long buffers


def _py_update(reg: int, data: bytes | memoryview) -> int:
    """Advance the raw CRC register over ``data`` (no pre/post inversion)."""
    table = _TABLE
    for b in data:
        reg = table[(reg ^ b) & 0xFF] ^ (reg >> 8)
    return reg


@lru_cache(maxsize=1)
def _shift_tables() -> tuple[list[int], list[int], list[int], list[int]]:
    """Tables applying ``_ROW`` zero bytes to a register, one per register byte (linear map)."""
    vals = np.concatenate([np.arange(256, dtype=np.uint32) << np.uint32(8 * q) for q in range(4)])
    for _ in range(_ROW):
        vals = _TABLE_NP[vals & 0xFF] ^ (vals >> np.uint32(8))
    v = vals.tolist()
    return v[0:256], v[256:512], v[512:768], v[768:1024]


def _rows_raw(rows: np.ndarray) -> np.ndarray:
    """Raw CRC register (start 0, no inversion) of every row of a 2-D uint8 array, column by column."""
    reg = np.zeros(rows.shape[0], dtype=np.uint32)
    eight = np.uint32(8)
    for j in range(rows.shape[1]):
        reg = _TABLE_NP[(reg ^ rows[:, j]) & 0xFF] ^ (reg >> eight)
    return reg


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """Standard CRC32C of one buffer."""
    if _native_crc32c is not None:
        return int(_native_crc32c(data))
    n = len(data)
    if n < 2048:
        return _py_update(0xFFFFFFFF, data) ^ 0xFFFFFFFF
    k = n // _ROW
    arr = np.frombuffer(data, dtype=np.uint8, count=k * _ROW).reshape(k, _ROW)
    # Transposed copy so that each column step reads contiguous memory.
    raw = _rows_raw(np.ascontiguousarray(arr.T).T).tolist()
    s0, s1, s2, s3 = _shift_tables()
    reg = 0xFFFFFFFF
    for r in raw:  # register after a row = (register before, shifted by the row) ^ raw CRC of the row
        reg = s0[reg & 0xFF] ^ s1[(reg >> 8) & 0xFF] ^ s2[(reg >> 16) & 0xFF] ^ s3[reg >> 24] ^ r
    reg = _py_update(reg, memoryview(data)[k * _ROW :])
    return reg ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    """TFRecord's masking of a CRC (so that CRCs of CRCs do not look valid)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    return mask(crc32c(data))


def mask_array(crc: np.ndarray) -> np.ndarray:
    """:func:`mask` over a uint32 array (wrapping arithmetic)."""
    crc = crc.astype(np.uint32, copy=False)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(_MASK_DELTA)


@lru_cache(maxsize=64)
def _position_tables(length: int) -> np.ndarray:
    """``(length, 256)`` table: row ``d`` is the raw-CRC contribution of a byte followed by ``d`` zeros."""
    out = np.empty((length, 256), dtype=np.uint32)
    cur = _TABLE_NP.copy()
    eight = np.uint32(8)
    for d in range(length):
        out[d] = cur
        cur = _TABLE_NP[cur & 0xFF] ^ (cur >> eight)
    return out


_LINEAR_MAX_LEN = 4096


def crc32c_rows(rows: np.ndarray, varying: np.ndarray | None = None) -> np.ndarray:
    """Standard CRC32C of every row of a 2-D uint8 array (all rows the same length), as uint32.

    ``varying``: indices of the columns whose bytes are not the same in every row, when the caller
    already knows them (computed here otherwise).
    """
    n, length = rows.shape
    if n == 0:
        return np.zeros(0, dtype=np.uint32)
    if length > _LINEAR_MAX_LEN or n == 1:
        return np.array([crc32c(r.tobytes()) for r in rows], dtype=np.uint32)
    if varying is None:
        varying = np.flatnonzero(np.bitwise_or.reduce(rows ^ rows[0], axis=0))
    base_row = rows[0].copy()
    base_row[varying] = 0
    result = np.full(n, crc32c(base_row.tobytes()), dtype=np.uint32)
    if varying.size:
        tables = _position_tables(length)
        for j in varying.tolist():
            result ^= tables[length - 1 - j][rows[:, j]]
    return result
