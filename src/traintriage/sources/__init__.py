"""Sources: find a run, read whatever format it was logged in, and hand back named series with roles.

One pass: resolution (:mod:`.resolve`) walks the target once and sniffs each candidate file once into an
:class:`~.inventory.Inventory` (format by name where the name settles it, else by content); the run's
format is chosen from that inventory; its reader reads. Each format is one module declaring how to
recognise its files and how to read them (:mod:`.formats`), so adding a format touches nothing else:
the analyses only see series and roles.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..sandbox import Sandbox
from ..signals import TIMING_PREFIX, RunData, infer_roles, parse_role_overrides
from .formats import SourceFormat, format_named, formats, known_formats
from .inventory import MAX_DEPTH, SKIP_DIRS, Inventory, describe_file, is_regular_file, scan
from .resolve import Resolved, resolve_target


def load_readers() -> None:
    """Import every format's reader (and numpy) now rather than on first use.

    The long-lived server calls this before it takes a call's memory baseline: ~20 MB of code loaded
    once for the life of the process is not the data of whichever call happens to come first.
    """
    import numpy  # noqa: F401

    formats()


def detect_formats(path: Path, *, sandbox: Sandbox, max_depth: int = MAX_DEPTH) -> dict[str, list[Path]]:
    """Files under ``path`` (a file, sniffed whatever its name, or a directory searched to ``max_depth``)
    grouped by format name; nothing that resolves outside ``sandbox`` is opened."""
    return scan(path, max_depth=max_depth, sandbox=sandbox).by_format()


@dataclass(frozen=True)
class RunPlan:
    """What reading a target will read: the run's path, the format chosen and its files (nothing read yet)."""

    path: Path
    how: str
    fmt: SourceFormat
    files: list[Path]
    others: list[str]
    notes: list[str] = field(default_factory=list)  # said with the result's warnings
    sandbox: Sandbox = field(default_factory=Sandbox)  # confines the reader's look-ups beside the files

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
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS)
            for name in sorted(filenames):
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except OSError:
                    continue
                entries.append((dirpath, name, st.st_size, st.st_mtime_ns, st.st_ino))
        confined = self.sandbox.key()  # it confines what is read
        return (str(self.path), self.fmt.name, os.environ.get("TRAINTRIAGE_LOG_REGEX"), confined, tuple(entries))


def plan_run(target: str | Path, *, sandbox: Sandbox, trial: bool = False) -> RunPlan:
    """Resolve ``target`` and choose its format and files, reading no data.

    Raises :class:`~traintriage.errors.TraintriageError` subclasses with a hint when the target
    does not exist, lies outside ``sandbox``, or holds nothing readable.
    """
    resolved: Resolved = resolve_target(str(target), sandbox=sandbox, trial=trial)
    inventory = resolved.inventory if resolved.inventory is not None else scan(resolved.path, sandbox=sandbox)
    found = inventory.by_format()
    outside = inventory.outside
    if not found:
        where = "file" if resolved.path.is_file() else "directory" if resolved.path.is_dir() else "special file"
        if outside:
            raise InputError(
                f"the {where} {resolved.path} holds logs only as symlinks to outside the roots ({outside}); "
                "they are not read.",
                hint="Copy the logs under a root, or restart the server with a --root that holds them.",
            )
        if where == "file":
            why = f" ({describe_file(resolved.path)})"
        elif inventory.unrecognised:
            why = "; opened but not recognised: " + "; ".join(
                f"{p.relative_to(resolved.path)}: {describe_file(p)}" for p in inventory.unrecognised[:3])
        else:
            why = " (no file named like a log: .json, .jsonl, .csv, .log, .txt, .out, events.out.tfevents.*)"
        raise InputError(
            f"the {where} {resolved.path} holds no training log this tool can read{why}.",
            hint="Pass the log file itself (it is then read by its content, whatever its name), or set "
            "TRAINTRIAGE_LOG_REGEX for a text format no template catches. Known formats: " + known_formats(),
        )
    fmt = next(f for f in formats() if f.name in found)
    others = [name for name in found if name != fmt.name and format_named(name).part_of != fmt.name]
    notes = [f"{outside} log file(s) here are symlinks to outside the roots; not read."] if outside else []
    notes.extend(inventory.notes)
    return RunPlan(path=resolved.path, how=resolved.how, fmt=fmt, files=found[fmt.name], others=others,
                   notes=notes, sandbox=sandbox)


def read_run(plan: RunPlan, roles: Mapping[str, str] | Sequence[str] | None = None) -> RunData:
    """Read the series of a planned run and infer their roles (``roles`` overrides win)."""
    run_path, fmt, files = plan.path, plan.fmt, plan.files
    # Loaders name series relative to a directory: a single file is read as a run of its own folder.
    loaded = fmt.read(run_path.parent if run_path.is_file() else run_path, files, plan.sandbox)
    series, warnings = loaded[0], loaded[1]
    messages = list(loaded[2]) if len(loaded) > 2 else []
    if plan.others:
        warnings.append(f"also found {', '.join(plan.others)} logs here; read {fmt.name} (pass a file to choose).")
    warnings.extend(plan.notes)
    series, timings = split_timings(series)
    if not series:
        said = [f"{g.count} {kind} message(s), the first at line {g.first.line}: {g.first.text[:120]}"
                for m in messages for kind, g in m.groups.items()]
        raise InputError(
            f"{run_path} has {fmt.name} files but no scalar series in them"
            + (f"; the log prints {'; '.join(said[:3])}." if said else "."),
            hint="Log scalars (e.g. writer.add_scalar('Loss/train', loss, step)); "
            + ("; ".join(warnings[:5]) if warnings else "the files may be empty or still being written."),
        )
    from ..components import with_totals  # numpy: when a run is read, not when the server starts

    series, totals = with_totals(series)
    warnings.extend(totals)
    overrides = parse_role_overrides(roles)
    return RunData(
        path=run_path,
        source=fmt.name,
        series=series,
        roles=infer_roles(series.keys(), overrides, {name: len(s) for name, s in series.items()}),
        files=files,
        warnings=warnings,
        resolution=plan.how,
        timings=timings,
        messages=messages,
    )


def split_timings(series: dict) -> tuple[dict, dict]:
    """The series a text log's timing fields became (``timing/<name>``, also under an earlier run's or a later
    file's prefix) apart from the others: they play no role and are no metric, only the time analysis reads them."""
    timed = {name for name in series if name.startswith(TIMING_PREFIX) or "/" + TIMING_PREFIX in name}
    if not timed:
        return series, {}
    return ({n: s for n, s in series.items() if n not in timed}, {n: s for n, s in series.items() if n in timed})


def load_run(
    target: str | Path,
    *,
    sandbox: Sandbox,
    trial: bool = False,
    roles: Mapping[str, str] | Sequence[str] | None = None,
) -> RunData:
    """Resolve ``target`` inside ``sandbox``, read its series, infer roles (``roles`` overrides win).

    Raises :class:`~traintriage.errors.TraintriageError` subclasses with a hint when the target
    does not exist, lies outside ``sandbox``, or holds nothing readable.
    """
    return read_run(plan_run(target, sandbox=sandbox, trial=trial), roles)


__all__ = [
    "Inventory",
    "RunPlan",
    "SourceFormat",
    "detect_formats",
    "format_named",
    "formats",
    "is_regular_file",
    "known_formats",
    "load_run",
    "plan_run",
    "read_run",
    "resolve_target",
]
