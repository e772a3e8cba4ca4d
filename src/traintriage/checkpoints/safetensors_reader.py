"""safetensors: counts from the JSON header alone, so a 7B model is read in milliseconds.

Layout: 8-byte little-endian header length N, N bytes of JSON
(``{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {...}}``),
then the raw data. Only the header is read here; the scanner streams the data later if asked.
Every field is checked against the file size, because a header is untrusted input.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..untrusted import json_error, json_loads, short_repr
from .tensors import ITEMSIZE, Location, TensorInfo, valid_shape

# safetensors' own reader refuses headers over 100 MB; so do we.
MAX_HEADER_BYTES = 100 * 1024 * 1024

DTYPES: dict[str, str] = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
    "C64": "complex64", "C128": "complex128",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8",
    "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool",
}


def is_safetensors(head: bytes) -> bool:
    """A safetensors start: 8 bytes of header length, then a JSON object."""
    return head[8:9] == b"{"


def read_header(path: Path) -> tuple[dict[str, Any], dict[str, str], int]:
    """The parsed header (tensor entries), the ``__metadata__`` and the data section's start offset."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        prefix = fh.read(8)
        if len(prefix) < 8:
            raise InputError(
                f"{path.name}: {size} bytes, too short for a safetensors header length (8 bytes).",
                hint="The file is truncated; copy or download it again.",
            )
        n = int.from_bytes(prefix, "little")
        if n > MAX_HEADER_BYTES:
            raise InputError(
                f"{path.name}: the safetensors header claims {n:,} bytes (limit {MAX_HEADER_BYTES:,}); "
                f"the file has {size:,}.",
                hint="The file is corrupt or not safetensors.",
            )
        if 8 + n > size:
            raise InputError(
                f"{path.name}: the safetensors header claims {n:,} bytes but the file ends after {size - 8:,}.",
                hint="The file is truncated; copy or download it again.",
            )
        raw = fh.read(n)
    try:
        header = json_loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: bad syntax, too deep, a 5000-digit number
        raise InputError(
            f"{path.name}: the safetensors header is not readable JSON ({json_error(exc)[:120]}).",
            hint="The file is corrupt or truncated.",
        ) from None
    if not isinstance(header, dict):
        raise InputError(f"{path.name}: the safetensors header is not a JSON object.", hint="The file is corrupt.")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        metadata = {}
    return header, {str(k): str(v)[:500] for k, v in list(metadata.items())[:100]}, 8 + n


def read_safetensors(path: Path) -> tuple[list[TensorInfo], dict[str, str], list[str]]:
    """Tensors described by one safetensors file, its metadata, and warnings about bad entries."""
    header, metadata, data_start = read_header(path)
    data_len = path.stat().st_size - data_start
    tensors: list[TensorInfo] = []
    warnings: list[str] = []
    for name, entry in header.items():
        problem = None
        if not isinstance(entry, dict):
            problem = "entry is not an object"
        else:
            dtype = DTYPES.get(str(entry.get("dtype")))
            shape = valid_shape(entry.get("shape"))
            offsets = entry.get("data_offsets")
            if dtype is None:
                problem = f"unknown dtype {short_repr(entry.get('dtype'))}"
            elif shape is None:
                problem = f"bad shape {short_repr(entry.get('shape'), 160)}"
            elif (not isinstance(offsets, list) or len(offsets) != 2
                  or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
                problem = "bad data_offsets"
            else:
                begin, end = offsets
                expected = math.prod(shape) * ITEMSIZE[dtype]
                if not 0 <= begin <= end <= data_len:
                    problem = f"data_offsets {offsets} fall outside the {data_len:,}-byte data section"
                elif end - begin != expected:
                    problem = (f"data_offsets span {end - begin:,} bytes, shape {list(shape)} x {dtype} "
                               f"needs {expected:,}")
        if problem:
            warnings.append(f"{path.name}: tensor {name!r} skipped: {problem}.")
            continue
        tensors.append(
            TensorInfo(
                name=str(name),
                dtype=dtype,
                shape=shape,
                location=Location(
                    file=str(path), member=None, offset=data_start + begin, span=end - begin,
                    storage_id=f"{path}:{begin}",
                ),
            )
        )
    if header and not tensors:
        raise InputError(f"{path.name}: no readable tensor in the safetensors header.",
                         hint="; ".join(warnings[:3]) or "The file is corrupt.")
    return tensors, metadata, warnings
