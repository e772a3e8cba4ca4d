"""Hugging Face Trainer runs: ``trainer_state.json`` (its ``log_history``) and ``training_args.json``.

Series keep the keys the Trainer logs (``loss``, ``grad_norm``, ``learning_rate``, ``epoch``,
``eval_loss``, ``eval_<set>_loss``, ``eval_accuracy``...): they are what HF users see in their
console, and :func:`~traintriage.signals.infer_roles` maps them (``loss`` -> train loss, ``eval_*loss``
-> validation losses, ``grad_norm`` -> total gradient norm, ``learning_rate`` -> lr).

- The final summary record (``train_runtime``, ``train_loss`` averaged over the run, ``total_flos``)
  is not a per-step metric and is left out: its ``train_loss`` would otherwise win the train-loss role.
- An output dir holds one ``trainer_state.json`` per ``checkpoint-*`` and maybe one at the top; they
  are snapshots of one history, so the one with the most steps is read and a warning says which.
- ``max_grad_norm`` comes from ``training_args.json`` next to the state, or in the output dir above a
  checkpoint, and becomes a constant ``max_grad_norm`` series (role ``clip_threshold``) over the
  gradient-norm steps. ``training_args.bin`` is a pickle and is never unpickled. A ``training_args.json`` that
  resolves outside the caller's sandbox (the server's roots) is not read.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

import numpy as np

from ..signals import Series
from ..untrusted import as_float, as_step, json_error, json_loads, short_repr
from .collect import Columns, LineProblems
from .filecache import cached
from .formats import CERTAIN, Head, SourceFormat, suffix_claim

if TYPE_CHECKING:
    from ..sandbox import Sandbox

SUMMARY_KEYS = frozenset({"train_runtime", "total_flos"})
MAX_STATE_BYTES = 256 << 20  # read whole (JSON): real ones are at most tens of MB


def _parse(path: Path) -> tuple[dict[str, Series], list[str], int]:
    """Series, warnings and ``global_step`` of one trainer_state.json."""
    problems = LineProblems(path)
    try:
        if path.stat().st_size > MAX_STATE_BYTES:
            return {}, [f"{path}: over {MAX_STATE_BYTES:,} bytes, not read (a trainer_state.json is far smaller)"], -1
        with open(path, encoding="utf-8") as fh:
            state = json_loads(fh.read())
    except json.JSONDecodeError as err:
        problems.add(err.lineno, f"not valid JSON ({err.msg}); the file may be cut off mid-write")
        return {}, problems.finish(), -1
    except (OSError, UnicodeDecodeError) as err:
        return {}, [f"{path}: cannot read ({err})"], -1
    except (ValueError, RecursionError) as err:  # nested past the recursion limit, a 5000-digit number
        return {}, [f"{path}: cannot read ({json_error(err)})"], -1
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        return {}, [f"{path}: no log_history list; is this a Hugging Face trainer_state.json?"], -1
    cols = Columns()
    for index, record in enumerate(history):
        if not isinstance(record, dict):
            problems.add(f"log_history[{index}]", f"record is a {type(record).__name__}, not an object")
            continue
        if SUMMARY_KEYS & record.keys():
            continue
        step = as_step(record.get("step"))  # NaN, Inf, 1e300, 2**70: no step an int64 can hold
        if step is None:
            problems.add(f"log_history[{index}]", "record has no numeric 'step' (a finite integer within int64)")
            continue
        for key, value in record.items():
            if key == "step":
                continue
            number = as_float(value)  # None for 10**400, which float() cannot take
            if number is None:
                if value is not None and not isinstance(value, str | dict | list):
                    problems.add(f"log_history[{index}]", f"{key!r} is not a number ({short_repr(value)})")
                continue
            cols.add(key, step, number)
    global_step = state.get("global_step")
    if not isinstance(global_step, int):
        global_step = max((int(s.steps[-1]) for s in cols.to_series().values() if len(s)), default=0)
    return cols.to_series(), problems.finish(), global_step


def _max_grad_norm(state_path: Path, run_dir: Path, sandbox: Sandbox) -> tuple[float | None, str | None]:
    """``max_grad_norm`` from the nearest training_args.json, and a note on where it came from. It can lie
    above the target (one directory above a checkpoint), so only one inside ``sandbox`` is opened."""
    candidates = [state_path.parent, state_path.parent.parent, run_dir]
    for folder in dict.fromkeys(candidates):
        args_json = folder / "training_args.json"
        if args_json.is_file() and sandbox.contains(args_json):
            try:
                if args_json.stat().st_size > MAX_STATE_BYTES:
                    return None, f"{args_json}: over {MAX_STATE_BYTES:,} bytes, not read"
                with open(args_json, encoding="utf-8") as fh:
                    args = json_loads(fh.read())
            except (OSError, ValueError, RecursionError) as err:  # ValueError: bad JSON, not UTF-8, 5000 digits
                return None, f"{args_json}: cannot read ({json_error(err)}); gradient clipping threshold unknown"
            value = as_float(args.get("max_grad_norm")) if isinstance(args, dict) else None
            return value, None
    for folder in dict.fromkeys(candidates):
        if (folder / "training_args.bin").is_file() and sandbox.contains(folder / "training_args.bin"):
            return None, (
                f"{folder / 'training_args.bin'} is a pickle and is not read; save args.to_json_string() "
                "as training_args.json next to it to give the clipping threshold (max_grad_norm)"
            )
    return None, None


def load(run_dir: Path, files: list[Path], sandbox: Sandbox) -> tuple[dict[str, Series], list[str]]:
    """Read the trainer_state.json with the most steps among ``files`` (see module docstring)."""
    warnings: list[str] = []
    parsed = [(path, cached(path, _parse)) for path in files]
    readable = [(p, r) for p, r in parsed if r[0]]
    if not readable:
        for _path, (_s, warns, _gs) in parsed:
            warnings.extend(warns)
        return {}, warnings
    # Most steps first; on a tie the most recently written (a resumed run rewrites the same step).
    path, (series, _w, global_step) = max(readable, key=lambda pr: (pr[1][2], pr[0].stat().st_mtime_ns))
    for other, (other_series, warns, _gs) in parsed:
        if other == path or not other_series:  # warnings of the file read, and of files unreadable
            warnings.extend(warns)
    series = dict(series)
    if len(files) > 1:
        try:
            shown = path.relative_to(run_dir)
        except ValueError:
            shown = path
        warnings.append(
            f"read {shown} (most steps: {global_step}) of {len(files)} trainer_state.json files; "
            "the others are earlier snapshots of the same history."
        )
    clip, note = _max_grad_norm(path, run_dir, sandbox)
    if note:
        warnings.append(note)
    if clip is not None and clip > 0 and "max_grad_norm" not in series:
        basis = series.get("grad_norm") or series.get("loss") or next(iter(series.values()))
        series["max_grad_norm"] = Series.from_arrays("max_grad_norm", basis.steps, np.full(len(basis), clip))
    return series, warnings


def _claim(path: PurePath) -> int:
    return CERTAIN if path.name == "trainer_state.json" else suffix_claim(path, (".json",))


def _sniff(head: Head) -> bool:
    """A JSON object with the Trainer's ``log_history`` (a state saved under another name)."""
    return head.text.lstrip().startswith("{") and '"log_history"' in head.text


FORMAT = SourceFormat(
    "trainer_state",
    "Hugging Face Trainer trainer_state.json (log_history; max_grad_norm from training_args.json)",
    _claim,
    _sniff,
    load,
    looks_beside=True,  # training_args.json beside the state, or one directory above a checkpoint
)
