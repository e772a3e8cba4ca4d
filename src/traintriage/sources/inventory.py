"""Every log file under a target, each sniffed once: what resolution chooses from and readers read.

One walk of the target (to :data:`MAX_DEPTH` levels) classifies each file by the formats of
:mod:`.formats`: a name that settles it (``events.out.tfevents.*``, ``trainer_state.json``) is taken
without a read; a name some format finds plausible (``.json``, ``.log``, ``.csv``, ``.txt``) is sniffed
by reading its first :data:`~.formats.HEAD_BYTES` once; anything else is skipped unread. A file the
user names explicitly is sniffed whatever its name. Resolution (which run of an experiment), listing
and reading then ask the inventory, never the disk again.

The walk is bounded: at most :data:`MAX_SNIFFED` files are sniffed per walk (a note says when the limit
was reached), and what a file was sniffed as is remembered by its (path, size, mtime, inode), so a
long-lived server does not sniff an unchanged file twice.
"""

from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from .formats import CERTAIN, HEAD_BYTES, MAYBE, NO, Head, SourceFormat, formats

MAX_DEPTH = 6
MAX_SNIFFED = 2000
SKIP_DIRS = frozenset({"__pycache__", "node_modules", ".git", "wandb"})

if TYPE_CHECKING:
    from ..sandbox import Sandbox


@dataclass(frozen=True)
class LogFile:
    """A file of a known format, found under the inventory's base at ``depth`` directory levels."""

    path: Path
    fmt: str
    depth: int


@dataclass
class Inventory:
    """The log files under ``base`` (a directory, or one file), in walk order."""

    base: Path
    files: list[LogFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unrecognised: list[Path] = field(default_factory=list)  # opened (a plausible name) but no format's content
    outside: int = 0  # files named like logs that resolve outside the roots: never opened

    def __bool__(self) -> bool:
        return bool(self.files)

    def by_format(self) -> dict[str, list[Path]]:
        """Paths grouped by format name, formats in the order their first file was found."""
        out: dict[str, list[Path]] = {}
        for f in self.files:
            out.setdefault(f.fmt, []).append(f.path)
        return out

    def within(self, directory: Path, max_depth: int = MAX_DEPTH) -> Inventory:
        """The files under ``directory`` (a directory inside ``base``) at most ``max_depth`` levels below it."""
        if directory == self.base:
            return Inventory(directory, [f for f in self.files if f.depth <= max_depth], list(self.notes),
                             list(self.unrecognised), self.outside)
        offset = len(directory.parts) - len(self.base.parts)
        kept = [
            LogFile(f.path, f.fmt, f.depth - offset)
            for f in self.files
            if f.path.is_relative_to(directory) and f.depth - offset <= max_depth
        ]
        unrecognised = [p for p in self.unrecognised if p.is_relative_to(directory)]
        return Inventory(directory, kept, list(self.notes), unrecognised, self.outside)


def is_regular_file(path: str | os.PathLike[str]) -> bool:
    """A regular file (after symlinks): opening a FIFO named ``events.out.tfevents.x`` blocks for ever, and a
    device file never ends."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


_KNOWN_MAX = 8192
_known: OrderedDict[tuple, str | None] = OrderedDict()
_known_lock = threading.Lock()


def read_head(path: Path) -> Head | None:
    """The first :data:`~.formats.HEAD_BYTES` of ``path``, or None when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(HEAD_BYTES + 1)
    except OSError:
        return None
    return Head(path, data[:HEAD_BYTES], complete=len(data) <= HEAD_BYTES)


def _sniff(path: Path, candidates: Iterable[SourceFormat]) -> str | None:
    head = read_head(path)
    if head is None or not head.data.strip():
        return None
    for fmt in candidates:
        if fmt.sniff is not None and fmt.sniff(head):
            return fmt.name
    return None


def classify(path: Path, *, explicit: bool = False, claims: list[tuple[SourceFormat, int]] | None = None) -> str | None:
    """The format of one file, or None: by name when the name settles it, else by sniffing its head.

    ``explicit``: the user named this file, so every format sniffs it whatever its name; otherwise only
    the formats its name makes plausible do (a directory's ``model.bin`` is never opened). ``claims``:
    what :func:`name_claims` said of the name, when the caller has it already.
    """
    claims = name_claims(path) if claims is None else claims
    certain = next((fmt for fmt, c in claims if c == CERTAIN), None)
    if certain is not None:
        return certain.name if is_regular_file(path) else None
    candidates = [fmt for fmt, c in claims if explicit or c == MAYBE]
    if not candidates:
        return None
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino, explicit)
    with _known_lock:
        if key in _known:
            _known.move_to_end(key)
            return _known[key]
    found = _sniff(path, candidates)
    if found is None and explicit:  # named by the user: the reader its name suggests says what is wrong
        found = next((fmt.name for fmt, c in reversed(claims) if c == MAYBE), None)
    with _known_lock:
        _known[key] = found
        while len(_known) > _KNOWN_MAX:
            _known.popitem(last=False)
    return found


def name_claims(path: PurePath) -> list[tuple[SourceFormat, int]]:
    """What each format says of a file by its name and place (:data:`~.formats.NO`, ``MAYBE`` or ``CERTAIN``);
    a hidden file (``.traintriage-mirror.json``, an editor's swap file) is nobody's log."""
    if path.name.startswith("."):
        return [(fmt, NO) for fmt in formats()]
    return [(fmt, fmt.claim(path)) for fmt in formats()]


def may_be_log(path: PurePath) -> bool:
    """Whether some format would look at this file in a directory (by its name and place; no read)."""
    return any(c for _, c in name_claims(path))


def scan(path: Path, *, sandbox: Sandbox, max_depth: int = MAX_DEPTH, explicit: bool = True) -> Inventory:
    """The inventory of ``path``: the file itself (``explicit``: sniffed whatever its name), or every log
    file in the directory down to ``max_depth`` levels (hidden and cache directories skipped).

    ``sandbox``: a file that resolves outside it (a symlink in a run directory, ``metrics.csv ->
    /etc/passwd``) is never opened, not even to sniff it; the inventory counts it in ``outside``.
    """
    path = Path(path)
    if not path.is_dir():
        if not sandbox.contains(path):
            return Inventory(path, outside=1)
        fmt = classify(path, explicit=explicit)
        return Inventory(path, [LogFile(path, fmt, 0)] if fmt else [])
    inv = Inventory(path)
    base_depth = len(path.parts)
    sniffed = 0
    capped = False
    for dirpath, dirnames, filenames in os.walk(path):
        depth = len(Path(dirpath).parts) - base_depth
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS)
        if depth >= max_depth:
            dirnames[:] = []
        for name in sorted(filenames):
            full = Path(dirpath) / name
            claims = name_claims(full)
            if not any(c for _, c in claims):
                continue
            if not sandbox.contains(full):
                inv.outside += 1
                continue
            if not any(c == CERTAIN for _, c in claims):
                if sniffed >= MAX_SNIFFED:
                    if not capped:
                        capped = True
                        inv.notes.append(f"{path}: more than {MAX_SNIFFED} candidate log files; the rest were "
                                         "not opened (point at the run's own directory).")
                    continue
                sniffed += 1
            fmt = classify(full, claims=claims)
            if fmt is not None:
                inv.files.append(LogFile(full, fmt, depth))
            elif len(inv.unrecognised) < 20:
                inv.unrecognised.append(full)
    return inv


def describe_file(path: Path) -> str:
    """What a file that no format recognised looks like, for the error that says so."""
    head = read_head(path)
    if head is None:
        return "it cannot be opened"
    if not head.data.strip():
        return "it is empty"
    if head.binary:
        return f"binary data, {len(head.data):,}+ bytes, no TensorBoard record header"
    first = next((line.strip() for line in head.lines if line.strip()), head.text.strip()[:80])
    from ..untrusted import short_text

    return (f"text with no line this tool reads as a metric with a step; its first line is "
            f"{short_text(first, 100)!r}")


def clear() -> None:
    """Forget what files were sniffed as (tests)."""
    with _known_lock:
        _known.clear()
