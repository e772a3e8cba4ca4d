"""What a reader produces: one :class:`TensorInfo` per named tensor, and where its bytes live.

Readers (safetensors, torch zip, legacy torch, HF config) only describe tensors; counting,
grouping and value scans work on these records, so every format gets the same analysis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Canonical dtype name -> bytes per element. Names follow torch (``bfloat16``, ``float8_e4m3fn``).
ITEMSIZE: dict[str, int] = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2,
    "float8_e4m3fn": 1, "float8_e5m2": 1, "float8_e4m3fnuz": 1, "float8_e5m2fnuz": 1,
    "complex128": 16, "complex64": 8, "complex32": 4,
    "int64": 8, "int32": 4, "int16": 2, "int8": 1,
    "uint64": 8, "uint32": 4, "uint16": 2, "uint8": 1, "bool": 1,
    "qint8": 1, "quint8": 1, "qint32": 4,
}
FLOAT_DTYPES = frozenset(
    {"float64", "float32", "float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
     "float8_e5m2fnuz", "complex128", "complex64", "complex32"}
)

MAX_NDIM = 64


@dataclass(frozen=True, slots=True)
class Location:
    """Where a tensor's bytes are: a file (or a member of a zip file), a byte offset and a layout.

    ``strides`` is None for a contiguous tensor; otherwise element strides from ``offset``.
    ``storage_id`` identifies the underlying storage, so two names on one storage are one tensor.
    ``span`` is the number of bytes available from ``offset`` (the storage's remainder).
    """

    file: str
    member: str | None
    offset: int
    span: int
    storage_id: str
    strides: tuple[int, ...] | None = None
    big_endian: bool = False


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One named tensor as a checkpoint describes it. ``location`` is None when there are no bytes
    (an analytic count from a config)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    location: Location | None = None
    tied_to: str | None = field(default=None)  # set by the HF config estimator: known tying

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * ITEMSIZE.get(self.dtype, 0)

    @property
    def identity(self) -> tuple | None:
        """Same identity = same bytes (shared storage, same view): the tensor is stored once."""
        loc = self.location
        if loc is None:
            return None
        return (loc.file, loc.member, loc.storage_id, loc.offset, self.dtype, self.shape, loc.strides)


def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides = []
    acc = 1
    for dim in reversed(shape):
        strides.append(acc)
        acc *= max(dim, 1)
    return tuple(reversed(strides))


def extent(shape: tuple[int, ...], strides: tuple[int, ...]) -> int:
    """Elements from the first to one past the last element a strided view touches."""
    if any(d == 0 for d in shape):
        return 0
    return 1 + sum((d - 1) * abs(s) for d, s in zip(shape, strides, strict=True))


MAX_NUMEL = (1 << 63) - 1
"""No tensor holds more elements than an int64 counts; a larger shape is crafted or corrupt (and its
counts would overflow the float arithmetic of the analysis)."""


def valid_shape(shape: object) -> tuple[int, ...] | None:
    """The shape as a tuple of non-negative ints with at most :data:`MAX_NUMEL` elements, or None if it is
    not one (crafted or corrupt input)."""
    if not isinstance(shape, list | tuple) or len(shape) > MAX_NDIM:
        return None
    if not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= MAX_NUMEL for d in shape):
        return None
    dims = tuple(int(d) for d in shape)
    return dims if math.prod(dims) <= MAX_NUMEL else None
