"""numpy arrays and scalars decoded from their pickled bytes, without numpy's pickle hooks.

Why: a metric history, a ``best_acc = np.float64(...)`` or an RNG state saved beside the weights is
plain data, and useful. numpy pickles them as calls to its own functions (``_reconstruct`` then
``BUILD``, ``scalar(dtype, bytes)``, ``_frombuffer``, ``dtype(code, align, copy)`` then ``BUILD``).
Importing those would be safe for numpy itself, but the point of the restricted unpickler is that
*nothing the file names is looked up*; so these stand-ins read the same arguments and rebuild the
value with ``np.frombuffer`` from a dtype code that must be a plain number, bool or string type.
Anything else (object arrays, structured dtypes, datetimes) stays a record, by name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from .errors import InputError
from .pickle_standins import Global, Instance, Record

__all__ = ["NUMPY_GLOBALS", "ArrayRecord", "DTypeRecord", "decoded"]

# Plain dtype codes numpy pickles: bool, ints, floats, complex, fixed-width bytes and text.
_PLAIN_CODE = re.compile(r"\A(?:b1|\?|[iu][1248]|f(?:2|4|8|16)|c(?:8|16|32)|[SU][0-9]{1,7})\Z")
MAX_DIMS = 64


class DTypeRecord(Record):
    """``numpy.dtype(code, align, copy)`` followed by ``BUILD`` with the byte order."""

    __slots__ = ("byteorder", "code")

    def __init__(self, code: Any) -> None:
        self.code = code if isinstance(code, str) and len(code) <= 16 else None
        self.byteorder = "="

    def set_state(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) >= 2 and state[1] in ("<", ">", "|", "="):
            self.byteorder = state[1]
        return None

    def numpy(self) -> Any:
        """The numpy dtype, or None when the code is not a plain type (never structured or object)."""
        if self.code is None or not _PLAIN_CODE.match(self.code):
            return None
        import numpy as np

        prefix = self.byteorder if self.byteorder in ("<", ">") else ""
        try:
            return np.dtype(prefix + self.code)
        except TypeError:  # e.g. f16 where numpy has no such float
            return None

    def __repr__(self) -> str:
        return f"<numpy dtype {self.code!r} stand-in>"


def _np_dtype(value: Any) -> Any:
    import numpy as np

    if isinstance(value, DTypeRecord):
        return value.numpy()
    return value if isinstance(value, np.dtype) else None


def _decode(raw: Any, dtype: Any, shape: Any, fortran: bool) -> Any:
    """``np.frombuffer`` of ``raw`` as ``dtype`` in ``shape``, or None when this is not plain data."""
    import numpy as np

    dt = _np_dtype(dtype)
    if dt is None or not isinstance(raw, bytes | bytearray):
        return None
    if not isinstance(shape, tuple | list) or len(shape) > MAX_DIMS or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 1 << 62 for d in shape):
        raise InputError("a pickled numpy array has a bad shape.", hint="The file is corrupt or crafted.")
    n = math.prod(shape)
    if n * dt.itemsize != len(raw):
        raise InputError(f"a pickled numpy array declares {n:,} elements of {dt.itemsize} bytes but holds "
                         f"{len(raw):,} bytes.", hint="The file is corrupt or crafted.")
    return np.frombuffer(bytes(raw), dtype=dt).reshape(tuple(shape), order="F" if fortran else "C")


class ArrayRecord(Record):
    """``numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')`` then ``BUILD`` with
    ``(version, shape, dtype, is_fortran, raw bytes)``: decoded at BUILD into ``value``."""

    __slots__ = ("dtype", "items", "shape", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.shape: Any = None
        self.dtype: Any = None
        self.items: Any = None  # an object array's elements, as the pickle gave them

    def set_state(self, state: Any) -> Any:
        if not isinstance(state, tuple) or len(state) != 5:
            raise InputError("a pickled numpy array has a state that is not (version, shape, dtype, "
                             "fortran, data).", hint="The file is corrupt or crafted.")
        _, shape, dtype, fortran, raw = state
        self.shape, self.dtype = shape, dtype
        if isinstance(raw, list):
            self.items = raw
            return None
        self.value = _decode(raw, dtype, shape, bool(fortran))
        return self.value

    def __repr__(self) -> str:
        return "<numpy array stand-in>"


def _dtype(code: Any = None, align: Any = False, copy: Any = True) -> DTypeRecord:
    return DTypeRecord(code)


def _reconstruct(cls: Any = None, shape: Any = None, typecode: Any = None) -> ArrayRecord:
    return ArrayRecord()


def _scalar(dtype: Any = None, data: Any = None) -> Any:
    """``numpy.core.multiarray.scalar(dtype, bytes)``: the numpy scalar, or a record when not plain."""
    dt = _np_dtype(dtype)
    if dt is not None and isinstance(data, bytes | bytearray) and len(data) == dt.itemsize:
        import numpy as np

        return np.frombuffer(bytes(data), dtype=dt)[0]
    return Instance(Global("numpy", "scalar"), (dtype, data))


def _frombuffer(buf: Any = None, dtype: Any = None, shape: Any = None, order: Any = "C") -> Any:
    """``numpy.core.numeric._frombuffer`` (protocol 5 pickles of contiguous arrays)."""
    value = _decode(buf, dtype, shape, order == "F")
    if value is None:
        return Instance(Global("numpy.core.numeric", "_frombuffer"), (dtype, shape, order))
    return value


NUMPY_GLOBALS: dict[tuple[str, str], Callable[..., Any]] = {
    ("numpy", "dtype"): _dtype,
    ("numpy", "ndarray"): Global("numpy", "ndarray"),
    **{(mod, "_reconstruct"): _reconstruct for mod in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(mod, "scalar"): _scalar for mod in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(mod, "_frombuffer"): _frombuffer for mod in ("numpy.core.numeric", "numpy._core.numeric")},
}
"""The numpy globals decoded into values (module paths of numpy 1.x and 2.x)."""


def decoded(value: Any) -> Any:
    """``value`` with a decoded :class:`ArrayRecord` replaced by its array (a memo reference to an array
    can reach a reader as the record)."""
    if isinstance(value, ArrayRecord) and value.value is not None:
        return value.value
    return value
