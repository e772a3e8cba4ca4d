"""A run's configuration, wherever it is: the hyperparameter files beside the logs, and the headers text
logs print before their first step.

Files (read by :func:`traintriage.sweeps.hparams.read_hparams`): ``hparams.yaml``, ``training_args.json``,
``config.json``, ``args.json``, ``params.json``, the TensorBoard hparams plugin, MLflow ``params/``.
Headers of text logs (their first ``HEADER_BYTES``):

- nanoGPT's config dump: ``learning_rate = 1e-3`` lines (``configurator.py`` prints the overrides);
- llm.c's parameter table: ``| learning rate (LR)      | 3.000000e-04 |``;
- argparse's ``Namespace(lr=0.1, optimizer='sgd', ...)``.

Everything is read as data: values are parsed with :func:`ast.literal_eval` (literals only, nothing runs)
or kept as text.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...signals import RunData

if TYPE_CHECKING:
    from ...sandbox import Sandbox

HEADER_BYTES = 64 << 10
"""How much of a text log's start is searched for a configuration header: configs are printed before
training starts, and reading only the head keeps a multi-gigabyte log cheap."""
TEXT_SUFFIXES = frozenset({".log", ".txt", ".out", ".err", ".stdout", ""})

_NANOGPT_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*) = (.{1,200})$")
_LLMC_ROW = re.compile(r"^\|\s*([^|]{1,60}?)\s*\|\s*([^|]{1,200}?)\s*\|\s*$")
_LLMC_SYMBOL = re.compile(r"\s+[A-Z]{1,2}$")
_NAMESPACE = re.compile(r"Namespace\((.{0,8000}?)\)\s*$", re.M)
_STEP_LINE = re.compile(r"^(?:iter|step)\s+\d+", re.M)


@dataclass
class Config:
    """Settings by name (as written), each with the file or header it came from."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, value: Any, source: str) -> None:
        if key not in self.values:
            self.values[key] = value
            self.sources[key] = source

    def __bool__(self) -> bool:
        return bool(self.values)


def _literal(text: str) -> Any:
    """A printed value as Python data when it is a literal (``1e-3``, ``'adamw'``, ``True``), else the text."""
    from ...sweeps.hparams import normalize

    text = text.strip()
    try:
        return normalize(ast.literal_eval(text))
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return normalize(text)


def _nanogpt(head: str) -> dict[str, Any]:
    """``key = value`` lines before the first step line (nanoGPT's configurator prints its overrides)."""
    cut = _STEP_LINE.search(head)
    out: dict[str, Any] = {}
    for line in head[: cut.start() if cut else len(head)].splitlines():
        m = _NANOGPT_LINE.match(line.strip())
        if m:
            out[m.group(1)] = _literal(m.group(2))
    return out


def _llmc(head: str) -> dict[str, Any]:
    """llm.c's ``| Parameter | Value |`` table (the header row and rules skipped)."""
    out: dict[str, Any] = {}
    for line in head.splitlines():
        m = _LLMC_ROW.match(line.strip())
        if m and m.group(1).lower() != "parameter":  # "num_heads NH" -> num_heads: the symbol is llm.c's
            out[_LLMC_SYMBOL.sub("", m.group(1)).lower()] = _literal(m.group(2))
    return out


def _namespace(head: str) -> dict[str, Any]:
    """argparse's ``Namespace(key=value, ...)``: each keyword's value when it is a literal, else its text."""
    m = _NAMESPACE.search(head)
    if not m:
        return {}
    try:
        call = ast.parse(f"f({m.group(1)})", mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return {}
    out: dict[str, Any] = {}
    if isinstance(call, ast.Call):
        for kw in call.keywords:
            if kw.arg is None:
                continue
            try:
                from ...sweeps.hparams import normalize

                out[kw.arg] = normalize(ast.literal_eval(kw.value))
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                out[kw.arg] = ast.get_source_segment(f"f({m.group(1)})", kw.value)
    return out


def read_header(path: Path) -> tuple[dict[str, Any], str]:
    """The configuration a text log prints before training, and which kind of header held it."""
    try:
        with path.open("rb") as fh:
            head = fh.read(HEADER_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return {}, ""
    for reader, kind in ((_namespace, "Namespace(...) line"), (_llmc, "llm.c parameter table"),
                         (_nanogpt, "config dump")):
        found = reader(head)
        if len(found) >= 2:  # one match is a stray line, not a header
            return found, kind
    return {}, ""


SIBLING_FILES = ("hparams.yaml", "hparams.yml", "hparams.json", "args.json", "params.json", "training_args.json",
                 "config.json")
"""Configuration files read beside a run that is one file (Lightning's ``metrics.csv`` next to its
``hparams.yaml``): only these names, only in the file's own folder, only inside the server's roots."""


def _siblings(path: Path, sandbox: Sandbox) -> dict[str, tuple[object, str]]:
    from ...sweeps.hparams import _READERS

    out: dict[str, tuple[object, str]] = {}
    for name in SIBLING_FILES:
        sibling = path.parent / name
        if sibling.is_file() and sandbox.contains(sibling):
            for key, value in (_READERS[sibling.suffix](sibling) or {}).items():
                out.setdefault(key, (value, name))
    return out


def read_config(run: RunData, sandbox: Sandbox) -> Config:
    """The run's configuration: hyperparameter files in its directory (beside it, for a one-file run), then
    the headers of its text logs."""
    from ...sweeps.hparams import read_hparams

    config = Config()
    if run.path.is_dir():
        params, sources = read_hparams(run.path)
        where = ", ".join(sources) if sources else "hyperparameter files"
        for key, value in params.items():
            config.add(key, value, where)
    elif run.path.is_file():
        for key, (value, name) in _siblings(run.path, sandbox).items():
            config.add(key, value, name)
    for path in run.files[:20]:
        if path.suffix.lower() in TEXT_SUFFIXES and path.is_file():
            found, kind = read_header(path)
            for key, value in found.items():
                config.add(key, value, f"{path.name} ({kind})")
    return config
