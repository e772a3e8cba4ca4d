"""A TensorBoard run directory -> named :class:`~traintriage.signals.Series`.

One run can span several event files and subdirectories, and the names must say where each series
came from without surprising the user:

* events directly in the run directory keep their tag (``Loss/train``);
* events in a subdirectory get the relative subdirectory as a prefix: Keras writes ``train/`` and
  ``validation/`` next to each other, each with ``epoch_loss``, and they are ONE run whose series are
  ``train/epoch_loss`` and ``validation/epoch_loss``;
* several files in one directory (a restarted or resumed job) are merged in the order they were
  started (the timestamp in ``events.out.tfevents.<ts>.<host>...``, then the name); where steps
  repeat, the later write wins (:func:`~traintriage.signals.dedupe_last`) and a warning says which
  tag repeated how many steps.

Unreadable files become warnings, not failures: one bad file must not hide the others.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath

import numpy as np

from ..errors import TraintriageError
from ..signals import Series, dedupe_last
from .eventcache import EventCache, default_cache
from .formats import CERTAIN, NO, Head, SourceFormat

_TS_RE = re.compile(r"tfevents\.(\d+)")


def is_event_file(path: Path) -> bool:
    """A TensorBoard event file, by TensorBoard's own naming rule (``*tfevents*``; not a .tmp/.lock)."""
    name = path.name
    return "tfevents" in name and not name.endswith((".tmp", ".lock")) and path.is_file()


def _order_key(run_dir: Path, path: Path) -> tuple[str, int, str]:
    try:
        rel_parent = path.parent.relative_to(run_dir).as_posix()
    except ValueError:
        rel_parent = path.parent.as_posix()
    m = _TS_RE.search(path.name)
    return (rel_parent, int(m.group(1)) if m else 0, path.name)


def find_event_files(run_dir: Path) -> list[Path]:
    """Event files under ``run_dir`` at any depth, per directory in the order they were started."""
    run_dir = Path(run_dir)
    files = [p for p in run_dir.rglob("*tfevents*") if is_event_file(p)]
    return sorted(files, key=lambda p: _order_key(run_dir, p))


def _prefix(run_dir: Path, path: Path) -> str:
    try:
        rel = path.parent.relative_to(run_dir).as_posix()
    except ValueError:
        return ""
    return "" if rel in ("", ".") else rel + "/"


def _display(run_dir: Path, path: Path) -> str:
    try:
        return path.relative_to(run_dir).as_posix()
    except ValueError:
        return str(path)


def load_tensorboard_series(
    run_dir: Path, event_files: list[Path], cache: EventCache | None = None
) -> tuple[dict[str, Series], list[str]]:
    """Read ``event_files`` (as found by :func:`find_event_files`) into series named as described above.

    Returns the series by name and the warnings (per-file ones prefixed with the file's name).
    ``run_dir`` may also be a single event file: its tags are then used as they are.
    """
    run_dir = Path(run_dir)
    if run_dir.is_file():
        run_dir = run_dir.parent
    cache = cache or default_cache
    warnings: list[str] = []
    parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for path in sorted(event_files, key=lambda p: _order_key(run_dir, p)):
        name = _display(run_dir, path)
        try:
            scan = cache.scan(path)
        except (TraintriageError, OSError) as exc:
            warnings.append(f"{name}: could not be read ({getattr(exc, 'message', None) or exc}); skipped")
            continue
        warnings.extend(f"{name}: {w}" for w in scan.warnings)
        prefix = _prefix(run_dir, path)
        for tag, t in scan.scalars.items():
            parts.setdefault(prefix + tag, []).append((t.steps, t.values, t.wall_times))
    series: dict[str, Series] = {}
    for name, chunks in parts.items():
        if len(chunks) == 1:
            steps, values, walls = chunks[0]
        else:
            steps, values, walls = (np.concatenate([c[i] for c in chunks]) for i in range(3))
        steps, values, walls, dropped = dedupe_last(steps, values, walls)
        if dropped:
            warnings.append(
                f"{name}: {dropped} step(s) were logged more than once (a resumed or restarted run?); "
                "kept the later write of each"
            )
        series[name] = Series(name, steps, values, walls)
    return series, warnings


def _claim(path: PurePath) -> int:
    name = path.name
    return CERTAIN if "tfevents" in name and not name.endswith((".tmp", ".lock")) else NO


def _sniff(head: Head) -> bool:
    """A TFRecord whose first event is the ``brain.Event:N`` version record every writer starts with."""
    return b"brain.Event:" in head.data[:128]


FORMAT = SourceFormat(
    "tensorboard",
    "TensorBoard event files (events.out.tfevents.*), both scalar encodings",
    _claim,
    _sniff,
    load_tensorboard_series,
)
