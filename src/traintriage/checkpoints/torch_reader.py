"""PyTorch checkpoints (``torch.save``) read without torch and without running the pickle.

Two layouts exist:

* zip (default since 1.6): ``<archive>/data.pkl`` holds the object tree; each tensor is a call to
  ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` whose storage is a
  persistent id ``('storage', torch.FloatStorage, key, location, numel)`` naming the member
  ``<archive>/data/<key>``, raw little-endian bytes (``<archive>/byteorder`` says otherwise).
* legacy (``_use_new_zipfile_serialization=False``): pickles in a row (magic number, protocol,
  system info, the object tree, the list of storage keys) followed by each storage as an 8-byte
  element count and its bytes.

The pickle is loaded with :func:`traintriage.safe_pickle.restricted_loads`, which knows the
tensor-rebuild globals below, each mapped to a stand-in that records dtype, shape and where the
bytes are (:class:`TensorRef`). Any other global (``argparse.Namespace``, a user's config class,
``transformers.TrainingArguments``) becomes an inert stand-in recorded by name (numpy values are
decoded from their bytes), so a training checkpoint is read whole; a global only an attack names
(``posix.system``, ``builtins.eval``) stops the read with ``UnsafeArtifactError`` before anything is
imported or called. ``torch.load`` is never used.
"""

from __future__ import annotations

import zipfile
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..safe_pickle import PLAIN_DATA_GLOBALS, restricted_loads
from ..untrusted import short_repr, short_text
from .tensors import ITEMSIZE, Location, TensorInfo, contiguous_strides, extent, valid_shape

MAX_PICKLE_BYTES = 256 * 1024 * 1024
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PREFIX = b"\x80\x02\x8a\x0a" + LEGACY_MAGIC.to_bytes(10, "little")


@dataclass(frozen=True, slots=True)
class StorageType:
    """Stand-in for ``torch.FloatStorage`` & co.: only the element dtype (None: untyped bytes)."""

    dtype: str | None


@dataclass(frozen=True, slots=True)
class StorageRef:
    """A storage named by a persistent id: its key in the archive, dtype and size in elements."""

    key: str
    dtype: str | None
    numel: int
    location: str
    view_offset: int = 0  # legacy view storages start inside their root storage


@dataclass(frozen=True, slots=True)
class TensorRef:
    """Stand-in for a tensor: no data, just where its bytes are and how to read them."""

    storage: StorageRef
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    dtype: str
    parameter: bool = False


_STORAGE_DTYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16",
    "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "QInt8Storage": "qint8", "QUInt8Storage": "quint8",
    "QInt32Storage": "qint32",
}
_TORCH_DTYPES = {
    "float64": "float64", "double": "float64", "float32": "float32", "float": "float32", "float16": "float16",
    "half": "float16", "bfloat16": "bfloat16", "int64": "int64", "long": "int64", "int32": "int32",
    "int": "int32", "int16": "int16", "short": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
    "uint16": "uint16", "uint32": "uint32", "uint64": "uint64", "complex64": "complex64",
    "cfloat": "complex64", "complex128": "complex128", "cdouble": "complex128", "complex32": "complex32",
    "float8_e4m3fn": "float8_e4m3fn", "float8_e5m2": "float8_e5m2", "float8_e4m3fnuz": "float8_e4m3fnuz",
    "float8_e5m2fnuz": "float8_e5m2fnuz", "qint8": "qint8", "quint8": "quint8", "qint32": "qint32",
}


class _DType(str):
    """Stand-in for ``torch.float32`` & co.: the canonical dtype name."""


def _ints(value: Any, what: str) -> tuple[int, ...]:
    shape = valid_shape(value)
    if shape is None:
        raise InputError(f"a tensor record has a bad {what}: {short_repr(value)}.", hint="The checkpoint is corrupt.")
    return shape


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, *rest: Any) -> TensorRef:
    if not isinstance(storage, StorageRef) or storage.dtype is None:
        raise InputError("a tensor record points at no typed storage.", hint="The checkpoint is corrupt.")
    return _tensor(storage, storage_offset, size, stride, storage.dtype)


def _rebuild_tensor_v3(storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any = None,
                       backward_hooks: Any = None, dtype: Any = None, *rest: Any) -> TensorRef:
    if not isinstance(storage, StorageRef) or not isinstance(dtype, _DType):
        raise InputError("a tensor record (v3) lacks its storage or dtype.", hint="The checkpoint is corrupt.")
    return _tensor(storage, storage_offset, size, stride, str(dtype))


def _tensor(storage: StorageRef, storage_offset: Any, size: Any, stride: Any, dtype: str) -> TensorRef:
    if not isinstance(storage_offset, int) or storage_offset < 0:
        raise InputError(f"a tensor record has a bad storage offset {short_repr(storage_offset)}.",
                         hint="The checkpoint is corrupt.")
    shape = _ints(size, "size")
    strides = _ints(stride, "stride")
    if len(strides) != len(shape):
        raise InputError("a tensor record's stride does not match its size.", hint="The checkpoint is corrupt.")
    return TensorRef(storage, storage_offset + storage.view_offset, shape, strides, dtype)


def _rebuild_parameter(data: Any, *rest: Any) -> Any:
    return replace(data, parameter=True) if isinstance(data, TensorRef) else data


def _device(*args: Any) -> str:
    return ":".join(short_text(a, 20) for a in args[:4])[:40]


def _size(dims: Any = ()) -> tuple:
    return tuple(dims)


TORCH_GLOBALS: dict[tuple[str, str], Callable[..., Any]] = {
    **PLAIN_DATA_GLOBALS,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): _size,
    ("torch", "device"): _device,
    ("torch.storage", "UntypedStorage"): StorageType(None),  # type: ignore[dict-item]
    ("torch", "UntypedStorage"): StorageType(None),  # type: ignore[dict-item]
    **{("torch", name): StorageType(dt) for name, dt in _STORAGE_DTYPES.items()},  # type: ignore[dict-item]
    **{("torch.cuda", name): StorageType(dt) for name, dt in _STORAGE_DTYPES.items()},  # type: ignore[dict-item]
    **{("torch", name): _DType(dt) for name, dt in _TORCH_DTYPES.items()},  # type: ignore[dict-item]
}


@dataclass
class PickledCheckpoint:
    """The object tree of a torch checkpoint (tensors as :class:`TensorRef`) and how to locate bytes."""

    obj: Any
    format: str
    files: list[str]
    resolve: Callable[[str, TensorRef], TensorInfo]
    warnings: list[str] = field(default_factory=list)
    globals: Counter[str] = field(default_factory=Counter)  # globals answered with stand-ins, by name
    # Where bytes are found only on demand (DCP): locate(tensor, inside), inside confining files to the roots.
    locate: Callable[[TensorInfo, Callable[[Path], Path | None]], TensorInfo] | None = None


def storage_key(value: Any) -> str:
    """A storage key as torch writes it (a short string of digits; int keys are accepted), else InputError."""
    if isinstance(value, str) and len(value) <= 256:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() <= 64:
        return str(value)
    raise InputError(f"a storage key is not a short string: {short_repr(value)}.", hint="The checkpoint is corrupt.")


def _storage_from_pid(pid: Any, storages: dict[str, StorageRef]) -> StorageRef:
    if (not isinstance(pid, tuple) or len(pid) < 5 or pid[0] not in ("storage", b"storage")
            or not isinstance(pid[1], StorageType)):
        raise InputError(f"unexpected persistent id {short_repr(pid)} in the checkpoint's pickle.",
                         hint="The checkpoint is corrupt or not written by torch.save.")
    key, location, numel = storage_key(pid[2]), short_text(pid[3], 40), pid[4]
    if not isinstance(numel, int) or numel < 0:
        raise InputError(f"storage {key!r} has a bad size {short_repr(numel)}.", hint="The checkpoint is corrupt.")
    dtype = pid[1].dtype
    view_offset = 0
    if len(pid) > 5 and isinstance(pid[5], tuple) and len(pid[5]) == 3 and isinstance(pid[5][1], int):
        view_offset = max(int(pid[5][1]), 0)  # legacy (view_key, offset, size)
    ref = StorageRef(key, dtype, numel, location, view_offset)
    storages.setdefault(key, ref)
    return ref


def _location(tensor: TensorRef, file: str, member: str | None, base: int, available: int,
              big_endian: bool) -> Location | None:
    """Where ``tensor``'s bytes are, if the storage holds all of them (else None: count, do not scan)."""
    itemsize = ITEMSIZE.get(tensor.dtype)
    if not itemsize:
        return None
    start = tensor.offset * itemsize
    needed = extent(tensor.shape, tensor.strides) * itemsize
    if start + needed > available:
        return None
    strides = None if tensor.strides == contiguous_strides(tensor.shape) or needed == 0 else tensor.strides
    return Location(file=file, member=member, offset=base + start, span=available - start,
                    storage_id=f"{file}!{member or ''}!{tensor.storage.key}", strides=strides,
                    big_endian=big_endian)


def _resolver(kind: str, path: Path, where: Callable[[str], tuple[str | None, int, int] | None],
              big_endian: bool, warnings: list[str]) -> Callable[[str, TensorRef], TensorInfo]:
    def resolve(name: str, ref: TensorRef) -> TensorInfo:
        found = where(ref.storage.key)
        loc = None
        if found is None:
            warnings.append(f"{name}: storage {ref.storage.key!r} is missing from the {kind}; counted, not scanned.")
        else:
            member, base, available = found
            loc = _location(ref, str(path), member, base, available, big_endian)
            if loc is None:
                warnings.append(f"{name}: its bytes run past the end of storage {ref.storage.key!r}; "
                                "counted, not scanned.")
        return TensorInfo(name=name, dtype=ref.dtype, shape=ref.shape, location=loc)

    return resolve


def read_torch_zip(path: Path) -> PickledCheckpoint:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise InputError(f"{path.name}: not a readable zip archive ({exc}).",
                         hint="A torch checkpoint (zip format) is truncated or corrupt; save or copy it again.",
                         ) from None
    with zf:
        names = zf.namelist()
        pickles = sorted((n for n in names if n == "data.pkl" or n.endswith("/data.pkl")), key=len)
        if not pickles:
            raise InputError(f"{path.name}: a zip archive without data.pkl, so not a torch checkpoint.",
                             hint="Members: " + ", ".join(names[:8]))
        pkl = pickles[0]
        prefix = pkl[: -len("data.pkl")]
        info = zf.getinfo(pkl)
        if info.file_size > MAX_PICKLE_BYTES:
            raise InputError(f"{path.name}: data.pkl unpacks to {info.file_size:,} bytes "
                             f"(limit {MAX_PICKLE_BYTES:,}).", hint="The archive is corrupt or crafted.")
        try:
            data = zf.read(pkl)
            big_endian = prefix + "byteorder" in names and zf.read(prefix + "byteorder").strip() == b"big"
        # NotImplementedError: an unknown compression method or zip version; RuntimeError: an encrypted member;
        # ValueError: a member name that is not the UTF-8 its flag claims.
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError,
                ValueError) as exc:
            raise InputError(f"{path.name}: the archive's data.pkl cannot be read ({str(exc)[:200]}).",
                             hint="The checkpoint is truncated or corrupt.") from None
        storages: dict[str, StorageRef] = {}
        stood_in: Counter[str] = Counter()
        obj = restricted_loads(data, allowed=TORCH_GLOBALS,
                               persistent_load=lambda pid: _storage_from_pid(pid, storages),
                               max_bytes=MAX_PICKLE_BYTES, stand_ins=stood_in)
        members = {n: zf.getinfo(n) for n in names if n.startswith(prefix + "data/")}

    def where(key: str) -> tuple[str | None, int, int] | None:
        member = f"{prefix}data/{key}"
        zinfo = members.get(member)
        return None if zinfo is None else (member, 0, zinfo.file_size)

    warnings: list[str] = []
    if len(pickles) > 1:
        warnings.append(f"{path.name}: {len(pickles)} data.pkl members; read {pkl}.")
    return PickledCheckpoint(obj, "torch_zip", [str(path)], _resolver("archive", path, where, big_endian, warnings),
                             warnings, stood_in)


def read_torch_legacy(path: Path) -> PickledCheckpoint:
    size = path.stat().st_size
    storages: dict[str, StorageRef] = {}
    with path.open("rb") as fh:
        magic = restricted_loads(fh, max_bytes=64)
        if magic != LEGACY_MAGIC:
            raise InputError(f"{path.name}: a pickle, but not a torch checkpoint (no torch magic number).",
                             hint="traintriage reads torch.save checkpoints, safetensors and HF config.json.")
        restricted_loads(fh, max_bytes=64)  # protocol version
        sys_info = restricted_loads(fh, max_bytes=1 << 16)
        big_endian = isinstance(sys_info, dict) and sys_info.get("little_endian") is False
        names: Counter[str] = Counter()
        obj = restricted_loads(fh, allowed=TORCH_GLOBALS,
                               persistent_load=lambda pid: _storage_from_pid(pid, storages),
                               max_bytes=MAX_PICKLE_BYTES, stand_ins=names)
        keys = restricted_loads(fh, max_bytes=MAX_PICKLE_BYTES)
        if not isinstance(keys, list):
            raise InputError(f"{path.name}: the legacy storage index is not a list.", hint="The file is corrupt.")
        warnings: list[str] = []
        spans: dict[str, tuple[str | None, int, int]] = {}
        pos = fh.tell()
        for key in keys:
            key = storage_key(key)
            ref = storages.get(key)
            itemsize = ITEMSIZE.get(ref.dtype or "uint8", 1) if ref else 1
            fh.seek(pos)
            head = fh.read(8)
            count = int.from_bytes(head, "little", signed=True) if len(head) == 8 else -1
            nbytes = count * itemsize
            if count < 0 or pos + 8 + nbytes > size:
                warnings.append(f"{path.name}: storage data is truncated at storage {key!r}; "
                                "tensors from there on are counted, not scanned.")
                break
            spans[key] = (None, pos + 8, nbytes)
            pos += 8 + nbytes

    def where(key: str) -> tuple[str | None, int, int] | None:
        return spans.get(key)

    return PickledCheckpoint(obj, "torch_legacy", [str(path)],
                             _resolver("file", path, where, big_endian, warnings), warnings, names)


def read_plain_pickle(path: Path) -> PickledCheckpoint:
    """A pickle that is not a torch checkpoint: read with the same allowlist, so unsafe globals are named."""
    names: Counter[str] = Counter()
    with path.open("rb") as fh:
        obj = restricted_loads(fh, allowed=TORCH_GLOBALS, max_bytes=MAX_PICKLE_BYTES, stand_ins=names)

    def resolve(name: str, ref: TensorRef) -> TensorInfo:
        return TensorInfo(name=name, dtype=ref.dtype, shape=ref.shape)

    return PickledCheckpoint(obj, "pickle", [str(path)], resolve, globals=names)


__all__ = ["TORCH_GLOBALS", "OrderedDict", "PickledCheckpoint", "StorageRef", "TensorRef",
           "read_plain_pickle", "read_torch_legacy", "read_torch_zip"]
