"""Hyperparameters from TensorBoard's hparams plugin, decoded from the event file without TensorFlow.

``SummaryWriter.add_hparams`` (PyTorch) and ``hp.hparams`` (TF/Keras) write one summary tagged
``_hparams_/session_start_info`` whose plugin data is an ``HParamsPluginData`` proto holding
``SessionStartInfo.hparams``: a map from name to ``google.protobuf.Value``. The scalar reader skips
it (it is not a scalar), so it is decoded here with a few lines of protobuf wire format. The record is
written at the start of a run, so only the first records of each file are looked at: bounded work
on a large log, and nothing in the file is executed.

Field numbers (tensorboard/compat/proto/event.proto, summary.proto, plugins/hparams/plugin_data.proto,
google/protobuf/struct.proto): Event.summary=5; Summary.value=1; Summary.Value.tag=1, .metadata=9;
SummaryMetadata.plugin_data=1; PluginData.plugin_name=1, .content=2; HParamsPluginData
.session_start_info=3; SessionStartInfo.hparams=1 (map entry: key=1, value=2); Value.null_value=1,
.number_value=2 (double), .string_value=3, .bool_value=4.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..sources.eventproto import Malformed, message_fields

MAX_RECORDS = 200
MAX_BYTES = 8 << 20
_TAG = b"_hparams_/session_start_info"


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """``(field number, wire type, value)`` for each field of one message: the number for a varint, the
    payload bytes otherwise (the scalar reader's own walker, :func:`~traintriage.sources.eventproto.message_fields`)."""
    for number, wire, offset, length, varint in message_fields(buf, 0, len(buf)):
        yield number, wire, varint if wire == 0 else buf[offset : offset + length]


def _first(buf: bytes, number: int) -> Any:
    return next((v for f, _w, v in _fields(buf) if f == number), None)


def _value(buf: bytes) -> Any:
    for field, _wire, value in _fields(buf):
        if field == 1:
            return None
        if field == 2:
            return struct.unpack("<d", value)[0]
        if field == 3:
            return bytes(value).decode("utf-8", "replace")
        if field == 4:
            return bool(value)
    return None


def _session_hparams(content: bytes) -> dict[str, Any] | None:
    start = _first(content, 3)
    if start is None:
        return None
    out: dict[str, Any] = {}
    for field, _wire, entry in _fields(start):
        if field != 1:
            continue
        key = _first(entry, 1)
        value = _first(entry, 2)
        if key is not None:
            out[bytes(key).decode("utf-8", "replace")] = _value(value) if value is not None else None
    return out


def _records(path: Path) -> Iterator[bytes]:
    """Event records of a TFRecord file (framing only; the hparams record is validated by decoding it)."""
    read = 0
    with open(path, "rb") as fh:
        for _ in range(MAX_RECORDS):
            header = fh.read(12)
            if len(header) < 12:
                return
            (length,) = struct.unpack("<Q", header[:8])
            read += 16 + length
            if read > MAX_BYTES:
                return
            data = fh.read(length)
            fh.read(4)
            if len(data) < length:
                return
            yield data


def read_hparams(event_file: Path) -> dict[str, Any] | None:
    """The hparams of the session started in ``event_file``, or None when it has none (or is unreadable)."""
    try:
        for record in _records(event_file):
            if _TAG not in record:  # cheap test before decoding
                continue
            summary = _first(record, 5)
            if summary is None:
                continue
            for field, _wire, value in _fields(summary):
                if field != 1 or _first(value, 1) != _TAG:
                    continue
                meta = _first(value, 9)
                plugin = _first(meta, 1) if meta is not None else None
                content = _first(plugin, 2) if plugin is not None else None
                if content is not None:
                    return _session_hparams(content)
    except (OSError, ValueError, Malformed, struct.error):
        return None
    return None
