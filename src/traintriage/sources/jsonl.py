"""JSON-lines logs: one record per line, whatever the file is called.

Written by hand-rolled loggers, W&B history exports, detectron2 (``metrics.json``), mmdetection 2.x
(``<timestamp>.log.json``), LLaMA-Factory (``trainer_log.jsonl``) and many more:

- **Step**: the first of :data:`STEP_KEYS` the file's records carry (``step``, ``global_step``,
  ``iteration``, ``iter``, LLaMA-Factory's ``current_steps``, ...), else W&B's ``_step``, else the
  epoch, else the record number. The key is chosen once per file (from the first records that carry
  one) so steps stay consistent.
- **Counters that restart every epoch** (mmdetection's ``iter`` is the iteration *within* its
  ``epoch``): steps become ``(epoch - first) x P + iter`` with P the most iterations logged in an epoch,
  and a record of another phase (validation) is placed at the end of its epoch.
- **Phases**: a string ``mode``/``phase``/``split`` field (mmdetection writes ``"mode": "val"``) puts a
  non-training record's series under ``<phase>/`` (``val/bbox_mAP``, ``val/loss``).
- **Several runs in one file** (detectron2 appends to ``metrics.json`` when a run is started again in the
  same directory): when the step falls back to the first step of the run so far, a new run starts;
  the last one is analysed, the earlier ones are kept as ``earlier-run-<k>/<series>`` (no role; checked
  for NaN, a stuck or a zero loss), and a warning says so. A step that falls back
  less far is a resumed run: the later write of a repeated step wins (and a warning says so).
- Nested objects are flattened with ``/`` (``{"train": {"loss": 1}}`` -> ``train/loss``); W&B media
  entries and strings are skipped; keys starting with ``_`` are W&B bookkeeping, ``_timestamp`` (or
  ``timestamp``/``wall_time``) is the wall time. A record with no number at all (mmdetection's
  ``env_info`` header) is not a point.
- A line that is not a JSON object is reported as ``file:line`` and skipped; a truncated last line
  (a run still writing) is held back.
"""

from __future__ import annotations

import json
import math
from array import array
from pathlib import Path

import numpy as np

from ..signals import EARLIER_RUN_PREFIX, Series, is_loss_name
from ..untrusted import (
    MAX_LINE_CHARS,
    as_float,
    as_step,
    bounded_lines,
    held_line_note,
    json_error,
    json_loads,
    open_text,
    still_written,
)
from .collect import (
    STEP_KEYS,
    Columns,
    LineProblems,
    Stretch,
    earlier_run_prefix,
    flatten,
    load_each_and_merge,
    split_restarts,
)
from .formats import CERTAIN, Head, SourceFormat, suffix_claim

WALL_KEYS = ("_timestamp", "timestamp", "wall_time")
STEP_KEYS_JSONL = (*STEP_KEYS, "current_steps", "num_updates", "total_iter", "_step")
"""Step keys in order of preference (``_step``, W&B's record counter, only when no other is logged)."""
EPOCH_KEY = "epoch"
WITHIN_EPOCH_KEYS = frozenset({"iter", "it", "batch", "inner_iter"})
"""Counters that some loggers restart every epoch (checked on the data, not assumed)."""
PHASE_KEYS = ("mode", "phase", "split")
TRAIN_PHASES = frozenset({"train", "training", ""})
_PROBE_RECORDS = 200


def _choose_step_key(keys_seen: set[str]) -> str | None:
    return next((key for key in STEP_KEYS_JSONL if key in keys_seen), None)


def _phase_of(flat: dict) -> str:
    for key in PHASE_KEYS:
        value = flat.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return ""


class _Records:
    """Per-record bookkeeping while streaming: the raw step, epoch and phase of record i; the values go to
    :class:`Columns` keyed by series name with the record index in place of the step."""

    def __init__(self) -> None:
        self.steps = array("d")
        self.epochs = array("d")
        self.train = array("b")
        self.cols = Columns()

    def add(self, step: float, epoch: float, phase: str, values: list[tuple[str, float, float]]) -> None:
        index = len(self.steps)
        self.steps.append(step)
        self.epochs.append(epoch)
        self.train.append(phase in TRAIN_PHASES)
        prefix = "" if phase in TRAIN_PHASES else f"{phase}/"
        for key, value, wall in values:
            self.cols.add(prefix + key, index, value, wall)

    def __len__(self) -> int:
        return len(self.steps)


def _epoch_relative(steps: np.ndarray, epochs: np.ndarray, train: np.ndarray) -> np.ndarray | None:
    """Global steps when the step counter restarts every epoch (training records show it falling back as the
    epoch grows), else None. Records of other phases go to the end of their epoch."""
    ok = train & np.isfinite(steps) & np.isfinite(epochs)
    if ok.sum() < 2:
        return None
    s, e = steps[ok], epochs[ok]
    fell = np.flatnonzero(s[1:] < s[:-1])
    if fell.size == 0 or not np.all(e[fell + 1] > e[fell]):
        return None
    per_epoch = float(np.max(s))
    first = float(np.min(e))
    out = (epochs - first) * per_epoch + steps
    other = ~train & np.isfinite(epochs)
    out[other] = (epochs[other] - first + 1) * per_epoch
    return out


def _epoch_numbered(steps: np.ndarray, epochs: np.ndarray) -> np.ndarray | None:
    """Steps with the records that number themselves by epoch moved to the end of that epoch, or None.

    mmengine's ``scalars.json`` gives training records the global iteration as ``step`` (and an ``epoch``),
    but validation records, which have no ``epoch``, the epoch number as ``step``. Told by the data: every
    record without an epoch has a step that is one of the training records' epochs.
    """
    has_epoch = np.isfinite(epochs) & np.isfinite(steps)
    without = ~np.isfinite(epochs) & np.isfinite(steps)
    if not has_epoch.any() or not without.any():
        return None
    train_epochs, train_steps = epochs[has_epoch], steps[has_epoch]
    if not np.all(np.isin(steps[without], train_epochs)) or steps[without].max() > 0.5 * train_steps.max():
        return None
    out = steps.copy()
    for i in np.flatnonzero(without):
        out[i] = train_steps[train_epochs == steps[i]].max()
    return out


def _stretches(steps: np.ndarray, train: np.ndarray, main: np.ndarray | None) -> list[Stretch]:
    """The stretches between restarts of the step counter of the training records (see
    :func:`~.collect.split_restarts`), their starts as record indices. ``main``: the main loss per record (NaN
    where absent), which tells a new run from the next stage of the same one."""
    ok = train & np.isfinite(steps) & (np.isfinite(main) if main is not None else True)
    at = np.flatnonzero(ok)  # the records that carry the main loss: evaluations keep their own numbering
    if at.size == 0:
        return [Stretch(0, True, 0.0)]
    values = main[at] if main is not None else np.full(at.size, np.nan)
    found = split_restarts(steps[at].tolist(), values.tolist())
    return [Stretch(0 if k == 0 else int(at[st.start]), st.new_run, st.offset) for k, st in enumerate(found)]


def _main_loss(records: _Records, n: int) -> np.ndarray | None:
    """The value of the training loss at each record (NaN where the record has none), by the loss most often
    logged."""
    names = [k for k in records.cols if is_loss_name(k) and "/" not in k]
    if not names:
        return None
    best = max(names, key=lambda k: records.cols.arrays(k)[0].size)
    idx, values, _ = records.cols.arrays(best)
    out = np.full(n, np.nan)
    out[idx] = values
    return out


def _parse(path: Path) -> tuple[dict[str, Series], list[str]]:
    problems = LineProblems(path)
    warnings: list[str] = []
    records = _Records()
    step_key: str | None = None
    probe: list[dict] = []  # the first records, held until the step key is known
    keys_seen: set[str] = set()
    decided = False
    held_back: list[str] = []  # a last line without a line break, while the file is written

    def emit(flat: dict) -> None:
        wall = next((w for w in (as_float(flat.get(k)) for k in WALL_KEYS) if w is not None), math.nan)
        values = []
        for key, raw in flat.items():
            if key == step_key or key.startswith("_") or key in WALL_KEYS or isinstance(raw, str):
                continue
            number = as_float(raw)  # None for 10**400, booleans, lists
            if number is not None:
                values.append((key, number, wall))
        if not values:  # a header (env_info) or bookkeeping record
            return
        if step_key is None:
            step_value = float(len(records))  # the record number
        else:
            step = as_step(flat.get(step_key))
            step_value = float(step) if step is not None else math.nan  # counted as missing below
        epoch = as_float(flat.get(EPOCH_KEY))
        records.add(step_value, epoch if epoch is not None else math.nan, _phase_of(flat), values)

    try:
        with open_text(path) as fh:
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
                    emit(flat)
                    continue
                probe.append(flat)
                keys_seen.update(flat)
                choice = _choose_step_key(keys_seen)
                if (choice is not None and choice != "_step") or len(probe) >= _PROBE_RECORDS:
                    step_key, decided = choice, True
                    for held in probe:
                        emit(held)
                    probe = []
    except OSError as err:
        return {}, [f"{path}: cannot read ({err})"]
    if not decided:
        step_key = _choose_step_key(keys_seen)
        for held in probe:
            emit(held)
    series = _to_series(path, records, step_key, warnings)
    if held_back:
        warnings.append(held_line_note(path))
    return series, warnings + problems.finish()


def _to_series(path: Path, records: _Records, step_key: str | None, warnings: list[str]) -> dict[str, Series]:
    """Turn the per-record columns into series with global steps (epoch-relative counters, restarts)."""
    n = len(records)
    if n == 0:
        return {}
    steps = np.frombuffer(records.steps, dtype=np.float64).copy()
    epochs = np.frombuffer(records.epochs, dtype=np.float64)
    train = np.frombuffer(records.train, dtype=np.int8).astype(bool)
    if step_key is None:
        if np.isfinite(epochs).all():
            steps = epochs.copy()
            warnings.append(f"{path}: records carry no step, only the epoch; steps are epochs.")
        else:
            warnings.append(f"{path}: records carry no step ({', '.join(STEP_KEYS_JSONL[:4])}, ...); steps are "
                            "record numbers.")
    elif (by_epoch := _epoch_numbered(steps, epochs)) is not None:
        steps = by_epoch
        warnings.append(f"{path}: records without an epoch carry the epoch as their {step_key!r} (mmengine's "
                        "validation records); they are placed at the last step of that epoch.")
    elif step_key in WITHIN_EPOCH_KEYS:
        glob = _epoch_relative(steps, epochs, train)
        if glob is not None:
            steps = glob
            warnings.append(f"{path}: {step_key!r} restarts every epoch; steps are (epoch - first) x "
                            f"{int(np.nanmax(np.frombuffer(records.steps)[train]))} + {step_key}.")
    stretches = _stretches(steps, train, _main_loss(records, n))
    starts = np.array([st.start for st in stretches])
    stretch_of = np.searchsorted(starts, np.arange(n), side="right") - 1
    steps = steps + np.array([st.offset for st in stretches])[stretch_of]
    run_of = np.cumsum([st.new_run for st in stretches])[stretch_of] - 1
    runs = int(run_of[-1]) + 1
    if runs > 1:
        last = int(starts[[st.new_run for st in stretches]][-1])
        warnings.append(f"{path}: holds {runs} runs one after another (the step starts again from the beginning "
                        f"at record {last + 1}); the last one ({n - last} records) is analysed, the others are kept "
                        f"as {EARLIER_RUN_PREFIX}<k>/<series>.")
    if len(stretches) > runs:
        warnings.append(f"{path}: the step counter starts again {len(stretches) - runs} time(s) where the loss picks "
                        "up where it left off (a stage of one run): the steps are made to run on.")
    missing = int(np.count_nonzero(~np.isfinite(steps)))
    if missing:
        warnings.append(f"{path}: {missing} records without a numeric {step_key!r} (a finite integer within "
                        "int64) were skipped.")
    out: dict[str, Series] = {}
    for key in records.cols:
        idx, values, walls = records.cols.arrays(key)
        for run in np.unique(run_of[idx]).tolist():
            keep = (run_of[idx] == run) & np.isfinite(steps[idx])
            if keep.any():
                name = earlier_run_prefix(run, runs) + key
                out[name] = Series.from_arrays(name, steps[idx[keep]].astype(np.int64), values[keep], walls[keep])
    return out


def load(run_dir: Path, files: list[Path]) -> tuple[dict[str, Series], list[str]]:
    """Every JSONL file of the run; names repeated across files are prefixed by the later file's path."""
    return load_each_and_merge(run_dir, files, _parse)


def _sniff(head: Head) -> bool:
    """Two or more lines that are each a JSON object (one object alone is a config or a summary, such as
    ``all_results.json``; a ``.jsonl`` file is taken by its name whatever it holds)."""
    lines = [line for line in head.lines if line.strip()]
    if not lines and not head.complete and head.text.lstrip().startswith("{"):
        head = head.longer()  # a first record bigger than the head (mmdetection's env_info + config)
        lines = [line for line in head.lines if line.strip()]
    objects: list[dict] = []
    for line in lines[:8]:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            return False
        if not isinstance(record, dict):
            return False
        objects.append(record)
    return len(objects) >= 2


FORMAT = SourceFormat(
    "jsonl",
    "JSON lines, one record per step, whatever the name: hand-rolled loggers, W&B history exports, detectron2 "
    "metrics.json, mmdetection *.log.json (mode: train|val, per-epoch iter), LLaMA-Factory trainer_log.jsonl",
    lambda path: CERTAIN if path.name.lower().endswith((".jsonl", ".ndjson")) else suffix_claim(
        path, (".json", ".log", ".txt")),
    _sniff,
    load,
)
