"""From a checkpoint's object tree to the model's state dict, the optimizer state and the bookkeeping.

Users save many shapes: a bare ``state_dict``; a training checkpoint
``{"model": ..., "optimizer": ..., "epoch": ...}`` (or ``state_dict`` / ``model_state_dict``,
Lightning's ``optimizer_states``); keys prefixed ``module.`` (DDP / DataParallel) or carrying
``_orig_mod.`` (torch.compile). All of them should count the same model, so this module finds the
weights, strips the wrapper prefixes and says what it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .torch_reader import TensorRef

# Keys under which training scripts keep the model weights, most specific first.
MODEL_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network", "model_state",
              "weights", "params", "generator", "ema", "model_ema", "ema_state_dict")
OPTIMIZER_KEYS = ("optimizer", "optimizer_state_dict", "optimizer_state", "optim", "opt", "optimizer_states")
MAX_DEPTH = 16
MAX_ITEMS = 2_000_000


@dataclass
class Unwrapped:
    tensors: dict[str, TensorRef]
    state_dict_key: str | None = None
    prefixes_stripped: list[str] = field(default_factory=list)
    optimizer: Any = None
    optimizer_key: str | None = None
    other_keys: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def flatten_tensors(obj: Any, prefix: str = "") -> dict[str, TensorRef]:
    """Every TensorRef under ``obj`` with its dotted path (nested dicts and lists of tensors)."""
    out: dict[str, TensorRef] = {}
    stack: list[tuple[str, Any, int]] = [(prefix, obj, 0)]
    seen = 0
    while stack:
        path, node, depth = stack.pop()
        seen += 1
        if seen > MAX_ITEMS:
            break
        if isinstance(node, TensorRef):
            out[path or "tensor"] = node
        elif depth < MAX_DEPTH and isinstance(node, Mapping):
            for k, v in node.items():
                stack.append((f"{path}.{k}" if path else str(k), v, depth + 1))
        elif depth < MAX_DEPTH and isinstance(node, list | tuple):
            for i, v in enumerate(node):
                stack.append((f"{path}.{i}" if path else str(i), v, depth + 1))
    return dict(sorted(out.items(), key=lambda kv: _natural(kv[0])))


def _natural(name: str) -> tuple:
    """Sort ``blocks.10`` after ``blocks.9``."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in name.split("."))


def _is_optimizer(node: Any) -> bool:
    if isinstance(node, list) and node:
        return all(_is_optimizer(n) for n in node)
    return isinstance(node, Mapping) and "state" in node and "param_groups" in node


def _json_scalar(value: Any) -> Any:
    if isinstance(value, bool | int | float | type(None)):
        return value
    if isinstance(value, str):
        return value[:200]
    return None


def strip_prefixes(tensors: dict[str, TensorRef]) -> tuple[dict[str, TensorRef], list[str]]:
    """Drop ``module.`` when every key has it (repeatedly) and every ``_orig_mod.`` segment."""
    stripped: list[str] = []
    if any("_orig_mod." in k for k in tensors):
        tensors = {k.replace("_orig_mod.", ""): v for k, v in tensors.items()}
        stripped.append("_orig_mod.")
    while tensors and all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module."):]: v for k, v in tensors.items()}
        stripped.append("module.")
    return tensors, stripped


def unwrap(obj: Any) -> Unwrapped:
    """Find the model weights in ``obj``; keep the optimizer state and scalar bookkeeping aside."""
    result = Unwrapped(tensors={})
    weights: Any = obj
    if isinstance(obj, Mapping) and not all(isinstance(v, TensorRef) for v in obj.values()):
        for key in OPTIMIZER_KEYS:
            if key in obj and _is_optimizer(obj[key]):
                result.optimizer, result.optimizer_key = obj[key], key
                break
        for key in MODEL_KEYS:
            if key in obj and flatten_tensors(obj[key]):
                weights, result.state_dict_key = obj[key], key
                break
        else:
            weights = {k: v for k, v in obj.items() if k != result.optimizer_key}
        for key, value in obj.items():
            if key in (result.state_dict_key, result.optimizer_key):
                continue
            scalar = _json_scalar(value)
            if scalar is not None and len(result.other_keys) < 50:
                result.other_keys[str(key)] = scalar
            elif result.state_dict_key is not None and (extra := flatten_tensors(value)):
                n = sum(_numel(t) for t in extra.values())
                result.notes.append(f"'{key}' also holds {len(extra)} tensors ({n:,} elements), not counted "
                                    f"as model weights (the weights were read from '{result.state_dict_key}').")
    tensors, result.prefixes_stripped = strip_prefixes(flatten_tensors(weights))
    result.tensors = tensors
    return result


def _numel(t: TensorRef) -> int:
    n = 1
    for d in t.shape:
        n *= d
    return n
