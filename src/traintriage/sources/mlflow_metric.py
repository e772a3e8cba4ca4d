"""MLflow metric files without their run's ``meta.yaml``: one file passed alone, or a ``metrics/`` folder.

The file store writes one file per metric, named by the metric's key (``metrics/train/loss`` for
``train/loss``) and holding ``<timestamp_ms> <value> <step>`` lines. Such a file has no suffix: in a
directory it is looked at only under a ``metrics/`` folder; passed explicitly it is recognised by its
content. Its series is named by its key (the path below ``metrics/``, else the file name: ``train_loss``),
which gives it its role. A whole run (with ``meta.yaml``) is read by :mod:`.mlflow_store` instead, which
then takes these files as its own.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath

from ..signals import Series
from .collect import merge_files
from .formats import MAYBE, NO, Head, SourceFormat
from .mlflow_store import read_metric

_LINE_RE = re.compile(r"^\d{9,14}(?:\.\d+)? +\S+(?: +-?\d+)?$")


def _sniff(head: Head) -> bool:
    lines = [line.strip() for line in head.lines if line.strip()]
    return bool(lines) and all(_LINE_RE.match(line) for line in lines)


def _claim(path: PurePath) -> int:
    return MAYBE if not path.suffix and "metrics" in path.parts[-6:-1] else NO


def metric_key(path: PurePath) -> str:
    """The metric's key: its path below the last ``metrics/`` folder (``train/loss``), else its file name."""
    parts = path.parts
    below = len(parts) - 1 - parts[::-1].index("metrics") if "metrics" in parts[:-1] else len(parts) - 1
    return "/".join(parts[below + 1 :]) if below < len(parts) - 1 else path.name


def load(run_dir: Path, files: list[Path]) -> tuple[dict[str, Series], list[str]]:
    """Each file is one series named by its key."""
    per_file: list[tuple[Path, dict[str, Series]]] = []
    warnings: list[str] = []
    for path in files:
        key = metric_key(path)
        metric, warns = read_metric(path, key)
        warnings.extend(warns)
        if metric is not None:
            per_file.append((path, {key: metric}))
    merged, merge_warnings = merge_files(run_dir, per_file)
    return merged, warnings + merge_warnings


FORMAT = SourceFormat(
    "mlflow_metric",
    "MLflow metric files without meta.yaml: one passed alone, or a metrics/ folder ('timestamp value step' lines)",
    _claim,
    _sniff,
    load,
    part_of="mlflow",
)
