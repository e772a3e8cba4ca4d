"""A trial's hyperparameters, from whatever files its framework left next to the logs.

Every framework stores them differently, and a sweep is only useful when the failure modes can be
put next to the settings that produced them, so each known place is read (first one wins per key):

- Ray Tune ``params.json`` (the trial's config, nested);
- PyTorch Lightning ``hparams.yaml``/``hparams.yml`` (parsed by :mod:`.miniyaml`, no PyYAML needed);
- ``hparams.json``, ``args.json``;
- TensorBoard's hparams plugin (``add_hparams`` / ``hp.hparams``), decoded by :mod:`.tb_hparams`;
- MLflow ``params/<key>`` files (one value per file, next to the run's ``meta.yaml``);
- Hydra multirun ``.hydra/overrides.yaml`` (``key=value``: exactly the swept settings);
- ``config.json`` and ``training_args.json`` (HF model config and Trainer arguments) last, since
  they hold many settings that are not searched over.

Nested keys are joined with dots; strings that are numbers become numbers (MLflow stores every
param as text); lists become their JSON text (a categorical value). Files are read as data only:
JSON and a YAML subset, never pickles (Ray's ``params.pkl`` and HF's ``training_args.bin`` are
skipped on purpose).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ..sources import format_named

FILES: tuple[str, ...] = (
    "params.json",
    "hparams.yaml",
    "hparams.yml",
    "hparams.json",
    "args.json",
    "<tensorboard>",
    "<mlflow>",
    ".hydra/overrides.yaml",
    "config.json",
    "training_args.json",
)
"""Where hyperparameters are looked for, in order of precedence ("<...>": not a single file)."""

MAX_DEPTH = 3
MAX_FILE_BYTES = 1 << 20
MAX_PARAMS = 500


def normalize(value: Any) -> Any:
    """A parameter value as a JSON-safe scalar: numbers from numeric strings, lists as JSON text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        text = value.strip()
        low = text.lower()
        if low in ("true", "false"):
            return low == "true"
        if low in ("none", "null"):
            return None
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return text
        return number if math.isfinite(number) else text
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value), default=str)
    return str(value)


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> ``{"a.b": value}`` with :func:`normalize`d values."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict) and value:
                out.update(flatten(value, name))
            else:
                out[name] = normalize(value)
    elif prefix:
        out[prefix] = normalize(data)
    return out


def _read_text(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _from_json(path: Path) -> dict[str, Any] | None:
    text = _read_text(path)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return flatten(data) if isinstance(data, dict) else None


def _from_yaml(path: Path) -> dict[str, Any] | None:
    from .miniyaml import load

    text = _read_text(path)
    if text is None:
        return None
    try:
        data = load(text)
    except ValueError:
        return None
    return flatten(data) if isinstance(data, dict) else None


def _from_overrides(path: Path) -> dict[str, Any] | None:
    """Hydra's ``overrides.yaml``: a list of ``key=value`` strings (``+key=``/``~key`` prefixes dropped)."""
    from .miniyaml import load, scalar

    text = _read_text(path)
    try:
        items = load(text) if text is not None else None
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    out = {}
    for item in items:
        if isinstance(item, str) and "=" in item:
            key, _, value = item.partition("=")
            out[key.lstrip("+~")] = normalize(scalar(value))
    return out


def _from_mlflow(run_dir: Path) -> dict[str, Any] | None:
    params_dir = run_dir / "params"
    if not (run_dir / "meta.yaml").is_file() or not params_dir.is_dir():
        return None
    out = {}
    for dirpath, dirnames, filenames in os.walk(params_dir):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            text = _read_text(path)
            if text is not None:
                out[path.relative_to(params_dir).as_posix()] = normalize(text)
    return out


def _from_tensorboard(files: list[Path]) -> dict[str, Any] | None:
    from .tb_hparams import read_hparams

    for path in files:
        found = read_hparams(path)
        if found:
            return flatten(found)
    return None


def _candidates(trial_dir: Path) -> tuple[dict[str, Path], list[Path], list[Path]]:
    """The shallowest file of each known name, event files, and MLflow run dirs under ``trial_dir``."""
    named: dict[str, Path] = {}
    events: list[Path] = []
    mlflow_runs: list[Path] = []
    event_claim = format_named("tensorboard").claim
    base = len(trial_dir.parts)
    for dirpath, dirnames, filenames in os.walk(trial_dir):
        here = Path(dirpath)
        depth = len(here.parts) - base
        dirnames[:] = sorted(d for d in dirnames if d == ".hydra" or not d.startswith("."))
        if depth >= MAX_DEPTH:
            dirnames[:] = []
        for name in filenames:
            rel = f"{here.name}/{name}" if here.name == ".hydra" else name
            if rel in FILES and rel not in named:
                named[rel] = here / name
            elif event_claim(here / name):
                events.append(here / name)
        if "meta.yaml" in filenames and "params" in dirnames:
            mlflow_runs.append(here)
    return named, sorted(events), mlflow_runs


_READERS = {".json": _from_json, ".yaml": _from_yaml, ".yml": _from_yaml}


def read_hparams(trial_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """``(params, where they came from)`` for a trial directory (or a single log file's folder)."""
    if trial_dir.is_file():
        trial_dir = trial_dir.parent
    named, events, mlflow_runs = _candidates(trial_dir)
    params: dict[str, Any] = {}
    sources: list[str] = []
    for name in FILES:
        found: dict[str, Any] | None
        if name == "<tensorboard>":
            found, where = _from_tensorboard(events), "tensorboard hparams"
        elif name == "<mlflow>":
            found = next((p for p in map(_from_mlflow, mlflow_runs) if p), None)
            where = "mlflow params/"
        elif name in named:
            path = named[name]
            where = path.relative_to(trial_dir).as_posix()
            found = _from_overrides(path) if name.endswith("overrides.yaml") else _READERS[path.suffix](path)
        else:
            continue
        if not found:
            continue
        sources.append(where)
        for key, value in found.items():
            if len(params) >= MAX_PARAMS:
                break
            params.setdefault(key, value)
    return params, sources
