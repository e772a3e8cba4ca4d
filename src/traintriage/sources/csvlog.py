"""CSV logs: Keras ``CSVLogger``, Lightning ``CSVLogger`` (``metrics.csv``) and generic step tables.

The step is the first column named like a step (:data:`~.collect.STEP_KEYS`: ``step``,
``global_step``, ``iteration``, ``iter``, ``it``, ``batch``); else ``epoch`` (Keras: one row per
epoch, numbered from 0 as Keras writes it); else the data row number (from 0), with a warning.
Every other column with numbers becomes a series named by its header, so ``loss``/``val_loss``
(Keras) and ``train_loss_step``/``val_loss``/``lr-AdamW`` (Lightning) keep their names and roles.

Lightning writes sparse rows (step metrics and epoch/validation metrics on different rows, other
cells empty): empty cells are simply no point. Columns that never hold a number (dates, names) are
dropped; a non-number in a numeric column is reported as ``file:line``. Wall time comes from a
``wall_time``/``timestamp``/``_timestamp`` column when there is one.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from pathlib import Path

from ..signals import Series
from ..untrusted import (
    MAX_LINE_CHARS,
    as_float,
    as_step,
    bounded_lines,
    held_line_note,
    open_text,
    short_repr,
    still_written,
)
from .collect import STEP_KEYS, Columns, LineProblems, load_each_and_merge, looks_like_metric
from .formats import Head, SourceFormat, suffix_claim

WALL_KEYS = ("wall_time", "walltime", "_timestamp", "timestamp")


def _index_columns(header: list[str]) -> tuple[int | None, str, int | None]:
    """(step column, how steps are counted, wall-time column)."""
    low = [h.strip().lower() for h in header]
    step_col = next((low.index(k) for k in STEP_KEYS if k in low), None)
    how = header[step_col].strip() if step_col is not None else ""
    if step_col is None and "epoch" in low:
        step_col, how = low.index("epoch"), "epoch"
    wall_col = next((low.index(k) for k in WALL_KEYS if k in low), None)
    return step_col, how, wall_col


def parse_csv_lines(
    path: Path, lines, first_line_no: int = 1, delimiter: str = ","
) -> tuple[dict[str, Series], list[str]]:
    """Parse CSV text (an iterator of lines, header first), its fields split by ``delimiter``."""
    problems = LineProblems(path)
    warnings: list[str] = []
    long_lines: list[int] = []

    def feed():  # lines from bounded_lines: None stands for a line too long to read, seen as an empty one
        for i, line in enumerate(lines):
            if line is None:
                long_lines.append(i + first_line_no)
                yield "\n"
            else:
                yield line

    reader = csv.reader(feed(), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return {}, [f"{path}: empty file"]
    except csv.Error as err:
        return {}, [f"{path}:{first_line_no}: unreadable CSV header ({err})"]
    header = [h.strip() for h in header]
    step_col, how, wall_col = _index_columns(header)
    if step_col is None:
        warnings.append(f"{path}: no step, iteration or epoch column; steps are data row numbers from 0.")
    skip = {step_col, wall_col}
    cols = Columns()
    bad_cells: dict[int, list[int]] = {}
    bad_counts: dict[int, int] = {}
    numeric = [False] * len(header)
    row_no = -1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            problems.add(reader.line_num + first_line_no - 1, f"unreadable CSV row ({err})")
            continue
        line_no = reader.line_num + first_line_no - 1
        if not row or all(not c.strip() for c in row):
            continue
        row_no += 1
        if len(row) != len(header):
            problems.add(line_no, f"{len(row)} fields where the header has {len(header)}")
            continue
        if step_col is None:
            step = row_no
        else:
            step_value = as_step(row[step_col])  # None for NaN, Inf and steps past int64 (1e300)
            if step_value is None:
                problems.add(line_no, f"{header[step_col]!r} is not a step number ({short_repr(row[step_col])})")
                continue
            step = step_value
        wall = math.nan
        if wall_col is not None:
            wall = as_float(row[wall_col]) or math.nan
        for i, cell in enumerate(row):
            if i in skip or not cell.strip():
                continue
            value = as_float(cell)
            if value is None:
                seen = bad_cells.setdefault(i, [])
                bad_counts[i] = bad_counts.get(i, 0) + 1
                if len(seen) <= problems.cap:  # a text column: keep a few line numbers, count the rest
                    seen.append(line_no)
                continue
            numeric[i] = True
            cols.add(header[i], step, value, wall)
    for i, line_nos in bad_cells.items():
        if numeric[i]:  # a numeric column with some non-numbers: say where
            for line_no in line_nos:
                problems.add(line_no, f"{header[i]!r} is not a number")
            problems.more += bad_counts[i] - len(line_nos)
    dropped = [header[i] for i in bad_cells if not numeric[i]]
    if dropped:
        warnings.append(f"{path}: columns without numbers not read: {', '.join(dropped[:10])}.")
    if how == "epoch":
        warnings.append(f"{path}: one row per epoch (Keras CSVLogger style); steps are epochs.")
    for line_no in long_lines:
        problems.add(line_no, f"line longer than {MAX_LINE_CHARS:,} characters; skipped")
    return cols.to_series(), warnings + problems.finish()


def _parse(path: Path) -> tuple[dict[str, Series], list[str]]:
    try:
        held: list[str] = []
        with open_text(path, newline="") as fh:
            lines = bounded_lines(fh, held=held if still_written(path) else None)
            first = next((line for line in lines if line is None or line.strip()), None)
            delimiter = _delimiter(first or "")
            if first is not None:
                lines = itertools.chain([first], lines)
            series, warnings = parse_csv_lines(path, lines, delimiter=delimiter)
        if delimiter != ",":
            warnings.insert(0, f"{path}: fields separated by {_DELIMITER_NAMES[delimiter]}.")
        return series, warnings + ([held_line_note(path)] if held else [])
    except OSError as err:
        return {}, [f"{path}: cannot read ({err})"]


_DELIMITER_NAMES = {",": "commas", "\t": "tabs", ";": "semicolons"}
_HEADER_FIELD_RE = re.compile(r"^[A-Za-z_][\w/.\-() \[\]%@:]*$")


def _delimiter(header: str) -> str:
    """The separator of a header line: the one of ``,``, tab, ``;`` that splits it into the most fields."""
    return max(_DELIMITER_NAMES, key=lambda d: (header.count(d), d == ","))


def _header_fields(line: str, delimiter: str) -> list[str] | None:
    """The names of a header line, or None when it is not one (a field that is not a name)."""
    fields = [f.strip().strip('"') for f in line.strip().split(delimiter)]
    if len(fields) < 2 or not all(_HEADER_FIELD_RE.match(f) for f in fields if f):
        return None
    return fields


def _sniff(head: Head) -> bool:
    """A header of names, one of them a metric or a step/epoch, then a row with as many fields, some numbers."""
    lines = [line for line in head.lines if line.strip()]
    if len(lines) < 2 or lines[0].lstrip().startswith(("{", "[", "#")):
        return False
    delimiter = _delimiter(lines[0])
    fields = _header_fields(lines[0], delimiter)
    if fields is None:
        return False
    low = {f.lower() for f in fields}
    if not (low & {"epoch", *STEP_KEYS} or any(looks_like_metric(f) for f in fields)):
        return False
    row = next(csv.reader([lines[1]], delimiter=delimiter), [])
    return len(row) == len(fields) and any(as_float(cell) is not None for cell in row if cell.strip())


def load(run_dir: Path, files: list[Path]) -> tuple[dict[str, Series], list[str]]:
    """Every CSV file of the run; names repeated across files are prefixed by the later file's path."""
    return load_each_and_merge(run_dir, files, _parse)


FORMAT = SourceFormat(
    "csv",
    "CSV/TSV logs: Keras CSVLogger (also as training.log), Lightning metrics.csv, ultralytics results.csv, "
    "any table with a step/iteration/epoch column",
    lambda path: suffix_claim(path, (".csv", ".tsv", ".log", ".txt")),
    _sniff,
    load,
)
