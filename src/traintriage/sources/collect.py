"""Shared pieces of the line-oriented readers (CSV, JSONL, text logs, MLflow, trainer_state).

- :class:`Columns` gathers ``(step, value, wall_time)`` points per key in compact arrays while a
  file is streamed, so a log of millions of lines never becomes millions of dicts.
- :class:`LineProblems` records lines that could not be read as ``file:line: why``, keeps the first
  few and summarises the rest, so a corrupt file gives a short, actionable warning list.
- :func:`merge_files` joins the series of several files of one run, keeping names users recognise.
- :func:`looks_like_metric` decides which free-text fields are metrics (``loss``, ``lr``) and which are
  timing or bookkeeping (``ms/batch``, ``eta``), so a ``nan`` timing never becomes a NaN loss.
"""

from __future__ import annotations

import functools
import math
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import bottleneck as bn
import numpy as np

from ..signals import EARLIER_RUN_PREFIX, Series

MAX_LINE_WARNINGS = 10
"""Unreadable lines reported one by one per file; the rest are counted."""

STEP_KEYS = ("step", "global_step", "train/global_step", "trainer/global_step", "iteration", "iter", "it", "batch")
"""Column or field names that hold the training step, in order of preference."""


class Columns:
    """Points per key, appended while streaming; turned into :class:`Series` at the end."""

    def __init__(self) -> None:
        self._cols: dict[str, tuple[array, array, array]] = {}

    def add(self, key: str, step: int, value: float, wall: float = math.nan) -> None:
        col = self._cols.get(key)
        if col is None:
            col = self._cols[key] = (array("q"), array("d"), array("d"))
        col[0].append(step)
        col[1].append(value)
        col[2].append(wall)

    def __contains__(self, key: str) -> bool:
        return key in self._cols

    def keys(self) -> list[str]:
        return list(self._cols)

    def __iter__(self) -> Iterator[str]:
        return iter(self._cols)

    def extend(self, other: Columns, prefix: str = "") -> None:
        """Append every point of ``other``, its keys prefixed with ``prefix``."""
        for key, (steps, values, walls) in other._cols.items():
            col = self._cols.get(prefix + key)
            if col is None:
                col = self._cols[prefix + key] = (array("q"), array("d"), array("d"))
            col[0].extend(steps)
            col[1].extend(values)
            col[2].extend(walls)

    def steps_of(self, key: str) -> np.ndarray:
        return np.frombuffer(self._cols[key][0], dtype=np.int64).copy()

    def arrays(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(steps, values, wall_times)`` of one key, as appended (unsorted, repeats kept)."""
        steps, values, walls = self._cols[key]
        return (np.frombuffer(steps, dtype=np.int64).copy(), np.frombuffer(values, dtype=np.float64).copy(),
                np.frombuffer(walls, dtype=np.float64).copy())

    def to_series(self) -> dict[str, Series]:
        out = {}
        for key, (steps, values, walls) in self._cols.items():
            out[key] = Series.from_arrays(
                key,
                np.frombuffer(steps, dtype=np.int64).copy(),
                np.frombuffer(values, dtype=np.float64).copy(),
                np.frombuffer(walls, dtype=np.float64).copy(),
            )
        return out


RESTART_INTERVALS = 2
"""A step that falls back to within this many logging intervals of where its stretch began starts it again
(``batch: 69`` then ``batch: 10`` after ``batch: 9``); one that falls back less far is a resume, whose
repeated steps the later write wins."""
INTERVAL_SAMPLE = 32
"""The logging interval of a stretch is the median of its first gaps between steps."""
CONTINUE_RATIO = 1.1
"""A restarted counter whose loss picks up within 10 % of where the previous stretch ended continues that
stretch (the epoch counter of each self-play iteration, each curriculum stage): the steps run on. A loss
that starts again far from there (back at the untrained level) is a new run logged in the same file."""


@dataclass(frozen=True)
class Stretch:
    """A stretch of a log between restarts of its step counter: where it starts (index into the main
    series, in file order), whether it is a new run (else it continues the one before), and the offset added
    to its steps (a continuation runs on after the stretch before it)."""

    start: int
    new_run: bool
    offset: float


def split_restarts(steps: Sequence[float], values: Sequence[float]) -> list[Stretch]:
    """The stretches of a main series given in file order (see :data:`RESTART_INTERVALS`,
    :data:`CONTINUE_RATIO`); one stretch when the counter never restarts."""
    stretches = [Stretch(0, True, 0.0)]
    n = len(steps)
    seg_start, last_i = 0, 0  # the current stretch: its first index and its last one so far
    gaps: list[float] = []  # its first INTERVAL_SAMPLE step gaps: the logging interval, in O(1) per point
    interval = 1.0
    offset = 0.0
    for i in range(1, n):
        s, first, last = steps[i], steps[seg_start], steps[last_i]
        if len(gaps) < 2:
            interval = max(abs(last - first), 1.0)
        if not (s < last and s <= first + RESTART_INTERVALS * max(interval, 1e-12)):
            if len(gaps) < INTERVAL_SAMPLE:
                gaps.append(s - last)
                if len(gaps) >= 2:
                    interval = float(bn.median(gaps))
            last_i = i
            continue
        before = [values[j] for j in range(max(seg_start, last_i - 2), last_i + 1) if math.isfinite(values[j])]
        after = [v for v in values[i : i + 3] if math.isfinite(v)]
        end, start = (float(bn.median(before)), float(bn.median(after))) if before and after else (0.0, 0.0)
        continues = end > 0 and start > 0 and max(start / end, end / start) <= CONTINUE_RATIO
        offset = offset + (last - s + max(interval, 1.0)) if continues else 0.0
        stretches.append(Stretch(i, not continues, offset))
        seg_start, last_i, gaps = i, i, []
    return stretches


def earlier_run_prefix(run: int, runs: int) -> str:
    """The name prefix of the ``run``-th (0-based) of ``runs`` runs logged one after another in one file: none
    for the last one, which is analysed; ``earlier-run-<k>/`` (k from 1) for the others."""
    return "" if run == runs - 1 else f"{EARLIER_RUN_PREFIX}{run + 1}/"


class LineProblems:
    """Lines of one file that could not be read: the first :data:`MAX_LINE_WARNINGS` in full, then a count."""

    def __init__(self, path: Path, cap: int = MAX_LINE_WARNINGS) -> None:
        self.path = path
        self.cap = cap
        self.messages: list[str] = []
        self.more = 0

    def add(self, where: int | str, why: str) -> None:
        if len(self.messages) < self.cap:
            self.messages.append(f"{self.path}:{where}: {why}")
        else:
            self.more += 1

    def __len__(self) -> int:
        return len(self.messages) + self.more

    def finish(self) -> list[str]:
        if self.more:
            return [*self.messages, f"{self.path}: and {self.more} more unreadable lines or records"]
        return list(self.messages)


def flatten(record: dict, prefix: str = "") -> Iterable[tuple[str, object]]:
    """``{"train": {"loss": 1}}`` -> ``("train/loss", 1)``; W&B media dicts (``_type``) are skipped."""
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if "_type" in value:
                continue
            yield from flatten(value, name + "/")
        else:
            yield name, value


_WORD_SPLIT = re.compile(r"[/._\-\s]+")
_METRIC_WORDS = frozenset(
    [
        "lr",
        "ppl",
        "perplexity",
        "bleu",
        "f1",
        "auc",
        "mse",
        "mae",
        "rmse",
        "error",
        "err",
        "score",
        "reward",
        "kl",
        "entropy",
        "precision",
        "recall",
        "iou",
        "dice",
        "bpb",
        "bpc",
        "wer",
        "cer",
        "map",
        "nll",
        "ce",
        "top1",
        "top5",
        "norm",
        "gnorm",
        "trl",
        "tel",
        "xent",
        "epoch",
        "epochs",
    ]
)
_METRIC_PREFIXES = ("loss", "grad", "acc", "rouge", "mem", "learning")
_TIMING_WORDS = frozenset(
    [
        "time",
        "runtime",
        "ms",
        "eta",
        "elapsed",
        "sec",
        "secs",
        "seconds",
        "s",
        "speed",
        "throughput",
        "fps",
        "per",
        "second",
        "it",
        "v",
        "num",
        "avg",
    ]
)


@functools.lru_cache(maxsize=4096)
def looks_like_metric(name: str) -> bool:
    """True for ``loss``, ``val_loss``, ``lr``, ``grad_norm``, ``acc``...; False for ``ms/batch``, ``eta``, ``v_num``.

    Used by the text-log reader only: free text carries timings and counters next to metrics, and a
    ``nan`` in a timing field must not be read as a NaN loss. Structured formats keep every number.
    """
    words = [w for w in _WORD_SPLIT.split(name.lower()) if w]
    if not words:
        return False
    if any("loss" in w for w in words):
        return True
    if any(w in _TIMING_WORDS for w in words):
        return False
    return any(w in _METRIC_WORDS or w.startswith(_METRIC_PREFIXES) for w in words)


def merge_files(run_dir: Path, per_file: list[tuple[Path, dict[str, Series]]]) -> tuple[dict[str, Series], list[str]]:
    """One dict of series for a run logged to several files.

    A name first seen in an earlier file keeps its plain name (what the user logged); the same name in
    a later file is prefixed with that file's path relative to the run (without suffix), and a
    warning says so, since two files logging one metric usually means a copy (stdout tee'd twice) or
    two phases.
    """
    merged: dict[str, Series] = {}
    warnings: list[str] = []
    for path, series in per_file:
        try:
            label = str(path.relative_to(run_dir).with_suffix(""))
        except ValueError:
            label = path.stem
        renamed = []
        for name, s in series.items():
            if name in merged:
                new = f"{label}/{name}"
                merged[new] = Series(new, s.steps, s.values, s.wall_times)
                renamed.append(name)
            else:
                merged[name] = s
        if renamed:
            warnings.append(
                f"{path}: {', '.join(renamed[:8])}{' ...' if len(renamed) > 8 else ''} also logged in an earlier "
                f"file; named {label}/<name> here."
            )
    return merged, warnings


def load_each_and_merge(
    run_dir: Path, files: list[Path], parse
) -> tuple[dict[str, Series], list[str]]:
    """Parse every file of a run through the parsed-file cache and merge them (names repeated across
    files are prefixed by the later file's path): the whole ``load`` of a per-file text format."""
    from ..limits import check_budget
    from .filecache import cached

    per_file: list[tuple[Path, dict[str, Series]]] = []
    warnings: list[str] = []
    for path in files:
        check_budget()  # a server call's time/memory budget, per file (traintriage.limits)
        series, warns = cached(path, parse)
        warnings.extend(warns)
        if series:
            per_file.append((path, series))
    merged, merge_warnings = merge_files(run_dir, per_file)
    return merged, warnings + merge_warnings
