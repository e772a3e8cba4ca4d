"""Directories as training frameworks leave them: which file holds the weights, and what lies beside it.

A user points at the directory the framework wrote, not at a file inside it:

* **torch.distributed.checkpoint** (FSDP, torchtitan): ``.metadata`` + ``*.distcp``.
* **DeepSpeed**: ``latest`` names the tag directory (``global_step1000/``), whose
  ``mp_rank_00_model_states.pt`` (``zero_pp_rank_0_mp_rank_00_model_states.pt`` under ZeRO-3) holds the
  weights under ``module`` and the ``ds_config``; ``*_optim_states.pt`` are the ZeRO optimizer shards.
* **HF Trainer output**: ``checkpoint-<step>/`` folders; the newest is read (as the log reader does),
  with ``optimizer.pt``, ``scheduler.pt``, ``trainer_state.json`` and ``training_args.bin`` beside it.

The companions are read with the same readers (pickles through the restricted unpickler, tensors as
shape and dtype only: a ZeRO shard is counted, never loaded). ``training_args.bin`` unpickles into
inert stand-ins; only its fields are reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import TraintriageError
from ..pickle_standins import Instance
from ..sandbox import Sandbox
from ..untrusted import json_loads, short_text
from .optimizer import optimizer_stats
from .report import OptimizerSlot
from .torch_reader import TensorRef, read_torch_zip
from .unwrap import hyperparameters, plain_value

_CHECKPOINT_DIR = re.compile(r"checkpoint-(\d{1,18})")
_MODEL_STATES = ("mp_rank_*_model_states.pt", "zero_pp_rank_*_mp_rank_*_model_states.pt")
MAX_TRAINER_STATE_BYTES = 64 * 1024 * 1024
MAX_ZERO_SHARDS = 4096


def layout_file(path: Path) -> Path | None:
    """The file holding the weights when ``path`` is a DCP, DeepSpeed or DeepSpeed tag directory."""
    if (path / ".metadata").is_file() and any(path.glob("*.distcp")):
        return path / ".metadata"
    latest = path / "latest"
    # DeepSpeed writes `latest` as a small regular file; a symlink could point outside the roots.
    if latest.is_file() and not latest.is_symlink() and latest.stat().st_size <= 256:
        tag = latest.read_bytes().decode("utf-8", errors="replace").strip()
        if tag and Path(tag).name == tag and tag not in (".", "..") and (path / tag).is_dir():
            path = path / tag
    for pattern in _MODEL_STATES:
        found = sorted(path.glob(pattern))
        if found:
            return found[0]
    return None


def newest_checkpoint_dir(path: Path) -> Path | None:
    """The ``checkpoint-<step>`` folder with the highest step, as HF Trainer numbers them."""
    best: tuple[int, Path] | None = None
    for child in path.iterdir():
        m = _CHECKPOINT_DIR.fullmatch(child.name)
        if m and child.is_dir() and (best is None or int(m.group(1)) > best[0]):
            best = (int(m.group(1)), child)
    return best[1] if best else None


def is_deepspeed_states(path: Path) -> bool:
    return any(path.match(p) for p in _MODEL_STATES)


def add_companions(loaded: Any, inside: Callable[[Path], Path | None]) -> None:
    """Read what lies beside the weights into ``loaded`` (a ``Loaded``); ``inside`` confines each file to the
    roots (None: outside, skipped with a warning). A companion that cannot be read is a warning."""
    if is_deepspeed_states(loaded.path):
        loaded.layout = "deepspeed"
        _zero_shards(loaded, inside)
    elif (loaded.path.parent / "trainer_state.json").is_file() or _CHECKPOINT_DIR.fullmatch(loaded.path.parent.name):
        loaded.layout = "hf_trainer"
        _hf_trainer(loaded, inside)


def _companion(loaded: Any, inside: Callable[[Path], Path | None], path: Path) -> Path | None:
    if not path.is_file():
        return None
    confined = inside(path)
    if confined is None:
        loaded.warnings.append(f"{path.name} lies outside the allowed roots; not read.")
        return None
    loaded.companions.append(confined)
    return confined


def _read(loaded: Any, path: Path) -> Any:
    try:
        ck = read_torch_zip(path)
    except TraintriageError as exc:
        loaded.warnings.append(f"{path.name}: not read ({exc.message[:200]}).")
        return None
    loaded.recorded_by_name.update(ck.globals)
    return ck.obj


def _hf_trainer(loaded: Any, inside: Callable[[Path], Path | None]) -> None:
    folder = loaded.path.parent
    if (p := _companion(loaded, inside, folder / "optimizer.pt")) is not None:
        opt = _read(loaded, p)
        if isinstance(opt, dict) and "state" in opt and "param_groups" in opt and loaded.optimizer is None:
            loaded.optimizer = optimizer_stats(opt, "optimizer.pt")
            loaded.optimizer.files = [str(p)]
    if (p := _companion(loaded, inside, folder / "scheduler.pt")) is not None:
        sched = _read(loaded, p)
        if isinstance(sched, dict):
            loaded.hyperparameters.update({f"scheduler.{k}": v for k, v in hyperparameters(sched).items()
                                           if not k.startswith("_") or k == "_last_lr"})
    if (p := _companion(loaded, inside, folder / "training_args.bin")) is not None:
        args = _read(loaded, p)  # a TrainingArguments stand-in: its fields, nothing of it live
        if isinstance(args, Instance):
            loaded.hyperparameters.update(hyperparameters(args))
    if (p := _companion(loaded, inside, folder / "trainer_state.json")) is not None:
        _trainer_state(loaded, p)


def _trainer_state(loaded: Any, path: Path) -> None:
    try:
        if path.stat().st_size > MAX_TRAINER_STATE_BYTES:
            raise ValueError("over 64 MiB")
        state = json_loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        loaded.warnings.append(f"{path.name}: not readable JSON ({short_text(str(exc), 120)}).")
        return
    if isinstance(state, dict):
        for key in ("global_step", "epoch", "best_metric", "best_model_checkpoint", "max_steps",
                    "num_train_epochs", "train_batch_size"):
            value = plain_value(state.get(key))
            if value is not None:
                loaded.other_keys.setdefault(key, value)


def _zero_shards(loaded: Any, inside: Callable[[Path], Path | None]) -> None:
    """ZeRO optimizer shards: each pickle read for its tensor records (shape, dtype), never the bytes."""
    shards = sorted(loaded.path.parent.glob("*_optim_states.pt"))[:MAX_ZERO_SHARDS]
    states: list[Any] = []
    stage = None
    fp32 = [0, 0, 0]
    files: list[str] = []
    for shard in shards:
        p = _companion(loaded, inside, shard)
        obj = _read(loaded, p) if p is not None else None
        osd = obj.get("optimizer_state_dict") if isinstance(obj, dict) else None
        if not isinstance(osd, dict):
            continue
        files.append(str(p))
        stage = osd.get("zero_stage") if isinstance(osd.get("zero_stage"), int) else stage
        base = osd.get("base_optimizer_state")
        if isinstance(base, dict):
            states.append(base)
        elif isinstance(base, list):  # ZeRO-3 / bf16 optimizers keep one state per group
            states += [b for b in base if isinstance(b, dict)]
        parts = osd.get("single_partition_of_fp32_groups") or osd.get("fp32_flat_groups") or []
        for t in parts if isinstance(parts, list) else []:
            if isinstance(t, TensorRef):
                n = 1
                for d in t.shape:
                    n *= d
                fp32[0] += 1
                fp32[1] += n
                fp32[2] += n * 4
    if not files:
        if shards:
            loaded.warnings.append("ZeRO optimizer shards found but none could be read.")
        return
    stats = optimizer_stats(states, f"ZeRO shards ({len(files)} files)")
    if fp32[0]:
        stats.slots["fp32_master_partition"] = OptimizerSlot(tensors=fp32[0], elements=fp32[1], bytes=fp32[2])
        stats.total_bytes += fp32[2]
    stats.files = files[:50]
    stats.zero_stage = stage
    loaded.optimizer = stats


def confine(sandbox: Sandbox) -> Callable[[Path], Path | None]:
    """A function that returns a companion path confined to ``sandbox`` (None when it resolves outside).
    An unrestricted sandbox (the command line) takes the path as given."""
    def inside(path: Path) -> Path | None:
        if sandbox.everywhere:
            return path
        try:
            return sandbox.check(path)
        except TraintriageError:
            return None

    return inside
