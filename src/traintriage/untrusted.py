"""Values from untrusted artifacts, converted without crashing or hanging.

Every artifact is untrusted input: an agent may point the server at any file, and files get cut
short, corrupted or crafted. Python's own conversions raise on values that are perfectly valid
JSON, CSV or pickle, and those exceptions would escape a reader as crashes:

* ``int(float("inf"))`` and ``int(float("nan"))`` raise; a step of ``1e300`` is finite but no int64,
  so the readers' ``array("q")`` columns raise ``OverflowError`` on it;
* ``float(10**400)`` raises ``OverflowError`` (JSON integers have no size limit);
* ``int("9" * 5000)`` raises ``ValueError`` (Python's 4300-digit limit), and so does ``json.loads``
  of such a number;
* ``json.loads("[" * 100_000 + ...)`` raises ``RecursionError``;
* ``str()`` of a pickled value recurses without bound, and of a list that holds the level below twice
  (64 levels: a few hundred bytes of pickle) it never finishes;
* JSON (``"\\udcff"``), Python literals and pickles (``surrogatepass``) can carry lone surrogates, which
  no UTF-8 output can encode: the result would fail when the server or the CLI sends it as JSON.

The readers use these helpers where such values can reach them.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import IO, Any, TypeVar

T = TypeVar("T")

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
_MAX_INT_DIGITS = 18  # every integer of up to 18 digits fits in an int64


MAX_LINE_CHARS = 4 << 20
"""Longest line a line-oriented reader takes (4 Mi characters). Iterating a text file yields whole lines,
so one 10 GB line without a newline would be held in memory at once (several times over, as str)."""


def bounded_lines(fh: IO[str], limit: int = MAX_LINE_CHARS, *, held: list[str] | None = None) -> Iterator[str | None]:
    """The lines of a text file, as iterating it would give them; a line longer than ``limit`` characters is
    yielded as None, read and dropped in pieces of ``limit`` (never held whole).

    ``held``: when given, a last line without a line break is not yielded but appended to ``held``. A log
    still being written (stdout redirected to a file is flushed in 8 KB blocks) often ends in half a
    line, ``loss 0.5`` of ``loss 0.5321``; read as is, it is a wrong value. See :func:`still_written`.
    """
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        if held is not None and len(line) <= limit and line[-1] not in "\r\n":  # only the last line can be
            held.append(line)
            return
        if len(line) <= limit or line[-1] in "\r\n":
            yield line
            continue
        while True:  # drop the rest of the long line
            rest = fh.readline(limit)
            if not rest or rest[-1] in "\r\n":
                break
        yield None


def text_encoding(start: bytes) -> str:
    """The encoding a text log starting with ``start`` is read in: UTF-8, unless a byte-order mark says
    otherwise (PowerShell's ``>`` writes UTF-16 with a BOM; Notepad writes UTF-8 with one)."""
    if start.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    return "utf-8"


def decode_head(data: bytes) -> str:
    """The first bytes of a text file as text, in :func:`text_encoding`'s encoding; bad bytes replaced."""
    return data.decode(text_encoding(data), errors="replace")


def open_text(path: str | os.PathLike[str], *, newline: str | None = None) -> IO[str]:
    """Open a text log for reading in :func:`text_encoding`'s encoding, undecodable bytes replaced."""
    with open(path, "rb") as fh:
        start = fh.read(3)
    return open(path, encoding=text_encoding(start), errors="replace", newline=newline)


STILL_WRITTEN_S = 120.0
"""A file modified less than this long ago may still be written: its unterminated last line is held back."""


def still_written(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` was modified in the last :data:`STILL_WRITTEN_S` seconds (a run writing it)."""
    try:
        return time.time() - os.stat(path).st_mtime < STILL_WRITTEN_S
    except OSError:
        return False


def held_line_note(path: object) -> str:
    return (f"{path}: the last line has no line break yet and the file was written in the last "
            f"{STILL_WRITTEN_S:.0f} s (a run still writing it?): not read until it is complete.")


def as_float(value: object) -> float | None:
    """A number from a logged value (int, float, numeric string incl. ``nan``/``inf``); None when it is
    not one, or is an integer too large for a float (``10**400`` in a JSON log)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return None
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def as_step(value: object) -> int | None:
    """A training step from a logged value: a finite number whose integer part fits in an int64
    (truncated towards zero, as ``int()`` does), else None (NaN, Inf, ``1e300``, ``2**70``, text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if INT64_MIN <= value <= INT64_MAX else None
    number = as_float(value)
    if number is None or not math.isfinite(number):
        return None
    step = int(number)
    return step if INT64_MIN <= step <= INT64_MAX else None


def in_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


def small_int(digits: str) -> int | None:
    """``int(digits)`` for a regex's digit group, or None when it has too many digits for an int64
    (``int()`` itself would raise past 4300 digits)."""
    digits = digits.strip()
    if len(digits.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
        return None
    try:
        return int(digits)
    except ValueError:
        return None


def clean_text(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udcff`` escapes, so that it can be sent as UTF-8."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def clean_strings(value: Any) -> Any:
    """Every string (keys too) of a JSON-like value (dicts, lists, scalars) through :func:`clean_text`,
    in place and without recursion."""
    if isinstance(value, str):
        return clean_text(value)
    if not isinstance(value, dict | list):
        return value
    root: list[Any] = [value]
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            items = list(node.items())
            node.clear()
            for k, v in items:
                node[clean_text(k)] = clean_text(v) if isinstance(v, str) else v
                if isinstance(v, dict | list):
                    stack.append(v)
        else:
            for i, v in enumerate(node):
                if isinstance(v, str):
                    node[i] = clean_text(v)
                elif isinstance(v, dict | list):
                    stack.append(v)
    return root[0]


def json_loads(text: str | bytes) -> Any:
    """``json.loads`` whose every failure is a :class:`ValueError` (``json.JSONDecodeError`` for bad
    syntax, as before): nesting past the recursion limit and numbers past Python's digit limit
    raise ``ValueError`` with a message saying so instead of ``RecursionError``. Lone surrogates
    (``"\\ud800"`` escapes) come back as :func:`clean_text` writes them."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise ValueError("JSON nested too deeply to read (deeper than Python's recursion limit)") from None
    except ValueError as exc:  # int('9' * 5000): "Exceeds the limit (4300 digits) ..."
        raise ValueError(f"a JSON number too long to read ({str(exc).split(':')[0]})") from None
    return clean_strings(value) if _SURROGATE_ESCAPE.search(text) else value


def literal(text: str) -> Any:
    """``ast.literal_eval(text)``: literals only, nothing in the text is run; the SyntaxWarnings Python prints
    for odd tokens (``1_0x``: "invalid decimal literal") are not the user's business, and strings come back as
    :func:`clean_strings` writes them. Raises what ``literal_eval`` raises."""
    import ast
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        return clean_strings(ast.literal_eval(text))


def json_error(exc: BaseException) -> str:
    """A short description of a failure of :func:`json_loads` / ``json.load``."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply to read (deeper than Python's recursion limit)"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    return str(exc)[:200]


def short_repr(value: Any, limit: int = 80) -> str:
    """A bounded ``repr`` for error messages: at most three container levels and eight items per
    container are shown, huge integers by their size, long strings cut; never recurses without bound."""
    text = _render(value, 3)
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def short_text(value: Any, limit: int = 200) -> str:
    """``value`` itself when it is a string (cut to ``limit``), else :func:`short_repr` of it."""
    if isinstance(value, str):
        return clean_text(str(value[:limit]))
    return short_repr(value, limit)


def _render(value: Any, depth: int) -> str:
    if value is None or isinstance(value, bool | float | complex):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value)) if value.bit_length() <= 64 else f"<{value.bit_length()}-bit int>"
    if isinstance(value, str):
        return repr(str(value[:60])) + ("..." if len(value) > 60 else "")
    if isinstance(value, bytes | bytearray):
        return repr(bytes(value[:40])) + ("..." if len(value) > 40 else "")
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        opener, closer = ("{", "}") if isinstance(value, Mapping | set | frozenset) else (
            ("(", ")") if isinstance(value, tuple) else ("[", "]"))
        if depth <= 0:
            return opener + "..." + closer
        if isinstance(value, Mapping):
            parts = [f"{_render(k, depth - 1)}: {_render(v, depth - 1)}" for k, v in islice(value.items(), 8)]
        else:
            parts = [_render(v, depth - 1) for v in islice(value, 8)]
        if len(value) > 8:
            parts.append("...")
        return opener + ", ".join(parts) + closer
    return f"<{type(value).__name__}>"


def sendable(result: T) -> T:
    """``result`` as it can be sent: a record holding a lone surrogate (a file name that is not UTF-8,
    ``run\\xff/``, which ``os.fsdecode`` turns into ``\\udcff``) cannot be written as UTF-8 JSON, and the
    SDK (and the CLI) would fail with a generic error. Such strings are written as escapes (``\\udcff``).

    The check is one serialisation (well under a millisecond for a report); the cleaning only happens
    for the rare answer that needs it, on a copy.
    """
    import copy

    from .record import Record

    if not isinstance(result, Record):
        return clean_text(result) if isinstance(result, str) else result
    try:
        result.model_dump_json().encode("utf-8")
    except UnicodeEncodeError:
        return _clean_record(copy.deepcopy(result))
    return result


def _clean_record(node: Any) -> Any:
    """Every string in a record tree through :func:`clean_text`, in place (records nest as deep as their
    schema; the JSON-like values inside them go through the non-recursive :func:`clean_strings`)."""
    from .record import Record

    if isinstance(node, Record):
        for key, value in node.__dict__.items():
            node.__dict__[key] = _clean_record(value)
        return node
    if isinstance(node, list) and any(isinstance(v, Record) for v in node):
        node[:] = [_clean_record(v) for v in node]
        return node
    if isinstance(node, dict) and any(isinstance(v, Record) for v in node.values()):
        cleaned = {clean_text(k): _clean_record(v) for k, v in node.items()}
        node.clear()
        node.update(cleaned)
        return node
    return clean_strings(node)
