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

Stand-ins (``stand_ins=``, what the checkpoint readers use): a global outside ``allowed`` is then not
refused but answered with an inert record of its name (:mod:`traintriage.pickle_standins`), and
numpy's arrays, scalars and dtypes are decoded from their bytes (:mod:`traintriage.pickle_numpy`).
Calling a stand-in records the arguments; ``BUILD`` on its instance stores the state; an instance
cannot be called (``REDUCE`` on it is refused) and a stand-in global cannot be given state. Globals
that only make sense in an attack (``os.system``, ``builtins.eval``, ``getattr``, ``subprocess``,
``importlib``, ...; see :func:`code_execution_global`) are still refused with
:class:`~traintriage.errors.UnsafeArtifactError`: a stand-in for them would be just as inert, but a
file that asks for them is crafted, and the user should hear so rather than get a parameter count.

Usage::

    from traintriage.safe_pickle import restricted_loads, PLAIN_DATA_GLOBALS

    restricted_loads(data)                                # plain data only: dict/list/str/numbers
    restricted_loads(data, allowed=PLAIN_DATA_GLOBALS)    # + OrderedDict, set, frozenset, ...
    restricted_loads(fh, allowed={("torch", "Size"): tuple}, persistent_load=my_lookup)
    names = Counter(); restricted_loads(data, stand_ins=names)   # any global -> a record, counted by name

Every value of ``allowed`` must itself be harmless for any arguments (it is called with whatever
the pickle passes); ``persistent_load`` receives the persistent id (any plain value) and returns
what the pickle should see in its place.
"""

from __future__ import annotations

import io
import pickle
import struct
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO, ClassVar

from .errors import InputError, UnsafeArtifactError
from .pickle_numpy import NUMPY_GLOBALS
from .pickle_standins import Global, Instance, Record
from .untrusted import short_repr

__all__ = ["DEFAULT_MAX_BYTES", "PLAIN_DATA_GLOBALS", "code_execution_global", "restricted_loads"]

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


# Modules whose globals run code, touch files, processes or the interpreter: a pickle asking for any
# of them is an attack (or a file nobody should load), never a checkpoint.
_CODE_MODULES = frozenset({
    "os", "posix", "nt", "posixpath", "ntpath", "subprocess", "_posixsubprocess", "sys", "importlib", "runpy",
    "shutil", "socket", "pty", "pickle", "_pickle", "marshal", "ctypes", "_ctypes", "code", "codeop",
    "webbrowser", "multiprocessing", "pdb", "bdb", "timeit", "commands", "popen2", "platform", "signal",
    "asyncio", "io", "_io", "tempfile", "glob", "types", "inspect", "gc", "ast", "dis", "zipimport",
    "pkgutil", "site", "sysconfig", "threading", "_thread", "thread", "atexit", "urllib", "http", "ftplib",
    "smtplib", "telnetlib", "pydoc", "cProfile", "profile", "trace", "linecache", "fileinput", "tarfile",
    "zipfile", "sqlite3", "dbm", "shelve", "logging", "weakref", "copyreg", "copy_reg", "operator",
    "functools", "torch.hub", "torch.package", "torch.jit", "torch.ops", "torch._ops",
})
# builtins: everything except plain constructors (those that build data) is refused.
_BUILTIN_DATA = frozenset({"set", "frozenset", "complex", "bytearray", "slice", "dict", "list", "tuple",
                           "int", "float", "str", "bytes", "bool", "object", "range", "NoneType"})
# Names that reach code wherever they live (a protocol-4 dotted name can walk to them).
_CODE_NAMES = frozenset({"system", "popen", "exec", "eval", "execfile", "compile", "__import__", "getattr",
                         "setattr", "delattr", "globals", "locals", "vars", "open", "input", "breakpoint",
                         "spawn", "spawnv", "spawnl", "execv", "execl", "execve", "fork", "kill", "remove",
                         "unlink", "rmtree", "load", "loads", "import_module", "run", "call", "check_output",
                         "Popen", "apply", "reload", "attrgetter", "methodcaller", "__builtins__",
                         "__globals__", "__code__", "__subclasses__", "__class__", "__bases__", "__mro__",
                         "__reduce__", "__reduce_ex__", "__setstate__", "__getattribute__", "__dict__",
                         "__init__", "__new__", "__call__", "func_globals"})
# copyreg's object reconstructors are how protocols 0-2 spell "make an instance of this class".
_RECONSTRUCTORS = {("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor"), ("copyreg", "__newobj__"),
                   ("copy_reg", "__newobj__"), ("copyreg", "__newobj_ex__")}


def code_execution_global(module: str, name: str) -> bool:
    """Whether ``module.name`` is a global only an attack would pickle: a module that runs code or touches
    the system (``os``, ``subprocess``, ``importlib``, ``torch.hub``, ...), a builtin that is not a plain
    data constructor (``eval``, ``getattr``, ``open``), or a name that reaches code wherever it lives
    (``system``, ``__globals__``, ...; every dotted segment of a protocol-4 name is checked)."""
    parts = module.split(".")
    if any(".".join(parts[:i]) in _CODE_MODULES for i in range(1, len(parts) + 1)):
        return True
    segments = name.split(".")
    if module in ("builtins", "__builtin__") and (len(segments) > 1 or name not in _BUILTIN_DATA):
        return True
    return any(seg in _CODE_NAMES or seg in _CODE_MODULES for seg in segments)


def _refuse_global(module: Any, name: Any) -> UnsafeArtifactError:
    return UnsafeArtifactError(
        f"the pickle asks for the global `{str(module)[:100]}.{str(name)[:100]}`, which traintriage refuses to "
        "import; "
        "nothing in the file was run.",
        hint="Only plain data and tensor records are read. If the file is yours, re-save it as a "
        "state dict (torch.save(model.state_dict(), ...)) or as safetensors; if it is not, do not "
        "torch.load it.",
    )


def _reconstructor(cls: Any = None, base: Any = None, state: Any = None, *rest: Any) -> Instance:
    """``copyreg._reconstructor(cls, base, state)`` (and ``__newobj__(cls, *args)``) on a stand-in: an
    instance record of ``cls``; anything else is refused (it would call ``base.__new__``)."""
    if not isinstance(cls, Global):
        raise UnsafeArtifactError(
            f"the pickle asks copyreg to construct {short_repr(cls, 60)}, which is not a named class; refused, "
            "nothing in the file was run.",
            hint="Nothing in the file was run. A checkpoint never needs this; the file is crafted.")
    args = tuple(a for a in (base, state, *rest) if a is not None and not isinstance(a, Global))
    return Instance(cls, args)


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
    if isinstance(inst, Record) and self._stand_ins is not None:
        # An instance record built in this load (a stand-in's, numpy's): it stores the state, runs nothing.
        state = self.stack.pop()
        replacement = inst.set_state(state)
        if replacement is not None:
            self.stack[-1] = replacement
        return
    if not isinstance(inst, OrderedDict):
        raise UnsafeArtifactError(
            f"the pickle sets the state of a {_what(inst)} (BUILD opcode), which is refused: "
            "only an OrderedDict's or an object record's state may be set.",
            hint="Nothing in the file was run. A torch.save checkpoint or a memory snapshot never needs this; "
            "the file is crafted or not one of those.",
        )
    pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]


def _what(obj: Any) -> str:
    if isinstance(obj, Global):
        return f"stand-in global `{obj.qualname[:100]}` (that would rewrite a class for later objects)"
    return f"{type(obj).__name__} object"


def _refuse_call(obj: Any) -> UnsafeArtifactError:
    return UnsafeArtifactError(
        f"the pickle asks to call {_what(obj) if not isinstance(obj, Record) else 'an object it built'} "
        f"({short_repr(obj, 60)}), which is refused: only named globals are called, and a stand-in only "
        "records its arguments.",
        hint="Nothing in the file was run. Real checkpoints never call the result of a call; the file is crafted.",
    )


def _load_reduce(self: Any) -> None:
    """REDUCE, refusing to call an object the pickle built (a stand-in's instance, a numpy record)."""
    if len(self.stack) >= 2 and isinstance(self.stack[-2], Record):
        raise _refuse_call(self.stack[-2])
    pickle._Unpickler.load_reduce(self)  # type: ignore[attr-defined]


def _new_object(self: Any, cls: Any, args: Any, kwargs: Any) -> None:
    """NEWOBJ / NEWOBJ_EX: an instance record of a stand-in, ``cls.__new__`` only for a real type from
    ``allowed`` (OrderedDict, set, ...), refused for anything else."""
    if not isinstance(args, tuple) or not isinstance(kwargs, dict):
        raise InputError("NEWOBJ arguments are not a tuple and a dict.", hint="The file is corrupt or crafted.")
    if isinstance(cls, Global) and self._stand_ins is not None:
        self.append(Instance(cls, args, kwargs))
    elif isinstance(cls, type) and any(cls is v for v in self._allowed.values()):
        self.append(cls.__new__(cls, *args, **kwargs))
    else:
        raise _refuse_call(cls)


def _load_newobj(self: Any) -> None:
    args = self.stack.pop()
    cls = self.stack.pop()
    _new_object(self, cls, args, {})


def _load_newobj_ex(self: Any) -> None:
    kwargs = self.stack.pop()
    args = self.stack.pop()
    cls = self.stack.pop()
    _new_object(self, cls, args, kwargs)


class _RestrictedUnpickler(pickle._Unpickler):  # type: ignore[name-defined,misc]
    """Pure-Python unpickler whose global lookup is a dictionary lookup, nothing else."""

    dispatch: ClassVar[dict[int, Callable[..., Any]]] = {
        **pickle._Unpickler.dispatch,  # type: ignore[attr-defined]
        **{op[0]: _refuse_extension for op in (pickle.EXT1, pickle.EXT2, pickle.EXT4)},
        pickle.BUILD[0]: _build_only_ordered_dicts,
        pickle.BYTEARRAY8[0]: _load_bytearray8,
        pickle.REDUCE[0]: _load_reduce,
        pickle.NEWOBJ[0]: _load_newobj,
        pickle.NEWOBJ_EX[0]: _load_newobj_ex,
    }

    def __init__(
        self,
        file: Any,
        allowed: Mapping[tuple[str, str], Callable[..., Any]],
        persistent_load: Callable[[Any], Any] | None,
        stand_ins: Counter[str] | None = None,
    ) -> None:
        super().__init__(file, fix_imports=False, encoding="latin1")
        self._allowed = allowed
        self._persistent = persistent_load
        self._stand_ins = stand_ins
        self._globals: dict[tuple[str, str], Global] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except (KeyError, TypeError):
            pass
        if self._stand_ins is None or not isinstance(module, str) or not isinstance(name, str):
            raise _refuse_global(module, name)
        key = (module, name)
        if key in _RECONSTRUCTORS:
            return _reconstructor
        if len(module) > 300 or len(name) > 300 or code_execution_global(module, name):
            raise _refuse_global(module, name)
        if len(self._stand_ins) < 10_000:
            self._stand_ins[f"{module}.{name}"] += 1
        if key in NUMPY_GLOBALS:
            return NUMPY_GLOBALS[key]
        if key not in self._globals:  # one stand-in per name and load: never shared with another load
            self._globals[key] = Global(module, name)
        return self._globals[key]

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
    stand_ins: Counter[str] | None = None,
) -> Any:
    """Unpickle ``data`` (bytes, or a binary file positioned at a pickle) without importing anything.

    ``allowed`` maps ``(module, name)`` to the stand-in returned for that global (default: none, so
    only plain data loads). ``persistent_load`` maps persistent ids (e.g. torch storages) to
    objects. ``max_bytes`` caps the input the pickle may consume. On a file, reading stops right
    after the pickle's STOP opcode, so several pickles in a row can be read one call at a time.

    ``stand_ins``: when given, a global outside ``allowed`` becomes an inert stand-in (numpy values are
    decoded) and its ``module.name`` is counted here; globals that only an attack names are still refused.
    Without it, any global outside ``allowed`` is refused.

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
    unpickler = _RestrictedUnpickler(stream, allowed or {}, persistent_load, stand_ins)
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

