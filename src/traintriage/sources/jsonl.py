"""JSON-lines logs: one record per line, as written by hand-rolled loggers and by W&B history exports.

- Step: the first of :data:`~.collect.STEP_KEYS` present in the file's records (``step``,
  ``global_step``, ``train/global_step``, ...), else W&B's own ``_step``, else the record number.
  The key is chosen once per file (from the first records that carry one) so steps stay consistent.
- Nested objects are flattened with ``/`` (``{"train": {"loss": 1}}`` -> ``train/loss``), the way W&B
  names panels; W&B media entries (objects with ``_type``) and strings are skipped.
- Keys starting with ``_`` are W&B bookkeeping (``_runtime``, ``_timestamp``): ``_timestamp`` (or
  ``timestamp``/``wall_time``) becomes the wall time, the rest is not a series.
- A line that is not a JSON object is reported as ``file:line`` and skipped; a truncated last line
  (a run still writing) is reported the same way.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..signals import Series
from ..untrusted import (
    MAX_LINE_CHARS,
    as_float,
    as_step,
    bounded_lines,
    held_line_note,
    json_error,
    json_loads,
    still_written,
)
from .collect import STEP_KEYS, Columns, LineProblems, flatten, load_each_and_merge

WALL_KEYS = ("_timestamp", "timestamp", "wall_time")
_PROBE_RECORDS = 200


def _choose_step_key(keys_seen: set[str]) -> str | None:
    for key in (*STEP_KEYS, "_step"):
        if key in keys_seen:
            return key
    return None


def _parse(path: Path) -> tuple[dict[str, Series], list[str]]:
    problems = LineProblems(path)
    warnings: list[str] = []
    cols = Columns()
    step_key: str | None = None
    probe: list[tuple[int, dict]] = []  # the first records, held until the step key is known
    keys_seen: set[str] = set()
    ordinal = 0
    decided = False
    missing_step = 0
    held_back: list[str] = []  # a last line without a line break, while the file is written

    def emit(line_no: int, flat: dict) -> None:
        nonlocal ordinal, missing_step
        if step_key is None:
            step = ordinal
        else:
            value = as_step(flat.get(step_key))  # None for NaN, Inf and steps past int64 (1e300, 2**70)
            if value is None:
                missing_step += 1
                return
            step = value
        ordinal += 1
        wall = next((w for w in (as_float(flat.get(k)) for k in WALL_KEYS) if w is not None), math.nan)
        for key, raw in flat.items():
            if key == step_key or key.startswith("_") or key in WALL_KEYS:
                continue
            number = as_float(raw) if not isinstance(raw, str) else None  # None for 10**400
            if number is not None:
                cols.add(key, step, number, wall)

    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line_no, line in enumerate(bounded_lines(fh, held=held_back if still_written(path) else None), 1):
                if line is None:
                    problems.add(line_no, f"line longer than {MAX_LINE_CHARS:,} characters; skipped")
                    continue
                text = line.strip()
                if not text:
                    continue
                try:
                    record = json_loads(text)  # lone surrogates ("\ud800") come back escaped
                except json.JSONDecodeError as err:
                    problems.add(line_no, f"not valid JSON ({err.msg} at column {err.colno})")
                    continue
                except (ValueError, RecursionError) as err:  # nested past the recursion limit, a 5000-digit number
                    problems.add(line_no, f"unreadable JSON ({json_error(err)})")
                    continue
                if not isinstance(record, dict):
                    problems.add(line_no, f"a JSON {type(record).__name__}, not an object")
                    continue
                flat = dict(flatten(record))
                if decided:
                    emit(line_no, flat)
                    continue
                probe.append((line_no, flat))
                keys_seen.update(flat)
                choice = _choose_step_key(keys_seen)
                if choice in STEP_KEYS or len(probe) >= _PROBE_RECORDS:  # a real step key, or looked long enough
                    step_key, decided = choice, True
                    for held in probe:
                        emit(*held)
                    probe = []
    except OSError as err:
        return {}, [f"{path}: cannot read ({err})"]
    if not decided:
        step_key = _choose_step_key(keys_seen)
        for held in probe:
            emit(*held)
    if step_key is None and ordinal:
        warnings.append(f"{path}: records carry no step ({', '.join(STEP_KEYS[:4])}, _step); steps are record numbers.")
    if missing_step:
        warnings.append(f"{path}: {missing_step} records without a numeric {step_key!r} (a finite integer within "
                        "int64) were skipped.")
    if held_back:
        warnings.append(held_line_note(path))
    return cols.to_series(), warnings + problems.finish()


def load(run_dir: Path, files: list[Path]) -> tuple[dict[str, Series], list[str]]:
    """Every JSONL file of the run; names repeated across files are prefixed by the later file's path."""
    return load_each_and_merge(run_dir, files, _parse)
