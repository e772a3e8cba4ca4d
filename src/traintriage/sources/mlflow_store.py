"""MLflow's file store (``mlruns/``), read directly: no MLflow install, no tracking server.

Layout: ``mlruns/<experiment_id>/<run_id>/{meta.yaml, metrics/, params/, tags/}``; each metric is a
file ``metrics/<key>`` of lines ``<timestamp_ms> <value> <step>`` (very old stores: no step; the
line number is used). Keys logged with ``/`` (``train/loss``) are subdirectories of ``metrics/`` and
are joined back with ``/``. Runs are found by their ``meta.yaml`` (the only file name the store
always writes); when the path holds several runs (an experiment dir), the one that started last is
read, deleted runs (``lifecycle_stage: deleted``) last of all, and a warning names the others.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path, PurePath

from ..signals import Series
from ..untrusted import MAX_LINE_CHARS, as_float, as_step, bounded_lines, held_line_note, still_written
from .collect import Columns, LineProblems
from .filecache import cached
from .formats import CERTAIN, NO, SourceFormat
from .inventory import is_regular_file

_META_RE = re.compile(r"^(\w+):\s*(.*?)\s*$")


def _meta(path: Path) -> dict[str, str]:
    """Top-level ``key: value`` pairs of a meta.yaml (enough for run_id, start_time, lifecycle_stage)."""
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in bounded_lines(fh):
                match = _META_RE.match(line) if line is not None else None
                if match:
                    out[match.group(1)] = match.group(2).strip("'\"")
    except OSError:
        pass
    return out


def _parse_metric(path: Path) -> tuple[dict[str, Series], list[str]]:
    problems = LineProblems(path)
    cols = Columns()
    held: list[str] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line_no, line in enumerate(bounded_lines(fh, held=held if still_written(path) else None), 1):
                if line is None:
                    problems.add(line_no, f"line longer than {MAX_LINE_CHARS:,} characters; skipped")
                    continue
                parts = line.split()
                if not parts:
                    continue
                if len(parts) not in (2, 3):
                    problems.add(line_no, f"expected 'timestamp value step', got {len(parts)} fields")
                    continue
                stamp, value = as_float(parts[0]), as_float(parts[1])
                step = as_step(parts[2]) if len(parts) == 3 else line_no - 1  # None past int64 (1e300)
                if stamp is None or value is None or step is None:
                    problems.add(line_no, f"not numbers: {line.strip()[:80]!r}")
                    continue
                cols.add("value", step, value, stamp / 1000.0)
    except OSError as err:
        return {}, [f"{path}: cannot read ({err})"]
    return cols.to_series(), problems.finish() + ([held_line_note(path)] if held else [])


def read_metric(path: Path, key: str) -> tuple[Series | None, list[str]]:
    """One metric file as the series named ``key`` (None when it holds no point), and its warnings."""
    parsed, warnings = cached(path, _parse_metric)
    s = parsed.get("value")
    return (None if s is None else Series(key, s.steps, s.values, s.wall_times)), warnings


def _read_run(run_dir: Path) -> tuple[dict[str, Series], list[str]]:
    metrics_dir = run_dir / "metrics"
    series: dict[str, Series] = {}
    warnings: list[str] = []
    real_run = run_dir.resolve()
    outside = 0
    for dirpath, dirnames, filenames in os.walk(metrics_dir):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not is_regular_file(path):  # a FIFO would block the read for ever
                continue
            if not path.resolve().is_relative_to(real_run):  # MLflow never writes symlinks: one out is not ours
                outside += 1
                continue
            key = path.relative_to(metrics_dir).as_posix()
            metric, warns = read_metric(path, key)
            warnings.extend(warns)
            if metric is not None:
                series[key] = metric
    if outside:
        warnings.append(f"{run_dir}: {outside} metric file(s) are symlinks to outside the run; not read.")
    return series, warnings


def load(run_dir: Path, files: list[Path]) -> tuple[dict[str, Series], list[str]]:
    """The run holding ``metrics/`` among the ``meta.yaml`` files given (the newest when several)."""
    runs = [(p.parent, _meta(p)) for p in files if (p.parent / "metrics").is_dir()]
    if not runs:
        return {}, [f"{run_dir}: MLflow experiment metadata but no run with a metrics/ directory."]
    warnings: list[str] = []

    def rank(item: tuple[Path, dict[str, str]]) -> tuple[int, float]:
        _folder, meta = item
        start = as_float(meta.get("start_time"))
        return (meta.get("lifecycle_stage") != "deleted", start if start is not None else -math.inf)

    folder, meta = max(runs, key=rank)
    if len(runs) > 1:
        others = [f.name for f, _ in runs if f != folder]
        warnings.append(
            f"{len(runs)} MLflow runs here; read {meta.get('run_name') or folder.name} ({folder.name}, started last); "
            f"others: {', '.join(others[:10])}{' ...' if len(others) > 10 else ''}. Pass a run directory to choose."
        )
    series, warns = _read_run(folder)
    return series, warns + warnings


def _claim(path: PurePath) -> int:
    return CERTAIN if path.name == "meta.yaml" else NO


FORMAT = SourceFormat(
    "mlflow",
    "MLflow file store (mlruns/<experiment>/<run>/metrics/<key>: 'timestamp value step' lines)",
    _claim,
    None,
    load,
)
