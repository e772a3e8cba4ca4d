"""A restricted unpickler: read data out of a pickle without ever running anything in it.

Why: checkpoints (``torch.save``) and memory snapshots are pickles, and ``pickle.load`` /
``torch.load`` will import and call any global the file names (``os.system`` included). We only
ever need *data* from them, so :func:`restricted_loads` resolves a global only when the caller
maps it to a harmless stand-in of its own; any other global stops the load with
:class:`~traintriage.errors.UnsafeArtifactError` naming it, before anything is imported or called.

How it stays safe:

* ``find_class`` never imports: the only callables an opcode can reach are the values of
  ``allowed`` (plus the plain containers the pickle opcodes build themselves: dict, list, tuple,
  str, bytes, numbers, bool, None). Extension codes (``copyreg``'s EXT1/2/4) are refused, since
  they bypass the global name.
* It runs on the pure-Python unpickler, whose memo is a dict: the C unpickler sizes its memo from
  an index in the stream, so ten bytes (``LONG_BINPUT 0x7fffffff``) can make it allocate tens of GB.
* ``max_bytes`` caps how much of the input the pickle may consume, so a crafted length field
  (``BINBYTES8`` of 2**60) or a huge file cannot exhaust memory. Nothing is allocated from a length
  field: reads grow with the bytes actually there, and ``BYTEARRAY8`` (whose stock implementation
  allocates and zeroes the declared length before reading: 4 GB for a 43-byte pickle) reads first.
* ``BUILD`` (set an object's state: ``__setstate__``, ``__dict__``, ``setattr``) is accepted only on
  an ``OrderedDict`` (a state dict's ``_metadata``), the one target real checkpoints use. On anything
  else it would let the file rewrite objects this process keeps: the stand-ins in ``allowed`` are
  shared by every later load (``BUILD`` onto ``torch.FloatStorage``'s stand-in made every later
  checkpoint's float32 storages int8; onto a stand-in function, its ``__defaults__``), and a tensor
  record's fields are trusted once built.

Usage::

    from traintriage.safe_pickle import restricted_loads, PLAIN_DATA_GLOBALS

    restricted_loads(data)                                # plain data only: dict/list/str/numbers
    restricted_loads(data, allowed=PLAIN_DATA_GLOBALS)    # + OrderedDict, set, frozenset, ...
    restricted_loads(fh, allowed={("torch", "Size"): tuple}, persistent_load=my_lookup)

Every value of ``allowed`` must itself be harmless for any arguments (it is called with whatever
the pickle passes); ``persistent_load`` receives the persistent id (any plain value) and returns
what the pickle should see in its place.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO, ClassVar

from .errors import InputError, UnsafeArtifactError
from .untrusted import short_repr

__all__ = ["DEFAULT_MAX_BYTES", "PLAIN_DATA_GLOBALS", "restricted_loads"]

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB of pickle stream


def _latin1_encode(text: Any, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for ``bytes`` (``encode(str, 'latin1')``), nothing more."""
    if not isinstance(text, str) or not isinstance(encoding, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafeArtifactError(
            f"the pickle calls _codecs.encode({type(text).__name__}, {short_repr(encoding, 40)}); only latin1 "
            "text is allowed.",
            hint="Nothing in the file was run. Protocol-2 pickles encode bytes as latin1 text; this file is "
            "corrupt or crafted.",
        )
    return text.encode("latin1")


def _bytearray(source: Any = b"") -> bytearray:
    """``bytearray`` as pickles call it (from bytes; from the result of ``_codecs.encode``), never from a size:
    ``bytearray(2**36)`` would allocate and zero 64 GiB for a twenty-byte pickle."""
    if not isinstance(source, bytes | bytearray):
        raise UnsafeArtifactError(
            f"the pickle calls bytearray({type(source).__name__}); only bytes are allowed.",
            hint="Nothing in the file was run. Pickled bytearrays are built from bytes; this file is corrupt or "
            "crafted (bytearray of a number allocates that many bytes).",
        )
    return bytearray(source)


#: Globals that only build plain data, for pickles written with protocol 2 (``torch.save``'s default)
#: or that hold ordered dicts and sets. Pass it (or a dict built from it) as ``allowed``.
PLAIN_DATA_GLOBALS: Mapping[tuple[str, str], Callable[..., Any]] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "bytearray"): _bytearray,
    ("builtins", "slice"): slice,
    ("_codecs", "encode"): _latin1_encode,
    # Protocols 0-2 written with fix_imports=True (the default) spell builtins the Python 2 way.
    ("__builtin__", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("__builtin__", "complex"): complex,
    ("__builtin__", "bytearray"): _bytearray,
    ("__builtin__", "slice"): slice,
}


_READ_PIECE = 1 << 20


class _BoundedReader(io.RawIOBase):
    """A read-only view of a binary file that refuses to hand out more than ``limit`` bytes in total."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self._raw = raw
        self._left = limit
        self._limit = limit

    def readable(self) -> bool:
        return True

    def _take(self, n: int) -> int:
        if n > self._left:
            raise InputError(
                f"the pickle asks for more than {self._limit:,} bytes of input.",
                hint="The file is corrupt or crafted; a real checkpoint's pickle is far smaller.",
            )
        self._left -= n
        return n

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self._left  # 'everything' means everything we may still hand out
        self._take(n)
        # In pieces: a file object's read(n) allocates n bytes up front, whatever the file holds.
        pieces: list[bytes] = []
        got = 0
        while got < n:
            piece = self._raw.read(min(n - got, _READ_PIECE))
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
        self._left += n - got  # give back what the file did not have
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        # Protocol-0 opcodes end in a newline; no legitimate line is longer than 64 KiB.
        cap = 1 << 16 if size is None or size < 0 else min(size, 1 << 16)
        line = self._raw.readline(cap + 1)
        self._take(len(line))
        if len(line) > cap:
            raise InputError("the pickle holds a text line longer than 64 KiB.", hint="The file is corrupt or crafted.")
        return line


def _refuse_extension(self: Any) -> None:
    raise UnsafeArtifactError(
        "the pickle uses a copyreg extension code (EXT opcode), which names no global and is refused.",
        hint="Nothing in the file was run. Re-save the artifact with a plain pickle protocol.",
    )


def _load_bytearray8(self: Any) -> None:
    """BYTEARRAY8, reading the bytes before building the bytearray (never allocating the declared length)."""
    (n,) = struct.unpack("<Q", self.read(8))
    data = self.read(n)
    if len(data) < n:
        raise pickle.UnpicklingError(f"BYTEARRAY8 declares {n:,} bytes; the pickle has {len(data):,}")
    self.append(bytearray(data))


def _build_only_ordered_dicts(self: Any) -> None:
    inst = self.stack[-2] if len(self.stack) >= 2 else None
    if not isinstance(inst, OrderedDict):
        raise UnsafeArtifactError(
            f"the pickle sets the state of a {type(inst).__name__} object (BUILD opcode), which is refused: "
            "only an OrderedDict's state may be set.",
            hint="Nothing in the file was run. A torch.save checkpoint or a memory snapshot never needs this; "
            "the file is crafted or not one of those.",
        )
    pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]


class _RestrictedUnpickler(pickle._Unpickler):  # type: ignore[name-defined,misc]
    """Pure-Python unpickler whose global lookup is a dictionary lookup, nothing else."""

    dispatch: ClassVar[dict[int, Callable[..., Any]]] = {
        **pickle._Unpickler.dispatch,  # type: ignore[attr-defined]
        **{op[0]: _refuse_extension for op in (pickle.EXT1, pickle.EXT2, pickle.EXT4)},
        pickle.BUILD[0]: _build_only_ordered_dicts,
        pickle.BYTEARRAY8[0]: _load_bytearray8,
    }

    def __init__(
        self,
        file: Any,
        allowed: Mapping[tuple[str, str], Callable[..., Any]],
        persistent_load: Callable[[Any], Any] | None,
    ) -> None:
        super().__init__(file, fix_imports=False, encoding="latin1")
        self._allowed = allowed
        self._persistent = persistent_load

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except (KeyError, TypeError):
            pass
        raise UnsafeArtifactError(
            f"the pickle asks for the global `{str(module)[:100]}.{str(name)[:100]}`, which traintriage refuses to "
            "import; "
            "nothing in the file was run.",
            hint="Only plain data and tensor records are read. If the file is yours, re-save it as a "
            "state dict (torch.save(model.state_dict(), ...)) or as safetensors; if it is not, do not "
            "torch.load it.",
        )

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise InputError(
                "the pickle refers to external data (a persistent id), which this reader does not take.",
                hint="Open it with the reader for its format (e.g. a torch checkpoint).",
            )
        return self._persistent(pid)


def restricted_loads(
    data: bytes | bytearray | memoryview | BinaryIO,
    *,
    allowed: Mapping[tuple[str, str], Callable[..., Any]] | None = None,
    persistent_load: Callable[[Any], Any] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Any:
    """Unpickle ``data`` (bytes, or a binary file positioned at a pickle) without importing anything.

    ``allowed`` maps ``(module, name)`` to the stand-in returned for that global (default: none, so
    only plain data loads). ``persistent_load`` maps persistent ids (e.g. torch storages) to
    objects. ``max_bytes`` caps the input the pickle may consume. On a file, reading stops right
    after the pickle's STOP opcode, so several pickles in a row can be read one call at a time.

    Raises :class:`UnsafeArtifactError` for a global outside ``allowed`` (the message names it, as
    ``module.name``) and :class:`InputError` for anything that is not a well-formed pickle.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        if len(data) > max_bytes:
            raise InputError(
                f"the pickle is {len(data):,} bytes, over the {max_bytes:,}-byte limit.",
                hint="Raise max_bytes if the artifact really is this large.",
            )
        stream: Any = io.BytesIO(bytes(data))
    else:
        stream = _BoundedReader(data, max_bytes)
    unpickler = _RestrictedUnpickler(stream, allowed or {}, persistent_load)
    try:
        return unpickler.load()
    except (UnsafeArtifactError, InputError):
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            struct.error, UnicodeDecodeError, OverflowError, MemoryError, RecursionError) as exc:
        raise InputError(
            f"not a readable pickle ({type(exc).__name__}: {str(exc)[:200]}).",
            hint="The file is truncated, corrupt, or not a pickle.",
        ) from None

