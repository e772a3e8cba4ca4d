"""Hand-written decoding of the parts of TensorBoard's ``Event`` proto that carry scalars.

No protobuf objects are built: :func:`parse_layout` walks one serialized ``Event`` and returns its
*layout* -- where, in the record's bytes, the wall time, the step, each scalar's tag and value sit,
and which bytes are structure (field keys, lengths, dtype, plugin name). Records written by the
same code path share a layout and differ only in the variable bytes, so the reader parses one
record per layout in Python and decodes all the others with numpy (:func:`decode_values`).

Scalars come in two encodings, both supported:

* ``Summary.Value.simple_value`` (float32): PyTorch ``add_scalar`` default, TF1.
* a 0-d numeric ``TensorProto`` in ``Summary.Value.tensor`` (TF2/Keras ``tf.summary.scalar``,
  PyTorch ``add_scalar(..., new_style=True)``), either in ``tensor_content`` or in the typed
  ``*_val`` field (packed or not); float32/64, half, bfloat16, integers and bool.

``SummaryMetadata.plugin_data.plugin_name`` is reported so that the reader can keep a tensor
value only when its tag belongs to the ``scalars`` plugin (or declares no plugin at all).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class Malformed(Exception):
    """The bytes are not a well-formed protobuf message."""


@dataclass(frozen=True, slots=True)
class ValueSpec:
    """One scalar inside an Event: offsets are relative to the start of the record's data."""

    tag_off: int
    tag_len: int
    kind: str  # see decode_values
    val_off: int
    val_len: int
    is_tensor: bool
    plugin: str | None


@dataclass(slots=True)
class Layout:
    """Where the variable bytes of an Event are; every other byte is structure."""

    length: int
    wall_off: int | None = None
    step: tuple[int, int] | None = None  # (offset, varint length)
    values: list[ValueSpec] = field(default_factory=list)
    varints: list[tuple[int, int]] = field(default_factory=list)  # variable varints: continuation bits matter
    variable: np.ndarray | None = None  # bool mask over the record's bytes
    # Plugins declared by non-scalar values (tag bytes are structure there): (tag bytes, plugin name).
    other_plugins: list[tuple[bytes, str]] = field(default_factory=list)


def _varint(b: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise Malformed("varint runs past the end")
        c = b[pos]
        pos += 1
        result |= (c & 0x7F) << shift
        if not c & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise Malformed("varint longer than 10 bytes")


def message_fields(b: bytes, pos: int, end: int):
    """Yield ``(field, wire, payload_offset, payload_length, varint_value)`` of one message."""
    while pos < end:
        key, pos = _varint(b, pos, end)
        fno, wire = key >> 3, key & 7
        if fno == 0:
            raise Malformed("field number 0")
        if wire == 0:
            start = pos
            v, pos = _varint(b, pos, end)
            yield fno, 0, start, pos - start, v
        elif wire == 1:
            if pos + 8 > end:
                raise Malformed("fixed64 runs past the end")
            yield fno, 1, pos, 8, None
            pos += 8
        elif wire == 2:
            ln, pos = _varint(b, pos, end)
            if pos + ln > end:
                raise Malformed("length-delimited field runs past the end")
            yield fno, 2, pos, ln, None
            pos += ln
        elif wire == 5:
            if pos + 4 > end:
                raise Malformed("fixed32 runs past the end")
            yield fno, 5, pos, 4, None
            pos += 4
        else:
            raise Malformed(f"unsupported wire type {wire}")


# dtype enum -> (kind in tensor_content, item size, typed *_val field, kind of that field's varint or None)
_DTYPES: dict[int, tuple[str, int, int, str | None]] = {
    1: ("f4", 4, 5, None),  # DT_FLOAT -> float_val
    2: ("f8", 8, 6, None),  # DT_DOUBLE -> double_val
    3: ("i4", 4, 7, "vi"),  # DT_INT32 -> int_val
    4: ("u1", 1, 7, "vi"),  # DT_UINT8
    5: ("i2", 2, 7, "vi"),  # DT_INT16
    6: ("i1", 1, 7, "vi"),  # DT_INT8
    9: ("i8", 8, 10, "vi"),  # DT_INT64 -> int64_val
    10: ("b1", 1, 11, "vu"),  # DT_BOOL -> bool_val
    14: ("bf16", 2, 13, "vbf16"),  # DT_BFLOAT16 -> half_val
    17: ("u2", 2, 7, "vi"),  # DT_UINT16
    19: ("f2", 2, 13, "vf2"),  # DT_HALF -> half_val
    22: ("u4", 4, 16, "vu"),  # DT_UINT32 -> uint32_val
    23: ("u8", 8, 17, "vu"),  # DT_UINT64 -> uint64_val
}
_TYPED_FIELDS = (5, 6, 7, 10, 11, 13, 16, 17)


def _parse_tensor(b: bytes, s: int, e: int) -> tuple[str, int, int, bool] | None:
    """(kind, offset, length, is_varint) of a 0-d numeric tensor's single value, else None."""
    dtype = 0
    rank = 0
    unknown_rank = False
    content: tuple[int, int] | None = None
    typed: dict[int, list[tuple[int, int, int]]] = {}
    for fno, wire, off, ln, v in message_fields(b, s, e):
        if fno == 1 and wire == 0:
            dtype = v
        elif fno == 2 and wire == 2:
            for f2, w2, _o2, _l2, v2 in message_fields(b, off, off + ln):
                if f2 == 2 and w2 == 2:
                    rank += 1
                elif f2 == 3 and w2 == 0 and v2:
                    unknown_rank = True
        elif fno == 4 and wire == 2:
            content = (off, ln)
        elif fno in _TYPED_FIELDS:
            typed.setdefault(fno, []).append((wire, off, ln))
    info = _DTYPES.get(dtype)
    if info is None or rank or unknown_rank:
        return None
    fixed_kind, size, val_field, vkind = info
    if content is not None:
        return (fixed_kind, content[0], size, False) if content[1] == size else None
    entries = typed.get(val_field)
    if not entries or len(entries) != 1:
        return None
    wire, off, ln = entries[0]
    if vkind is None:  # float_val / double_val
        if (wire == 5 and size == 4) or (wire == 1 and size == 8) or (wire == 2 and ln == size):
            return fixed_kind, off, size, False
        return None
    if wire == 0:
        return vkind, off, ln, True
    if wire == 2 and ln:
        _, end = _varint(b, off, off + ln)
        if end == off + ln:  # exactly one packed element
            return vkind, off, ln, True
    return None


def _plugin_name(b: bytes, s: int, e: int) -> str | None:
    name = None
    data_class = 0
    for fno, wire, off, ln, v in message_fields(b, s, e):
        if fno == 1 and wire == 2:
            for f2, w2, o2, l2, _ in message_fields(b, off, off + ln):
                if f2 == 1 and w2 == 2:
                    name = b[o2 : o2 + l2].decode("utf-8", errors="replace")
        elif fno == 4 and wire == 0:
            data_class = v
    if name is None and data_class == 1:  # DATA_CLASS_SCALAR
        return "scalars"
    return name


def parse_layout(b: bytes) -> Layout:
    """The layout of one serialized Event (raises :class:`Malformed`)."""
    n = len(b)
    layout = Layout(length=n)
    variable = np.zeros(n, dtype=bool)
    for fno, wire, off, ln, _ in message_fields(b, 0, n):
        if fno == 1 and wire == 1:
            layout.wall_off = off
        elif fno == 2 and wire == 0:
            layout.step = (off, ln)
        elif fno == 5 and wire == 2:
            for f2, w2, o2, l2, _ in message_fields(b, off, off + ln):
                if f2 == 1 and w2 == 2:
                    _parse_value(b, o2, o2 + l2, layout)
    if layout.wall_off is not None:
        variable[layout.wall_off : layout.wall_off + 8] = True
    if layout.step is not None:
        so, sl = layout.step
        variable[so : so + sl] = True
        layout.varints.append(layout.step)
    for v in layout.values:
        variable[v.tag_off : v.tag_off + v.tag_len] = True
        variable[v.val_off : v.val_off + v.val_len] = True
    layout.variable = variable
    return layout


def _parse_value(b: bytes, s: int, e: int, layout: Layout) -> None:
    tag = (s, 0)
    simple: int | None = None
    tensor: tuple[int, int] | None = None
    meta: tuple[int, int] | None = None
    for fno, wire, off, ln, _ in message_fields(b, s, e):
        if fno == 1 and wire == 2:
            tag = (off, ln)
        elif fno == 2 and wire == 5:
            simple = off
        elif fno == 8 and wire == 2:
            tensor = (off, ln)
        elif fno == 9 and wire == 2:
            meta = (off, ln)
    plugin = _plugin_name(b, meta[0], meta[0] + meta[1]) if meta else None
    if simple is not None:
        layout.values.append(ValueSpec(tag[0], tag[1], "f4", simple, 4, False, plugin))
        return
    spec = _parse_tensor(b, tensor[0], tensor[0] + tensor[1]) if tensor else None
    if spec is not None:
        kind, off, ln, is_varint = spec
        layout.values.append(ValueSpec(tag[0], tag[1], kind, off, ln, True, plugin))
        if is_varint:
            layout.varints.append((off, ln))
    elif plugin is not None:
        layout.other_plugins.append((b[tag[0] : tag[0] + tag[1]], plugin))


# ----------------------------------------------------------------------------------------------
# Vectorised decoding of many records of one layout
# ----------------------------------------------------------------------------------------------


def varint_columns(cols: np.ndarray) -> np.ndarray:
    """uint64 value of a varint stored in the same columns of every row (continuation bits checked)."""
    out = np.zeros(cols.shape[0], dtype=np.uint64)
    for i in range(cols.shape[1]):
        out |= (cols[:, i] & 0x7F).astype(np.uint64) << np.uint64(7 * i)
    return out


_FIXED = {"f4": "<f4", "f8": "<f8", "f2": "<f2", "i1": "i1", "i2": "<i2", "i4": "<i4", "i8": "<i8",
          "u1": "u1", "u2": "<u2", "u4": "<u4", "u8": "<u8"}


def decode_values(cols: np.ndarray, kind: str) -> np.ndarray:
    """float64 values from the value bytes of every row (``cols``: ``(n, width)`` uint8)."""
    if kind in _FIXED:
        return np.ascontiguousarray(cols).view(_FIXED[kind])[:, 0].astype(np.float64)
    if kind == "b1":
        return (cols[:, 0] != 0).astype(np.float64)
    if kind == "bf16":
        bits = np.ascontiguousarray(cols).view("<u2")[:, 0].astype(np.uint32) << np.uint32(16)
        return bits.view(np.float32).astype(np.float64)
    v = varint_columns(cols)
    if kind == "vi":
        return v.view(np.int64).astype(np.float64)
    if kind == "vu":
        return v.astype(np.float64)
    if kind == "vf2":
        return (v & np.uint64(0xFFFF)).astype(np.uint16).view(np.float16).astype(np.float64)
    if kind == "vbf16":
        bits = (v & np.uint64(0xFFFF)).astype(np.uint32) << np.uint32(16)
        return bits.view(np.float32).astype(np.float64)
    raise ValueError(f"unknown value kind {kind!r}")
