"""One MLflow metric file on its own (``mlruns/<exp>/<run>/metrics/train_loss``, copied or passed alone).

The file store writes one file per metric, named by the metric's key and holding
``<timestamp_ms> <value> <step>`` lines; it has no suffix, so it is only recognised when passed
explicitly, by content. Its series is named after the file (``train_loss``), which gives it its role.
A whole run (with ``meta.yaml``) is read by :mod:`.mlflow_store` instead.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..signals import Series
from .collect import merge_files
from .filecache import cached
from .formats import NO, Head, SourceFormat
from .mlflow_store import parse_metric_file

_LINE_RE = re.compile(r"^\d{9,14}(?:\.\d+)? +\S+(?: +-?\d+)?$")


def _sniff(head: Head) -> bool:
    lines = [line.strip() for line in head.lines if line.strip()]
    return bool(lines) and all(_LINE_RE.match(line) for line in lines)


def load(run_dir: Path, files: list[Path]) -> tuple[dict[str, Series], list[str]]:
    """Each file is one series named after it."""
    per_file: list[tuple[Path, dict[str, Series]]] = []
    warnings: list[str] = []
    for path in files:
        parsed, warns = cached(path, parse_metric_file)
        warnings.extend(warns)
        if "value" in parsed:
            s = parsed["value"]
            per_file.append((path, {path.name: Series(path.name, s.steps, s.values, s.wall_times)}))
    merged, merge_warnings = merge_files(run_dir, per_file)
    return merged, warnings + merge_warnings


FORMAT = SourceFormat(
    "mlflow_metric",
    "one MLflow metric file ('timestamp value step' lines; the series is named after the file)",
    lambda name: NO,
    _sniff,
    load,
)
