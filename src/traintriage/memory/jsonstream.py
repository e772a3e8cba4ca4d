"""Stream the ``traceEvents`` array of a Chrome trace without loading the file.

Profiler traces of real training reach hundreds of megabytes; ``json.load`` would hold the text and
every event dict at once (several times the file size). Here the file is read in chunks and each
event is decoded with ``json.JSONDecoder.raw_decode`` as soon as it is complete, so memory stays at
one chunk plus one event. No new dependency.

A trace cut short (the profiler was killed while writing) is not an error: the events before the
cut are yielded and :attr:`TraceStream.truncated` says where it stopped.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import InputError

CHUNK_CHARS = 1 << 20
MAX_EVENT_CHARS = 64 << 20  # one event larger than this is corrupt input, not a trace
_WS = " \t\n\r"


class _Truncated(Exception):
    pass


def open_text(path: Path) -> IO[str]:
    """Open a file as UTF-8 text, transparently gunzipping when it starts with the gzip magic."""
    with open(path, "rb") as raw:
        magic = raw.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def event_time(value: Any) -> float | None:
    """A trace event's timestamp or duration (``ts``, ``dur``, in microseconds) when it is a finite number, else
    None: traces written by crashed or foreign profilers carry strings, nulls and infinities there."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


class TraceStream:
    """Iterate over the events of a Chrome trace (``{"traceEvents": [...], ...}`` or a bare array).

    Top-level keys other than ``traceEvents`` are kept in :attr:`header` (they are small); those
    after the array are only known once iteration is done.
    """

    def __init__(self, path: Path, chunk_chars: int = CHUNK_CHARS) -> None:
        self.path = path
        self.chunk_chars = chunk_chars
        self.header: dict[str, Any] = {}
        self.truncated: str | None = None
        self.found_events = False
        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._f: IO[str] | None = None

    # -- buffer -------------------------------------------------------------------------------
    def _fill(self) -> bool:
        assert self._f is not None
        if self._eof:
            return False
        chunk = self._f.read(self.chunk_chars)
        if not chunk:
            self._eof = True
            return False
        self._buf = self._buf[self._pos:] + chunk
        self._pos = 0
        return True

    def _peek(self) -> str:
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in _WS:
                self._pos += 1
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def _expect(self, char: str) -> None:
        got = self._peek()
        if got == "":
            raise _Truncated(f"file ends where {char!r} was expected")
        if got != char:
            raise InputError(
                f"{self.path}: not a Chrome trace (expected {char!r}, found {got!r}).",
                hint="Pass a file written by torch.profiler's export_chrome_trace (*.pt.trace.json[.gz]).",
            )
        self._pos += 1

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except RecursionError:
                raise InputError(
                    f"{self.path}: a JSON value nested too deeply to read near character {self._pos} "
                    "(deeper than Python's recursion limit; profiler events are flat).",
                    hint="The trace is corrupt or not a profiler trace; export it again with export_chrome_trace.",
                ) from None
            except json.JSONDecodeError as err:
                if len(self._buf) - self._pos > MAX_EVENT_CHARS:
                    raise InputError(
                        f"{self.path}: malformed JSON near character {err.pos} ({err.msg}).",
                        hint="The trace is corrupt; export it again with export_chrome_trace.",
                    ) from None
                if not self._fill():
                    if self._pos >= len(self._buf):
                        raise _Truncated("file ends inside the event list") from None
                    raise _Truncated(f"file ends inside a value ({err.msg})") from None
                continue
            except ValueError as err:  # int('9' * 5000): Python's 4300-digit limit
                raise InputError(
                    f"{self.path}: a JSON number too long to read near character {self._pos} "
                    f"({str(err).split(':')[0]}).",
                    hint="The trace is corrupt or not a profiler trace; export it again with export_chrome_trace.",
                ) from None
            # A number (or literal) touching the end of the buffer may continue in the next chunk.
            if end == len(self._buf) and not self._eof and self._fill():
                continue
            self._pos = end
            return value

    # -- structure ----------------------------------------------------------------------------
    def __iter__(self) -> Iterator[dict]:
        with open_text(self.path) as f:
            self._f = f
            try:
                first = self._peek()
                if first == "[":
                    self.found_events = True
                    yield from self._array()
                elif first == "{":
                    yield from self._object()
                else:
                    raise InputError(
                        f"{self.path}: not a Chrome trace (starts with {first!r}).",
                        hint="Pass a file written by torch.profiler's export_chrome_trace "
                        "(*.pt.trace.json or .json.gz).",
                    )
            except _Truncated as cut:
                self.truncated = str(cut)
            except (OSError, EOFError, UnicodeDecodeError, zlib.error) as err:  # gzip cut short or corrupt
                self.truncated = f"read error: {err}"
            finally:
                self._f = None

    def _object(self) -> Iterator[dict]:
        self._expect("{")
        while True:
            char = self._peek()
            if char == "}":
                self._pos += 1
                return
            if char == ",":
                self._pos += 1
                continue
            key = self._value()
            self._expect(":")
            if key == "traceEvents" and self._peek() == "[":
                self.found_events = True
                yield from self._array()
            else:
                self.header[str(key)] = self._value()

    def _array(self) -> Iterator[dict]:
        self._expect("[")
        while True:
            char = self._peek()
            if char == "]":
                self._pos += 1
                return
            if char == ",":
                self._pos += 1
                continue
            if char == "":
                raise _Truncated("file ends inside the event list")
            value = self._value()
            if isinstance(value, dict):
                yield value
