"""Tell a big event record that holds no scalar from one that may, reading only its framing.

Logs written with ``histogram_freq=1`` (Keras) or ``add_histogram`` per parameter (PyTorch) are mostly
histogram, image and text records of kilobytes each, with lengths that rarely repeat. The scalar
reader's vectorised path (:mod:`.eventfile`) groups records by length and parses one layout per group,
which costs a Python parse per big record and buys nothing: none of them holds a scalar. This module
walks only the keys and lengths of ``Event`` -> ``Summary`` -> ``Value`` (never the payloads) and says
"skip" when every value is a histogram, an image, audio or a tensor too big to be a 0-d scalar. Anything
else (a ``simple_value``, a small tensor, a malformed record, an ``hparams`` record) goes to the full
decoder, which judges it as before.

When asked, it also summarises a histogram in place (:class:`HistogramPoint`): ``HistogramProto`` carries
its own min, max, count, sum and sum of squares (PyTorch ``add_histogram``, TF1); TF2's histogram tensor
(``k x 3`` doubles: left edge, right edge, count, plugin ``histograms``) is summarised from its buckets.

Field numbers (tensorboard/compat/proto): Event.wall_time=1 (double), .step=2, .summary=5;
Summary.value=1; Value.tag=1, .simple_value=2, .image=4, .histo=5, .audio=6, .tensor=8, .metadata=9;
HistogramProto.min=1 .max=2 .num=3 .sum=4 .sum_squares=5; TensorProto.dtype=1 .tensor_shape=2
.tensor_content=4 .double_val=6; SummaryMetadata.plugin_data=1; PluginData.plugin_name=1.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

SKIM_MIN = 512
"""Records at least this long are skimmed: a scalar event is 30-150 bytes, a histogram of even 30 buckets ~800."""
_SCALAR_TENSOR_MAX = 64  # a 0-d numeric TensorProto with its shape is ~10-20 bytes
_NON_SCALAR = frozenset((3, 4, 5, 6))  # old-style histogram, image, histo, audio
_DOUBLE = struct.Struct("<d")


class _Bad(Exception):
    pass


def _varint(b: bytes, pos: int, end: int) -> tuple[int, int]:
    c = b[pos]
    if c < 0x80:
        return c, pos + 1
    result, shift = 0, 0
    while True:
        if pos >= end or shift > 63:
            raise _Bad
        c = b[pos]
        pos += 1
        result |= (c & 0x7F) << shift
        if c < 0x80:
            return result, pos
        shift += 7


def _fields(b: bytes, pos: int, end: int):
    """``(field, wire, offset, length, varint)`` of one message's top level; payloads are not read."""
    while pos < end:
        key, pos = _varint(b, pos, end)
        wire = key & 7
        if wire == 0:
            v, nxt = _varint(b, pos, end)
            yield key >> 3, 0, pos, nxt - pos, v
            pos = nxt
            continue
        if wire == 1:
            ln = 8
        elif wire == 2:
            ln, pos = _varint(b, pos, end)
        elif wire == 5:
            ln = 4
        else:
            raise _Bad
        if pos + ln > end:
            raise _Bad
        yield key >> 3, wire, pos, ln, None
        pos += ln


@dataclass(slots=True)
class HistogramPoint:
    """One histogram's summary statistics at one step."""

    tag: str
    step: int
    wall_time: float
    count: float
    mean: float
    std: float
    min: float
    max: float


@dataclass(slots=True)
class Skimmed:
    """A record that holds no scalar: its plugin declarations and (when asked) its histograms."""

    plugins: list[tuple[bytes, str]]
    histograms: list[HistogramPoint]


def skim(b: bytes, s: int, e: int, tag_plugins: Mapping[str, str], histograms: bool) -> Skimmed | None:
    """:class:`Skimmed` when the Event in ``b[s:e]`` holds no scalar; None when it may (decode it)."""
    try:
        if not histograms:
            quick = _quick(b, s, e)
            if quick is not None:
                return quick
        return _skim(b, s, e, tag_plugins, histograms)
    except (_Bad, IndexError, struct.error):
        return None  # the full decoder reports what is wrong with it


def _quick(b: bytes, s: int, e: int) -> Skimmed | None:
    """The common record, read with no generator: ``wall_time, step, summary { one value { tag, histo |
    image | audio } }``; None for anything else (the general walk decides). Most records of a
    histogram-heavy log are this shape, and this costs a few microseconds each."""
    p = s
    if b[p] == 0x09:
        p += 9
    if b[p] == 0x10:
        p = _skip_varint(b, p + 1)
    if b[p] != 0x2A:
        return None
    p = _skip_varint(b, p + 1)  # the summary's length: the value below must end where the record ends
    if b[p] != 0x0A:
        return None
    vln, p = _varint(b, p + 1, e)
    if p + vln != e or b[p] != 0x0A:  # one value, and its first field is the tag
        return None
    tln = b[p + 1]
    if tln >= 0x80:
        return None
    p += 2 + tln
    if p >= e or b[p] not in (0x22, 0x2A, 0x32):  # image, histo, audio: len-delimited fields 4, 5, 6
        return None
    pln, p = _varint(b, p + 1, e)
    return Skimmed([], []) if p + pln == e else None  # nothing after it (no metadata to read)


def _skip_varint(b: bytes, p: int) -> int:
    while b[p] & 0x80:
        p += 1
    return p + 1


def _skim(b: bytes, s: int, e: int, tag_plugins: Mapping[str, str], histograms: bool) -> Skimmed | None:
    wall, step, summary = 0.0, 0, None
    for f, w, off, ln, v in _fields(b, s, e):
        if f == 1 and w == 1:
            wall = _DOUBLE.unpack_from(b, off)[0]
        elif f == 2 and w == 0:
            step = v - (1 << 64) if v >= 1 << 63 else v
        elif f == 5 and w == 2:
            summary = (off, off + ln)
    out = Skimmed([], [])
    if summary is None:
        return out  # file_version, graph, run metadata, session log: never a scalar
    for f, w, voff, vln, _ in _fields(b, *summary):
        if f != 1 or w != 2:
            continue
        tag = b""
        kind = 0
        payload = meta = None
        for f2, w2, off, ln, _ in _fields(b, voff, voff + vln):
            if f2 == 1 and w2 == 2:
                tag = bytes(b[off : off + ln])  # the window may be a bytearray: tags are dict keys
            elif f2 == 2:
                return None  # simple_value
            elif f2 == 8 and w2 == 2:
                if ln <= _SCALAR_TENSOR_MAX:
                    return None  # may be a 0-d tensor scalar
                kind, payload = 8, (off, ln)
            elif f2 in _NON_SCALAR and w2 == 2:
                kind, payload = f2, (off, ln)
            elif f2 == 9 and w2 == 2:
                meta = (off, ln)
        plugin = _plugin(b, *meta) if meta else None
        if plugin is not None:
            out.plugins.append((tag, plugin))
        if not histograms or payload is None:
            continue
        name = tag.decode("utf-8", errors="replace")
        if kind == 5:
            stats = _histo_stats(b, *payload)
        elif kind == 8 and (plugin or tag_plugins.get(name)) == "histograms":
            stats = _tensor_histogram_stats(b, *payload)
        else:
            stats = None
        if stats is not None:
            out.histograms.append(HistogramPoint(name, step, wall, *stats))
    return out


def _plugin(b: bytes, s: int, ln: int) -> str | None:
    for f, w, off, pln, _ in _fields(b, s, s + ln):
        if f == 1 and w == 2:
            for f2, w2, o2, l2, _ in _fields(b, off, off + pln):
                if f2 == 1 and w2 == 2:
                    return b[o2 : o2 + l2].decode("utf-8", errors="replace")
    return None


def _histo_stats(b: bytes, s: int, ln: int) -> tuple[float, float, float, float, float] | None:
    """(count, mean, std, min, max) from a HistogramProto's own fields."""
    vals = {}
    for f, w, off, _l, _ in _fields(b, s, s + ln):
        if 1 <= f <= 5 and w == 1:
            vals[f] = _DOUBLE.unpack_from(b, off)[0]
    num = vals.get(3, 0.0)
    if num <= 0:
        return None
    mean = vals.get(4, 0.0) / num
    var = vals.get(5, 0.0) / num - mean * mean  # rounding can leave it a hair below 0
    std = math.sqrt(max(var, 0.0)) if math.isfinite(var) else math.nan
    return num, mean, std, vals.get(1, math.nan), vals.get(2, math.nan)


def _tensor_histogram_stats(b: bytes, s: int, ln: int) -> tuple[float, float, float, float, float] | None:
    """(count, mean, std, min, max) of a ``k x 3`` (left, right, count) histogram tensor, from its buckets
    (each bucket's values taken at its centre; min and max are the outer edges of the non-empty buckets)."""
    dtype, content, packed = 0, None, None
    for f, w, off, cln, v in _fields(b, s, s + ln):
        if f == 1 and w == 0:
            dtype = v
        elif f == 4 and w == 2:
            content = (off, cln)
        elif f in (5, 6) and w == 2:
            packed = (off, cln)
    item = {1: "<f4", 2: "<f8"}.get(dtype)
    where = content or packed
    if item is None or where is None:
        return None
    size = np.dtype(item).itemsize
    if where[1] % (3 * size):
        return None
    t = np.frombuffer(b, dtype=item, count=where[1] // size, offset=where[0]).astype(np.float64).reshape(-1, 3)
    counts = t[:, 2]
    total = float(counts.sum())
    if not total > 0:
        return None
    nonzero = np.flatnonzero(counts > 0)
    centres = (t[:, 0] + t[:, 1]) / 2
    mean = float(centres @ counts) / total
    var = float(((centres - mean) ** 2) @ counts) / total
    return total, mean, math.sqrt(max(var, 0.0)), float(t[nonzero[0], 0]), float(t[nonzero[-1], 1])
