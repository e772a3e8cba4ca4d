"""``torch.distributed.checkpoint`` directories (what FSDP, torchtitan and DCP write), counted from ``.metadata``.

Layout: ``.metadata`` is a pickle of ``Metadata(state_dict_metadata={fqn: TensorStorageMetadata(
properties=TensorProperties(dtype, ...), size, chunks=[ChunkStorageMetadata(offsets, sizes)]) |
BytesStorageMetadata()}, storage_data={MetadataIndex(fqn, offset, index): _StorageInfo(relative_path,
offset, length)})``; each ``__<rank>_<n>.distcp`` file holds the items at those byte ranges, a tensor
chunk being a small ``torch.save`` zip archive of its own.

``.metadata`` goes through the same restricted unpickler as every checkpoint (its classes answered with
inert stand-ins, their fields read), so every tensor's shape and dtype is known without a byte of the
``.distcp`` files: counting reads none. Only the value scan asks where a tensor's bytes are
(:func:`locate`): it reads that chunk's own zip directory inside the ``.distcp`` file, and the scanner
then streams the tensor's bytes from there, one tensor at a time.
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import InputError
from ..pickle_standins import Instance, fields_of
from ..safe_pickle import restricted_loads
from ..untrusted import short_text
from .tensors import ITEMSIZE, Location, TensorInfo, contiguous_strides, valid_shape
from .torch_reader import (
    MAX_PICKLE_BYTES,
    TORCH_GLOBALS,
    PickledCheckpoint,
    StorageRef,
    TensorRef,
    _DType,
    _storage_from_pid,
)

MAX_CHUNK_ZIP_DIRECTORY = 1 << 20
_HINT = "A torch.distributed.checkpoint directory holds .metadata and __<rank>_<n>.distcp files."


def _field(obj: Any, name: str) -> Any:
    return fields_of(obj).get(name) if isinstance(obj, Instance) else None


def _dtype(properties: Any) -> str | None:
    """TensorProperties pickles its state as a tuple ``(dtype, layout, requires_grad, memory_format, pin)``."""
    if not isinstance(properties, Instance):
        return None
    state = properties.state
    if isinstance(state, tuple) and state and isinstance(state[0], _DType):
        return str(state[0])
    dtype = fields_of(properties).get("dtype")
    return str(dtype) if isinstance(dtype, _DType) else None


def read_dcp(metadata_path: Path) -> PickledCheckpoint:
    """The object tree of a DCP checkpoint, rebuilt from ``.metadata`` (nested by the first FQN segment so
    the usual unwrapping finds ``model`` / ``optim``); tensors carry shape and dtype, no bytes."""
    stood_in: Counter[str] = Counter()
    with metadata_path.open("rb") as fh:
        meta = restricted_loads(fh, allowed=TORCH_GLOBALS, max_bytes=MAX_PICKLE_BYTES, stand_ins=stood_in)
    tensors_meta = _field(meta, "state_dict_metadata")
    if not isinstance(tensors_meta, dict):
        raise InputError(f"{metadata_path} is not a torch.distributed.checkpoint Metadata pickle "
                         "(no state_dict_metadata).", hint=_HINT)
    storage: dict[str, list[tuple[Any, str, int, int]]] = {}
    for index, info in (_field(meta, "storage_data") or {}).items():
        fqn = _field(index, "fqn")
        rel, offset, length = (_field(info, k) for k in ("relative_path", "offset", "length"))
        if (isinstance(fqn, str) and isinstance(rel, str) and isinstance(offset, int) and isinstance(length, int)
                and Path(rel).name == rel and offset >= 0 and length >= 0):
            storage.setdefault(fqn, []).append((_field(index, "offset"), rel, offset, length))
    tree: dict[str, Any] = {}
    warnings: list[str] = []
    for fqn, entry in tensors_meta.items():
        if not isinstance(fqn, str) or not isinstance(entry, Instance):
            continue
        fields = fields_of(entry)
        shape = valid_shape(fields.get("size"))
        dtype = _dtype(fields.get("properties"))
        if "size" not in fields:  # BytesStorageMetadata: a pickled non-tensor value (step, param_groups)
            _nest(tree, fqn, None)
            continue
        if shape is None or dtype is None:
            warnings.append(f"{short_text(fqn, 100)}: no readable shape or dtype in .metadata; not counted.")
            continue
        chunks = fields.get("chunks")
        n_chunks = len(chunks) if isinstance(chunks, list) else 0
        ref = TensorRef(StorageRef(fqn, dtype, 0, f"dcp:{n_chunks}"), 0, shape, contiguous_strides(shape), dtype)
        _nest(tree, fqn, ref)
    directory = metadata_path.parent

    by_name: dict[str, str] = {}  # reported name (prefixes stripped) -> the FQN .metadata knows it by

    def resolve(name: str, ref: TensorRef) -> TensorInfo:
        by_name[name] = ref.storage.key
        return TensorInfo(name=name, dtype=ref.dtype, shape=ref.shape)

    def locate(t: TensorInfo, inside: Callable[[Path], Path | None]) -> TensorInfo:
        fqn = by_name.get(t.name, t.name)
        return _locate(directory, t, storage.get(fqn, []), inside)

    return PickledCheckpoint(tree, "torch_dcp", [str(metadata_path)], resolve, warnings, stood_in, locate)


def _nest(tree: dict[str, Any], fqn: str, value: Any) -> None:
    head, _, rest = fqn.partition(".")
    if not rest:
        tree[head] = value
        return
    sub = tree.setdefault(head, {})
    if isinstance(sub, dict):
        sub[rest] = value


class _Slice(io.RawIOBase):
    """A read-only window ``[start, start + length)`` of a file: one chunk's zip archive inside a .distcp."""

    def __init__(self, fh: BinaryIO, start: int, length: int) -> None:
        self._fh, self._start, self._length, self._pos = fh, start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._length}[whence]
        self._pos = min(max(base + pos, 0), self._length)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        n = self._length - self._pos if n is None or n < 0 else min(n, self._length - self._pos)
        self._fh.seek(self._start + self._pos)
        data = self._fh.read(n)
        self._pos += len(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _locate(directory: Path, t: TensorInfo, chunks: list[tuple[Any, str, int, int]],
            inside: Callable[[Path], Path | None]) -> TensorInfo:
    """``t`` with the location of its bytes: the one chunk's tensor member inside its .distcp file (stored
    uncompressed, as torch.save writes), or unchanged when it is sharded into chunks, unreadable, or its
    file resolves outside the roots (``inside`` returns None; checked before the file is opened)."""
    if len(chunks) != 1 or t.dtype not in ITEMSIZE:
        return t
    _, rel, offset, length = chunks[0]
    path = inside(directory / rel)
    if path is None:
        return t
    try:
        with path.open("rb") as fh:
            if offset + length > path.stat().st_size:
                return t
            zf = zipfile.ZipFile(_Slice(fh, offset, length))  # reads the chunk's central directory only
            names = zf.namelist()
            pkl = next((n for n in names if n.endswith("data.pkl")), None)
            if pkl is None or zf.getinfo(pkl).file_size > MAX_CHUNK_ZIP_DIRECTORY:
                return t
            storages: dict[str, StorageRef] = {}
            ref = restricted_loads(zf.read(pkl), allowed=TORCH_GLOBALS, max_bytes=MAX_CHUNK_ZIP_DIRECTORY,
                                   persistent_load=lambda pid: _storage_from_pid(pid, storages),
                                   stand_ins=Counter())
            if not isinstance(ref, TensorRef) or ref.shape != t.shape or ref.strides != contiguous_strides(t.shape):
                return t
            member = zf.getinfo(pkl[: -len("data.pkl")] + f"data/{ref.storage.key}")
            if member.compress_type != zipfile.ZIP_STORED:
                return t
            fh.seek(offset + member.header_offset)
            header = fh.read(30)
            if len(header) < 30 or header[:4] != b"PK\x03\x04":
                return t
            data_start = member.header_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(
                header[28:30], "little")
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, EOFError, InputError, NotImplementedError):
        return t
    start = data_start + ref.offset * ITEMSIZE[t.dtype]
    if start + t.nbytes > length:
        return t
    loc = Location(file=str(path), member=None, offset=offset + start, span=length - start,
                   storage_id=f"{path}!{offset}")
    return TensorInfo(name=t.name, dtype=t.dtype, shape=t.shape, location=loc)
