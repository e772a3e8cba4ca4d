"""Resolve a target (file or directory) to a checkpoint format and read its tensors.

Formats are recognised by their first bytes, not their extension (``.bin`` is used for both torch
zip and legacy files; users rename files): ``PK`` zip -> torch zip; the torch magic pickle ->
legacy; any other pickle -> read restricted (to name unsafe globals); ``{`` after 8 bytes ->
safetensors; ``*.index.json`` -> shards; ``config.json`` -> analytic count. Directories a framework
wrote (torch.distributed.checkpoint, DeepSpeed, HF Trainer ``checkpoint-*``) are resolved by
:mod:`.layouts`, which also reads the optimizer, scheduler and trainer state beside the weights.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, TargetNotFoundError, UnsafeArtifactError
from ..sandbox import Sandbox
from ..untrusted import json_error, json_loads, short_repr, short_text
from .dcp_reader import read_dcp
from .hf_config import load_config, tensors_from_config
from .layouts import add_companions, confine, layout_file, newest_checkpoint_dir
from .optimizer import optimizer_stats
from .report import OptimizerStats
from .safetensors_reader import is_safetensors, read_safetensors
from .tensors import TensorInfo
from .torch_reader import LEGACY_PREFIX, read_plain_pickle, read_torch_legacy, read_torch_zip
from .unwrap import unwrap

MAX_INDEX_BYTES = 64 * 1024 * 1024
MAX_SHARDS = 10_000  # real indexes name up to a few hundred shards
_INDEX_HINT = "A shard index (*.index.json, as transformers writes it) maps tensor names to shard files."
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".pkl")
DIR_PREFERENCE = ("model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json",
                  "pytorch_model.bin")


@dataclass
class Loaded:
    path: Path
    format: str
    files: list[Path]
    tensors: list[TensorInfo]
    warnings: list[str] = field(default_factory=list)
    state_dict_key: str | None = None
    prefixes_stripped: list[str] = field(default_factory=list)
    other_keys: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    optimizer: OptimizerStats | None = None
    layout: str | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    recorded_by_name: Counter[str] = field(default_factory=Counter)
    companions: list[Path] = field(default_factory=list)
    locate: Callable[..., TensorInfo] | None = None  # bytes found on demand (the value scan only): locate(t)


def checkpoint_file(path: Path, _depth: int = 0) -> Path:
    """The checkpoint file a path names: a directory becomes its checkpoint file (HF layout first, then DCP
    and DeepSpeed directories, a single checkpoint file, the newest HF ``checkpoint-*`` folder,
    ``config.json``), a file is itself. (Not a second ``resolve_target``: which path the user meant, and
    whether it may be read, is settled by :func:`traintriage.sources.resolve.resolve_target` before this is
    asked; every file chosen here is confined by :func:`load`.)"""
    if not _exists(path):
        raise TargetNotFoundError(f"{path} does not exist.", hint="Give a checkpoint file or a model directory.")
    if not path.is_dir():
        if not path.is_file():  # a FIFO or a device: opening it would block, or never end
            raise InputError(f"{path.name} is not a regular file.", hint="Give a checkpoint file or a model directory.")
        return path
    for name in DIR_PREFERENCE:
        if (path / name).is_file():
            return path / name
    if (special := layout_file(path)) is not None:
        return special
    found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in CHECKPOINT_SUFFIXES)
    if len(found) == 1:
        return found[0]
    if found:
        raise InputError(f"{path} holds {len(found)} checkpoint files; which one?",
                         hint="Pass one of: " + ", ".join(p.name for p in found[:10]))
    if _depth == 0 and (newest := newest_checkpoint_dir(path)) is not None:
        return checkpoint_file(newest, 1)
    if (path / "config.json").is_file():
        return path / "config.json"
    raise InputError(f"{path} holds no checkpoint (safetensors, .pt/.pth/.bin/.ckpt, a DeepSpeed or "
                     "torch.distributed.checkpoint directory, HF checkpoint-* folders) and no config.json.",
                     hint="Point at the checkpoint file itself.")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


def within(path: Path, sandbox: Sandbox) -> Path:
    """``path`` resolved and confined to ``sandbox``; a relative path is looked up under each root. An
    unrestricted sandbox (the command line) takes the path as given, so reports show what the user typed."""
    if sandbox.everywhere:
        return path
    sandbox.require_roots()
    if not path.is_absolute():
        path = next((r / path for r in sandbox.roots if _exists(r / path)), sandbox.roots[0] / path)
    return sandbox.check(path)


def load(path: Path, *, sandbox: Sandbox) -> Loaded:
    target = checkpoint_file(path)
    if target != path:  # a file chosen in a directory may be a symlink to outside the roots
        target = within(target, sandbox)
    if target.name.endswith(".index.json"):
        return _load_sharded(target, sandbox)
    if target.suffix == ".json":
        cfg = load_config(target)
        tensors, note = tensors_from_config(cfg)
        return Loaded(target, "hf_config", [target], tensors,
                      warnings=[f"analytic count from {target.name}: {note}; no weights were read"])
    loaded = _load_file(target)
    inside = confine(sandbox)
    add_companions(loaded, inside)
    if loaded.locate is not None:
        find = loaded.locate
        loaded.locate = lambda t: find(t, inside)  # type: ignore[misc,assignment]
    return loaded


def _load_file(path: Path) -> Loaded:
    try:
        return _read_file(path)
    except UnsafeArtifactError as exc:
        raise UnsafeArtifactError(f"{path}: {exc.message}", exc.hint) from None


def _read_file(path: Path) -> Loaded:
    if path.name == ".metadata" and any(path.parent.glob("*.distcp")):
        loaded = _from_pickled(path, read_dcp(path))
        loaded.layout = "torch_dcp"
        return loaded
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(16)
    if not head:
        raise InputError(f"{path.name} is empty.", hint="The file was not written completely.")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _from_pickled(path, read_torch_zip(path))
    if head.startswith(LEGACY_PREFIX):
        return _from_pickled(path, read_torch_legacy(path))
    if head[0] == 0x80 and len(head) > 1 and 0 < head[1] <= 5:
        return _from_pickled(path, read_plain_pickle(path))
    if is_safetensors(head) or path.suffix == ".safetensors":
        tensors, metadata, warnings = read_safetensors(path)
        return Loaded(path, "safetensors", [path], tensors, warnings=warnings, metadata=metadata)
    raise InputError(
        f"{path.name} ({size:,} bytes) is not a checkpoint format traintriage reads.",
        hint="Supported: safetensors, torch.save files (zip or legacy), *.index.json shards, HF config.json.",
    )


def _from_pickled(path: Path, ck: Any) -> Loaded:
    u = unwrap(ck.obj)
    tensors = [ck.resolve(name, ref) for name, ref in u.tensors.items()]
    if not tensors:
        raise InputError(f"{path.name} holds no tensors ({ck.format}).",
                         hint="Keys found: " + ", ".join(map(str, list(ck.obj)[:10])) if isinstance(ck.obj, dict)
                         else "It is not a model checkpoint.")
    notes = [*ck.warnings, *u.notes]
    if u.prefixes_stripped:
        notes.append("stripped wrapper prefixes " + ", ".join(repr(p) for p in u.prefixes_stripped)
                     + " (DDP / torch.compile) from the tensor names")
    opt = optimizer_stats(u.optimizer, u.optimizer_key) if u.optimizer is not None else None
    layout = "lightning" if isinstance(ck.obj, dict) and "pytorch-lightning_version" in ck.obj else None
    return Loaded(path, ck.format, [path], tensors, warnings=notes, state_dict_key=u.state_dict_key,
                  prefixes_stripped=u.prefixes_stripped, other_keys=u.other_keys, optimizer=opt, layout=layout,
                  hyperparameters=u.hyperparameters, recorded_by_name=Counter(ck.globals), locate=ck.locate)


def _load_sharded(index: Path, sandbox: Sandbox) -> Loaded:
    if index.stat().st_size > MAX_INDEX_BYTES:
        raise InputError(f"{index.name} is over {MAX_INDEX_BYTES:,} bytes: not a shard index.", hint=_INDEX_HINT)
    try:
        data = json_loads(index.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: bad syntax, too deep, a 5000-digit number
        raise InputError(f"{index.name} is not readable JSON ({json_error(exc)[:120]}).", hint=_INDEX_HINT) from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise InputError(f"{index.name} has no weight_map.", hint="A shard index maps tensor names to shard files.")
    warnings: list[str] = []
    per_shard = Counter(short_text(v, 300) for v in weight_map.values())
    if len(per_shard) > MAX_SHARDS:
        raise InputError(f"{index.name} names {len(per_shard):,} shard files (at most {MAX_SHARDS:,} are read).",
                         hint=_INDEX_HINT)
    shard_names = sorted(per_shard)
    tensors: list[TensorInfo] = []
    files: list[Path] = []
    formats = set()
    for name in shard_names:
        if Path(name).name != name or name in ("", ".", "..") or "\0" in name or len(name) > 255:
            warnings.append(f"shard {short_repr(name)} is not a plain file name next to the index; skipped.")
            continue
        shard = within(index.parent / name, sandbox)
        if not shard.is_file():
            missing = per_shard[name]
            warnings.append(f"shard {name} is missing: {missing} tensors not counted.")
            continue
        loaded = _load_file(shard)
        formats.add(loaded.format)
        files.append(shard)
        warnings += loaded.warnings
        tensors += loaded.tensors
    seen: dict[str, int] = {}
    for t in tensors:
        seen[t.name] = seen.get(t.name, 0) + 1
    dup = [n for n, c in seen.items() if c > 1]
    if dup:
        warnings.append(f"{len(dup)} tensor names appear in more than one shard (e.g. {dup[0]}); counted once.")
        first: dict[str, TensorInfo] = {}
        for t in tensors:
            first.setdefault(t.name, t)
        tensors = list(first.values())
    unlisted = [t.name for t in tensors if t.name not in weight_map]
    if unlisted:
        warnings.append(f"{len(unlisted)} tensors in the shards are not in the index (e.g. {unlisted[0]}).")
    if not tensors:
        raise InputError(f"no shard of {index.name} could be read.", hint="; ".join(warnings[:3]))
    fmt = "safetensors_sharded" if formats <= {"safetensors"} else "torch_sharded"
    return Loaded(index, fmt, [index, *files], tensors, warnings=warnings)
