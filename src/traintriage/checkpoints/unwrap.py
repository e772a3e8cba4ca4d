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

from ..untrusted import clean_text, short_repr
from .torch_reader import TensorRef

# Keys under which training scripts keep the model weights, most specific first.
MODEL_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network", "model_state",
              "weights", "params", "generator", "ema", "model_ema", "ema_state_dict")
OPTIMIZER_KEYS = ("optimizer", "optimizer_state_dict", "optimizer_state", "optim", "opt", "optimizer_states")
MAX_DEPTH = 16
MAX_ITEMS = 2_000_000
"""Objects one walk of the object tree visits at most. A pickle can reference one container many times (a
list holding the level below twice, 64 levels deep, is a few hundred bytes), so without a cap a walk of
its paths would never end; every walk of one :func:`unwrap` also shares one budget of this size."""


@dataclass
class Unwrapped:
    tensors: dict[str, TensorRef]
    state_dict_key: str | None = None
    prefixes_stripped: list[str] = field(default_factory=list)
    optimizer: Any = None
    optimizer_key: str | None = None
    other_keys: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Budget:
    """Objects a set of walks may still visit (shared by the walks of one :func:`unwrap`)."""

    def __init__(self, items: int = MAX_ITEMS) -> None:
        self.left = items

    @property
    def spent(self) -> bool:
        return self.left <= 0


def key_text(key: Any) -> str:
    """A dict key as a name segment: itself when a string, bounded otherwise (a pickle's key may be any
    hashable value: a huge int, a tuple nested 64 levels deep)."""
    if isinstance(key, str):
        return clean_text(key)
    if isinstance(key, int) and not isinstance(key, bool) and key.bit_length() <= 64:
        return str(key)
    return short_repr(key, 60)


def flatten_tensors(obj: Any, prefix: str = "", budget: Budget | None = None) -> dict[str, TensorRef]:
    """Every TensorRef under ``obj`` with its dotted path (nested dicts and lists of tensors), visiting
    at most ``budget`` objects (default: a fresh :data:`MAX_ITEMS`)."""
    budget = budget or Budget()
    out: dict[str, TensorRef] = {}
    stack: list[tuple[str, Any, int]] = [(prefix, obj, 0)]
    while stack:
        path, node, depth = stack.pop()
        budget.left -= 1
        if budget.left < 0:
            break
        if isinstance(node, TensorRef):
            out[path or "tensor"] = node
        elif depth < MAX_DEPTH and isinstance(node, Mapping):
            for k, v in node.items():
                stack.append((f"{path}.{key_text(k)}" if path else key_text(k), v, depth + 1))
        elif depth < MAX_DEPTH and isinstance(node, list | tuple):
            for i, v in enumerate(node):
                stack.append((f"{path}.{i}" if path else str(i), v, depth + 1))
    return dict(sorted(out.items(), key=lambda kv: _natural(kv[0])))


def _natural(name: str) -> tuple:
    """Sort ``blocks.10`` after ``blocks.9`` (digits compared by length, then text: no int() of a
    5000-digit segment)."""
    return tuple((0, len(p), p) if p.isascii() and p.isdigit() else (1, 0, p) for p in name.split("."))


def _is_optimizer_state(node: Any) -> bool:
    return isinstance(node, Mapping) and "state" in node and "param_groups" in node


def _is_optimizer(node: Any) -> bool:
    """An ``optimizer.state_dict()``, or Lightning's flat list of them (one level: a nested list is not a
    format anyone writes, and walking one a pickle shares at every level would never end)."""
    if isinstance(node, list) and node:
        return all(_is_optimizer_state(n) for n in node)
    return _is_optimizer_state(node)


def _json_scalar(value: Any) -> Any:
    if isinstance(value, bool | float | type(None)):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= 63 else None
    if isinstance(value, str):
        return clean_text(str(value[:200]))
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
    probes = Budget()  # the search for the weights and for tensors under other keys; the weights get their own
    if isinstance(obj, Mapping) and not all(isinstance(v, TensorRef) for v in obj.values()):
        for key in OPTIMIZER_KEYS:
            if key in obj and _is_optimizer(obj[key]):
                result.optimizer, result.optimizer_key = obj[key], key
                break
        for key in MODEL_KEYS:
            if key in obj and flatten_tensors(obj[key], budget=probes):
                weights, result.state_dict_key = obj[key], key
                break
        else:
            weights = {k: v for k, v in obj.items() if k != result.optimizer_key}
        for key, value in obj.items():
            if key in (result.state_dict_key, result.optimizer_key):
                continue
            scalar = _json_scalar(value)
            if scalar is not None and len(result.other_keys) < 50:
                result.other_keys[key_text(key)] = scalar
            elif result.state_dict_key is not None and (extra := flatten_tensors(value, budget=probes)):
                n = sum(_numel(t) for t in extra.values())
                result.notes.append(f"'{key}' also holds {len(extra)} tensors ({n:,} elements), not counted "
                                    f"as model weights (the weights were read from '{result.state_dict_key}').")
    if probes.spent:
        result.notes.append(f"the checkpoint's object tree is larger than {MAX_ITEMS:,} objects (or shares "
                            "containers many times over); the search for tensors outside the weights stopped there.")
    budget = Budget()
    tensors, result.prefixes_stripped = strip_prefixes(flatten_tensors(weights, budget=budget))
    if budget.spent:
        result.notes.append(f"stopped reading the weights after {MAX_ITEMS:,} objects (the object tree is larger, "
                            "or shares containers many times over); tensors past that are not counted.")
    result.tensors = tensors
    return result


def _numel(t: TensorRef) -> int:
    n = 1
    for d in t.shape:
        n *= d
    return n
