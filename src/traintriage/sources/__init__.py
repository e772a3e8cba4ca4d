"""Sources: find a run, read whatever format it was logged in, and hand back named series with roles.

Each log format is one :class:`SourceFormat`: a cheap test on a file name (``matches``) and a loader
named by its import path, so a server that never sees a CSV never imports the CSV reader. To add a
format, write a module with a ``load(run_path, files) -> (series, warnings)`` function and append
one entry to :data:`FORMATS`; the analyses need no change, since they only see roles.
"""

from __future__ import annotations

import importlib
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..signals import RunData, Series, infer_roles, parse_role_overrides
from .resolve import Resolved, reading_within, resolve_target

Loader = Callable[[Path, list[Path]], tuple[dict[str, Series], list[str]]]


@dataclass(frozen=True)
class SourceFormat:
    """A log format: which files belong to it, and where its loader lives (imported on first use)."""

    name: str
    matches: Callable[[str], bool]
    loader: str  # "module:function", called as function(run_dir, files)
    description: str

    def load(self, run_path: Path, files: list[Path]) -> tuple[dict[str, Series], list[str]]:
        module_name, _, func_name = self.loader.partition(":")
        func: Loader = getattr(importlib.import_module(module_name), func_name)
        return func(run_path, files)


def _is_event_file(name: str) -> bool:
    return "tfevents" in name and not name.endswith((".tmp", ".lock"))


def _is_text_log(name: str) -> bool:
    from .textlog import matches  # small module-level regex; imported on first directory scan

    return matches(name)


FORMATS: list[SourceFormat] = [
    SourceFormat(
        "tensorboard",
        _is_event_file,
        "traintriage.sources.tensorboard:load_tensorboard_series",
        "TensorBoard event files (events.out.tfevents.*), both scalar encodings",
    ),
    SourceFormat(
        "trainer_state",
        lambda name: name == "trainer_state.json",
        "traintriage.sources.trainer_state:load",
        "Hugging Face Trainer trainer_state.json (log_history; max_grad_norm from training_args.json)",
    ),
    SourceFormat(
        "mlflow",
        lambda name: name == "meta.yaml",
        "traintriage.sources.mlflow_store:load",
        "MLflow file store (mlruns/<experiment>/<run>/metrics/<key>: 'timestamp value step' lines)",
    ),
    SourceFormat(
        "csv",
        lambda name: name.lower().endswith(".csv"),
        "traintriage.sources.csvlog:load",
        "CSV logs: Keras CSVLogger, Lightning metrics.csv, any table with a step/iteration/epoch column",
    ),
    SourceFormat(
        "jsonl",
        lambda name: name.lower().endswith((".jsonl", ".ndjson")),
        "traintriage.sources.jsonl:load",
        "JSON lines, one record per step (step/global_step/_step), W&B history exports (nested keys joined by /)",
    ),
    SourceFormat(
        "textlog",
        lambda name: _is_text_log(name),
        "traintriage.sources.textlog:load",
        "plain-text stdout logs (*.log, *.out, *.txt): HF dict lines, key:value with a step, PyTorch example "
        "tables, Keras progress, tqdm postfixes, or TRAINTRIAGE_LOG_REGEX",
    ),
]
"""Known formats, in order of preference when a run holds several."""


def load_readers() -> None:
    """Import every format's loader (and numpy) now rather than on first use.

    The long-lived server calls this before it takes a call's memory baseline: ~20 MB of code loaded
    once for the life of the process is not the data of whichever call happens to come first.
    """
    import numpy  # noqa: F401

    for fmt in FORMATS:
        importlib.import_module(fmt.loader.partition(":")[0])


_SKIP_DIRS = frozenset({"__pycache__", "node_modules", ".git", "wandb"})


def detect_formats(path: Path, *, max_depth: int = 6) -> dict[str, list[Path]]:
    """Files under ``path`` (a file or a directory searched to ``max_depth``) grouped by format name."""
    found: dict[str, list[Path]] = {}
    if path.is_file():
        for fmt in FORMATS:
            if fmt.matches(path.name):
                found.setdefault(fmt.name, []).append(path)
                break
        return found
    base_depth = len(path.parts)
    for dirpath, dirnames, filenames in os.walk(path):
        depth = len(Path(dirpath).parts) - base_depth
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        if depth >= max_depth:
            dirnames[:] = []
        for name in sorted(filenames):
            for fmt in FORMATS:
                if fmt.matches(name):
                    if is_regular_file(os.path.join(dirpath, name)):
                        found.setdefault(fmt.name, []).append(Path(dirpath) / name)
                    break
    return found


def is_regular_file(path: str | os.PathLike[str]) -> bool:
    """A regular file (after symlinks): opening a FIFO named ``events.out.tfevents.x`` blocks for ever, and a
    device file never ends."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def known_formats() -> str:
    return "; ".join(f"{f.name}: {f.description}" for f in FORMATS)


@dataclass(frozen=True)
class RunPlan:
    """What reading a target will read: the run's path, the format chosen and its files (nothing read yet)."""

    path: Path
    how: str
    fmt: SourceFormat
    files: list[Path]
    others: list[str]
    notes: list[str] = field(default_factory=list)  # said with the result's warnings
    roots: tuple[Path, ...] | None = None  # what the loader's own look-ups beside the files are confined to

    def fingerprint(self) -> tuple:
        """Identity of everything a read of this run could depend on: every file under the run (or beside
        a single-file target) with its size, modification time and inode.

        Readers look beyond ``files`` (MLflow metric files next to ``meta.yaml``, ``training_args.json``
        beside ``trainer_state.json``), so all files count. Stat calls only: ~1 ms for a typical run.
        """
        base = self.path if self.path.is_dir() else self.path.parent
        depth = 6 if self.path.is_dir() else 0
        entries = []
        base_depth = len(base.parts)
        for dirpath, dirnames, filenames in os.walk(base):
            if len(Path(dirpath).parts) - base_depth >= depth:
                dirnames[:] = []
            else:
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
            for name in sorted(filenames):
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except OSError:
                    continue
                entries.append((dirpath, name, st.st_size, st.st_mtime_ns, st.st_ino))
        roots = None if self.roots is None else tuple(map(str, self.roots))  # they confine what is read
        return (str(self.path), self.fmt.name, os.environ.get("TRAINTRIAGE_LOG_REGEX"), roots, tuple(entries))


def plan_run(target: str | Path, *, roots: Sequence[Path] | None = None, trial: bool = False) -> RunPlan:
    """Resolve ``target`` and choose its format and files, reading no data.

    Raises :class:`~traintriage.errors.TraintriageError` subclasses with a hint when the target
    does not exist, lies outside ``roots``, or holds nothing readable.
    """
    resolved: Resolved = resolve_target(str(target), roots=roots, trial=trial)
    found = detect_formats(resolved.path)
    outside = confine_to_roots(found, roots)
    if not found:
        where = "file" if resolved.path.is_file() else "directory" if resolved.path.is_dir() else "special file"
        if outside:
            raise InputError(
                f"the {where} {resolved.path} holds logs only as symlinks to outside the roots ({outside}); "
                "they are not read.",
                hint="Copy the logs under a root, or restart the server with a --root that holds them.",
            )
        raise InputError(
            f"the {where} {resolved.path} holds no training log this tool can read.",
            hint="Known formats: " + known_formats(),
        )
    fmt = next(f for f in FORMATS if f.name in found)
    others = [name for name in found if name != fmt.name]
    notes = [f"{outside} log file(s) here are symlinks to outside the roots; not read."] if outside else []
    return RunPlan(path=resolved.path, how=resolved.how, fmt=fmt, files=found[fmt.name], others=others,
                   notes=notes, roots=None if roots is None else tuple(roots))


def confine_to_roots(found: dict[str, list[Path]], roots: Sequence[Path] | None) -> int:
    """Drop, in place, the files found under a target that resolve outside ``roots`` (symlinks in a run
    directory: ``metrics.csv -> /etc/passwd`` would hand its header to the caller); returns how many."""
    if roots is None:
        return 0
    real_roots = [Path(r).resolve() for r in roots]
    dropped = 0
    for name in list(found):
        kept = []
        for path in found[name]:
            try:
                real = path.resolve()
            except (OSError, RuntimeError, ValueError):  # a symlink loop
                dropped += 1
                continue
            if any(real == r or real.is_relative_to(r) for r in real_roots):
                kept.append(path)
            else:
                dropped += 1
        if kept:
            found[name] = kept
        else:
            del found[name]
    return dropped


def read_run(plan: RunPlan, roles: Mapping[str, str] | Sequence[str] | None = None) -> RunData:
    """Read the series of a planned run and infer their roles (``roles`` overrides win)."""
    run_path, fmt, files = plan.path, plan.fmt, plan.files
    # Loaders name series relative to a directory: a single file is read as a run of its own folder.
    with reading_within(plan.roots):
        series, warnings = fmt.load(run_path.parent if run_path.is_file() else run_path, files)
    if plan.others:
        warnings.append(f"also found {', '.join(plan.others)} logs here; read {fmt.name} (pass a file to choose).")
    warnings.extend(plan.notes)
    if not series:
        raise InputError(
            f"{run_path} has {fmt.name} files but no scalar series in them.",
            hint="Log scalars (e.g. writer.add_scalar('Loss/train', loss, step)); "
            + ("; ".join(warnings[:5]) if warnings else "the files may be empty or still being written."),
        )
    overrides = parse_role_overrides(roles)
    return RunData(
        path=run_path,
        source=fmt.name,
        series=series,
        roles=infer_roles(series.keys(), overrides),
        files=files,
        warnings=warnings,
        resolution=plan.how,
    )


def load_run(
    target: str | Path,
    *,
    roots: Sequence[Path] | None = None,
    trial: bool = False,
    roles: Mapping[str, str] | Sequence[str] | None = None,
) -> RunData:
    """Resolve ``target``, read its series, infer roles (``roles`` overrides win).

    Raises :class:`~traintriage.errors.TraintriageError` subclasses with a hint when the target
    does not exist, lies outside ``roots``, or holds nothing readable.
    """
    return read_run(plan_run(target, roots=roots, trial=trial), roles)


__all__ = [
    "FORMATS",
    "RunPlan",
    "SourceFormat",
    "detect_formats",
    "known_formats",
    "load_run",
    "plan_run",
    "read_run",
    "resolve_target",
]
