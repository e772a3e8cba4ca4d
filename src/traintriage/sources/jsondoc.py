"""JSON documents holding a training history, as people save them by hand.

- **Keras history dumps**: ``json.dump(history.history, f)`` writes ``{"loss": [...], "val_loss": [...],
  "accuracy": [...]}``: one list per metric, one number per epoch. Steps are epochs counted from 1
  (the way Keras prints ``Epoch 1/10``), unless a list named ``epoch``/``epochs``/``step``/``steps`` of
  the same length gives them.
- **Nested** ones: ``{"config": {...}, "history": {"loss": [...]}}`` or ``{"metrics": {"train": {"loss":
  [...]}}}``: every list of numbers at any depth is a series named by its path (``train/loss``), with the
  name of the object that holds them all left out.
- **Lists of records**: ``[{"epoch": 1, "train_loss": ..., "val_loss": ...}, ...]`` (also under a key,
  ``{"log": [...]}``), read like JSON lines.
- Lists of different lengths (a training loss per step, a validation loss per epoch): the shorter list
  is spread evenly over the longer one's steps (point k of m at step ``round(k * n / m)``), and a
  warning says so.
- ``str(history.history)`` written to a ``.txt`` file (Python's repr, single quotes, ``nan``) is read
  too, with :func:`ast.literal_eval` (literals only: nothing in the file is run).

A document is read whole: at most :data:`MAX_DOC_BYTES`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..signals import Series
from ..untrusted import as_float, as_step, json_error, json_loads, literal, open_text, short_repr
from .collect import STEP_KEYS, Columns, flatten, load_each_and_merge
from .formats import Head, SourceFormat, suffix_claim

MAX_DOC_BYTES = 256 << 20
MAX_DEPTH = 8
STEP_LIST_KEYS = ("epoch", "epochs", "step", "steps", "iteration", "iterations", "iter")
_METRIC_KEY = r"[^\"'\n]{0,60}(?:loss|acc|accuracy|error|err|mae|mse|rmse|ppl|perplexity|map|f1|auc|reward|dice|iou)"
_METRIC_NAME_RE = re.compile(_METRIC_KEY + "|^" + r"(?:lr|learning_rate|epoch|epochs|step|steps)$", re.I)
_LIST_START = r"\[\s*(?:-?\d|-?\.\d|NaN|nan|Infinity|inf|null|\"tensor\()"
_ARRAY_RE = re.compile(rf"[\"']{_METRIC_KEY}[^\"'\n]{{0,30}}[\"']\s*:\s*{_LIST_START}", re.I)
_RECORD_RE = re.compile(rf"\[\s*\{{[^\[\]]*?[\"']{_METRIC_KEY}[^\"'\n]{{0,30}}[\"']\s*:\s*-?[\d.]", re.I | re.S)


def _sniff(head: Head) -> bool:
    """A JSON (or Python-literal) document with a list of numbers under a metric-like key, or a list of
    records with one; looked for in the first megabyte at most (a long config may come first)."""
    text = head.text.lstrip()
    if not text.startswith(("{", "[")):
        return False
    for h in (head, head.longer()):
        if _ARRAY_RE.search(h.text) or _RECORD_RE.search(h.text):
            return True
        if h.complete:
            break
    return False


def _load_document(path: Path) -> object:
    """The parsed document: JSON, else a Python literal (``str(history.history)``)."""
    with open_text(path) as fh:
        text = fh.read(MAX_DOC_BYTES + 1)
    if len(text) > MAX_DOC_BYTES:
        raise ValueError(f"over {MAX_DOC_BYTES:,} characters; a history document is far smaller")
    try:
        return json_loads(text)
    except json.JSONDecodeError as json_err:
        if "'" not in text[:2000]:
            raise
        try:
            return literal(re.sub(r"\b(nan|inf)\b", r"'\1'", text))
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise json_err from None


_TENSOR_RE = re.compile(r"^\s*tensor\(\s*([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)|nan|inf|-inf)\b")


def _number(item: object) -> float | None:
    """A logged number: a JSON number, a numeric string, or a tensor saved as its repr (``json.dump(...,
    default=str)`` writes ``"tensor(3.1155, device='cuda:0')"``)."""
    if isinstance(item, bool):
        return None
    number = as_float(item)
    if number is None and isinstance(item, str):
        match = _TENSOR_RE.match(item)
        number = as_float(match.group(1)) if match else None
    return number


def _number_list(value: object) -> list[float] | None:
    """The numbers of a list of numbers (null as NaN), or None when it is not one."""
    if not isinstance(value, list) or not value:
        return None
    out = []
    for item in value:
        number = math.nan if item is None else _number(item)
        if number is None:
            return None
        out.append(number)
    return out


def _record_list(value: object) -> list[dict] | None:
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value[:50]):
        return [r for r in value if isinstance(r, dict)]
    return None


def _walk(node: object, path: tuple[str, ...] = (), depth: int = 0) -> Iterator[tuple[tuple[str, ...], object]]:
    """(key path, value) for every list reachable through objects, to :data:`MAX_DEPTH` levels."""
    if depth > MAX_DEPTH:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict):
                yield from _walk(value, (*path, str(key)), depth + 1)
            elif isinstance(value, list):
                yield (*path, str(key)), value
    elif isinstance(node, list):
        yield path, node


def _from_records(records: list[dict], warnings: list[str], path: Path) -> dict[str, Series]:
    flat = [dict(flatten(r)) for r in records]
    keys = set().union(*flat)
    step_key = next((k for k in (*STEP_KEYS, "epoch", "epochs") if k in keys), None)
    cols = Columns()
    for i, record in enumerate(flat):
        step = as_step(record.get(step_key)) if step_key else i + 1
        if step is None:
            continue
        for key, raw in record.items():
            number = None if key == step_key else _number(raw)
            if number is not None:
                cols.add(key, step, number)
    if step_key is None:
        warnings.append(f"{path}: the records carry no step or epoch; steps are record numbers from 1.")
    return cols.to_series()


def _from_lists(lists: dict[str, list[float]], warnings: list[str], path: Path) -> dict[str, Series]:
    longest = max(len(v) for v in lists.values())
    steps_of_longest = np.arange(1, longest + 1, dtype=np.int64)
    step_name = None
    for name, values in lists.items():
        given = np.array(values, dtype=np.float64)
        if (name.rsplit("/", 1)[-1].lower() in STEP_LIST_KEYS and given.size == longest
                and np.all(np.isfinite(given)) and np.all(np.abs(given) < 2.0**62)):
            step_name, steps_of_longest = name, given.astype(np.int64)
            break
    if step_name is None:
        warnings.append(f"{path}: one value per epoch (a history dump); steps are epochs from 1.")
    out: dict[str, Series] = {}
    spread = []
    for name, values in lists.items():
        if name == step_name:
            continue
        m = len(values)
        if m == longest:
            steps = steps_of_longest
        else:  # evenly over the run: point k (1..m) at the step k/m of the way through
            idx = np.clip(np.round(np.arange(1, m + 1) * longest / m).astype(np.int64) - 1, 0, longest - 1)
            steps = steps_of_longest[idx]
            spread.append(f"{name} ({m})")
        out[name] = Series.from_arrays(name, steps, np.array(values, dtype=np.float64))
    if spread:
        warnings.append(f"{path}: {', '.join(spread[:6])} have fewer points than the longest list ({longest}); "
                        "their points are spread evenly over its steps (point k of m at k/m of the way).")
    return out


def _history_lists(lists: dict[tuple[str, ...], list[float]]) -> dict[tuple[str, ...], list[float]]:
    """The lists that make the history: those of the object holding the longest list under a metric-like key
    (``history``), and lists elsewhere only as long as its (a ``metrics`` object beside it). A config's short
    lists (``"betas": [0.9, 0.999]``) are not series."""
    def metric_like(key_path: tuple[str, ...]) -> bool:
        return bool(_METRIC_NAME_RE.search(key_path[-1]))

    best = max(lists, key=lambda p: (metric_like(p), len(lists[p])))
    parent, length = best[:-1], len(lists[best])
    return {p: v for p, v in lists.items() if p[:-1] == parent or len(v) == length}


def _strip_common(paths: list[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """Series names from key paths, without the leading keys they all share (``history/``)."""
    common = 0
    if len(paths) > 1:
        while all(len(p) > common + 1 for p in paths) and len({p[common] for p in paths}) == 1:
            common += 1
    elif paths:
        common = len(paths[0]) - 1
    return {p: "/".join(p[common:]) for p in paths}


def _parse(path: Path) -> tuple[dict[str, Series], list[str]]:
    warnings: list[str] = []
    try:
        doc = _load_document(path)
    except (OSError, UnicodeDecodeError) as err:
        return {}, [f"{path}: cannot read ({err})"]
    except (ValueError, RecursionError) as err:
        return {}, [f"{path}: not a readable JSON document ({json_error(err)})"]
    records = _record_list(doc)
    if records is not None:
        return _from_records(records, warnings, path), warnings
    lists: dict[tuple[str, ...], list[float]] = {}
    record_lists: list[tuple[tuple[str, ...], list[dict]]] = []
    for key_path, value in _walk(doc):
        numbers = _number_list(value)
        if numbers is not None:
            lists[key_path] = numbers
        elif (recs := _record_list(value)) is not None:
            record_lists.append((key_path, recs))
    if lists:
        lists = _history_lists(lists)
        names = _strip_common(list(lists))
        return _from_lists({names[p]: v for p, v in lists.items()}, warnings, path), warnings
    if record_lists:
        key_path, recs = max(record_lists, key=lambda item: len(item[1]))
        warnings.append(f"{path}: read the records under {'/'.join(key_path) or 'the top level'}.")
        return _from_records(recs, warnings, path), warnings
    shape = short_repr(doc, 120)
    return {}, [f"{path}: a JSON document without a list of numbers or of per-epoch records ({shape})."]


def load(run_dir: Path, files: list[Path]) -> tuple[dict[str, Series], list[str]]:
    """Every history document of the run; names repeated across files are prefixed by the later file's path."""
    return load_each_and_merge(run_dir, files, _parse)


FORMAT = SourceFormat(
    "jsondoc",
    "JSON documents holding a history: Keras history dumps ({'loss': [...], 'val_loss': [...]}), nested ones "
    "({'config': ..., 'history': {...}}), lists of per-epoch records, str(history.history) in a .txt",
    lambda path: suffix_claim(path, (".json", ".txt")),
    _sniff,
    load,
)
