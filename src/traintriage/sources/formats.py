"""The log formats traintriage reads, each declared by its own reader module, like a linter's rules.

A format module ends with one ``FORMAT = SourceFormat(...)`` that says:

- ``claim(path)``: what the file's name and place alone say (no read): :data:`CERTAIN` (``events.out.tfevents.*``,
  ``trainer_state.json``: no read needed), :data:`MAYBE` (a ``.json``, ``.log``, ``.csv`` worth
  sniffing) or :data:`NO`;
- ``sniff(head)``: whether the first :data:`HEAD_BYTES` of the file look like this format. A file passed
  explicitly is sniffed by every format whatever its name (a notes file ``run.md`` holding a PyTorch
  table, a bare MLflow metric file ``train_loss``, ``20220101.log.json``); in a directory only the
  formats that claimed it MAYBE sniff it;
- ``load(run_dir, files)``: the reader, returning ``(series, warnings)``; a reader that also opens files
  beside ``files`` (``looks_beside=True``: the HF reader's ``training_args.json``) is called
  ``load(run_dir, files, sandbox)`` and opens only what the :class:`~traintriage.sandbox.Sandbox` contains.
  A reader of text that also reads the messages the log printed (:mod:`.messages`) returns
  ``(series, warnings, messages)``.

Adding a format is one module with those three things and one line in :data:`MODULES`; resolution,
listing and the analyses need no change, since they only see the inventory and roles. The modules are
imported on first use, so a server that never reads a CSV never imports the CSV reader.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..sandbox import Sandbox

NO, MAYBE, CERTAIN = 0, 1, 2
"""What a file's name says about a format (see :class:`SourceFormat`)."""

HEAD_BYTES = 16 << 10
"""How much of a file is read to sniff its format: enough for a few dozen log lines or records."""

MODULES = (
    "tensorboard",
    "trainer_state",
    "mlflow_store",
    "mlflow_metric",
    "csvlog",
    "yolo_results",
    "jsonl",
    "jsondoc",
    "textlog",
)
"""Format modules under ``traintriage.sources``, in order of preference when a run holds several formats
(and the order in which a file's content is sniffed)."""

Loader = Callable[..., tuple]
"""``load(run_dir, files)``, or ``load(run_dir, files, sandbox)`` for a format that looks beside its files; it
returns ``(series, warnings)``, or ``(series, warnings, messages)`` for a text log (see the module docstring)."""


@dataclass(frozen=True)
class Head:
    """The first bytes of a file, as read once for every format's sniff."""

    path: Path
    data: bytes
    complete: bool  # the whole file fits in ``data``

    @functools.cached_property
    def text(self) -> str:
        """``data`` decoded as the text readers will decode the file (BOM-aware, bad bytes replaced)."""
        from ..untrusted import decode_head

        return decode_head(self.data)

    @functools.cached_property
    def lines(self) -> list[str]:
        """Whole lines of the head (a line cut off by the head's end is dropped, unless it is the file's end)."""
        lines = self.text.splitlines()
        if lines and not self.complete and not self.text.endswith(("\n", "\r")):
            lines.pop()
        return lines

    def longer(self, size: int = 1 << 20) -> Head:
        """The first ``size`` bytes instead, for a sniff whose first record does not fit in the head
        (mmdetection's ``*.log.json`` starts with its whole config on one line)."""
        if self.complete or len(self.data) >= size:
            return self
        try:
            with open(self.path, "rb") as fh:
                data = fh.read(size + 1)
        except OSError:
            return self
        return Head(self.path, data[:size], complete=len(data) <= size)

    @property
    def binary(self) -> bool:
        return b"\0" in self.data[:4096] and not self.data.startswith((b"\xff\xfe", b"\xfe\xff"))


@dataclass(frozen=True)
class SourceFormat:
    """One log format: how to recognise its files (by name, by content) and how to read them."""

    name: str
    description: str
    claim: Callable[[PurePath], int]
    sniff: Callable[[Head], bool] | None
    load: Loader
    part_of: str | None = None  # another format that reads these files itself when both are present
    looks_beside: bool = False  # its reader opens files other than those it is given: it gets the sandbox

    def read(self, run_dir: Path, files: list[Path], sandbox: Sandbox) -> tuple:
        """Read ``files`` of a run; a reader that looks beside them is confined to ``sandbox``."""
        return self.load(run_dir, files, sandbox) if self.looks_beside else self.load(run_dir, files)


@functools.cache
def formats() -> tuple[SourceFormat, ...]:
    """Every format, in preference order (imports the format modules on first call)."""
    return tuple(importlib.import_module(f"{__package__}.{m}").FORMAT for m in MODULES)


def format_named(name: str) -> SourceFormat:
    return next(f for f in formats() if f.name == name)


def known_formats() -> str:
    return "; ".join(f"{f.name}: {f.description}" for f in formats())


def suffix_claim(path: PurePath, suffixes: tuple[str, ...]) -> int:
    """:data:`MAYBE` when the file name ends with one of ``suffixes`` (lower-cased), else :data:`NO`."""
    return MAYBE if path.name.lower().endswith(suffixes) else NO
