"""From a checkpoint's object tree to the model's state dict, the optimizer state and the bookkeeping.

Users save many shapes: a bare ``state_dict``; a training checkpoint
``{"model": ..., "optimizer": ..., "epoch": ...}`` (or ``state_dict`` / ``model_state_dict``,
Lightning's ``optimizer_states``); keys prefixed ``module.`` (DDP / DataParallel) or carrying
``_orig_mod.`` (torch.compile). All of them should count the same model, so this module finds the
weights, strips the wrapper prefixes and says what it did.

Hyperparameters saved beside the weights are kept too (an ``argparse.Namespace`` under ``args``,
Lightning's ``hyper_parameters``, DeepSpeed's ``ds_config``, a config dict): stand-ins expose their
fields (:func:`traintriage.pickle_standins.fields_of`) and numpy scalars their values, so they are
reported as plain ``name -> value`` pairs for the agent (and the hyperparameter checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..pickle_numpy import decoded
from ..pickle_standins import Instance, fields_of
from ..untrusted import clean_text, short_repr
from .torch_reader import TensorRef

# Keys under which training scripts keep the model weights, most specific first.
MODEL_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network", "model_state",
              "weights", "params", "generator", "ema", "model_ema", "ema_state_dict")
OPTIMIZER_KEYS = ("optimizer", "optimizer_state_dict", "optimizer_state", "optim", "opt", "optimizer_states")
# Keys under which training scripts keep their hyperparameters (the first few that hold fields are read).
HPARAM_KEYS = ("hyper_parameters", "hparams", "args", "config", "cfg", "hyperparameters", "training_args", "opt",
               "opts", "conf", "ds_config", "datamodule_hyper_parameters")
MAX_HPARAMS = 200
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
    hyperparameters: dict[str, Any] = field(default_factory=dict)
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
    value = _numpy_plain(decoded(value))
    if isinstance(value, bool | type(None)):
        return value
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value) if value.bit_length() <= 63 else None
    if isinstance(value, str):
        return clean_text(str(value[:200]))
    return None


MAX_ARRAY_LIST = 16


def _numpy_plain(value: Any) -> Any:
    """A numpy scalar as its Python value; a numpy array as a list when short, else a summary (dtype,
    shape, first, last, min, max): a metric history or an RNG state, reported, not dumped."""
    if type(value).__module__ != "numpy":
        return value
    import numpy as np

    if isinstance(value, np.generic):
        return value.item() if value.dtype.kind in "biufU" else None
    if not isinstance(value, np.ndarray):
        return None
    if value.dtype.kind not in "biuf":
        return {"dtype": str(value.dtype), "shape": list(value.shape)}
    if value.size <= MAX_ARRAY_LIST and value.ndim == 1:
        return [v.item() for v in value]
    flat = value.reshape(-1)
    summary: dict[str, Any] = {"dtype": str(value.dtype), "shape": list(value.shape)}
    if flat.size:
        summary.update(first=flat[0].item(), last=flat[-1].item(), min=flat.min().item(), max=flat.max().item())
    return summary


def plain_value(value: Any) -> Any:
    """A value worth reporting as is: a JSON scalar, a numpy value (see :func:`_numpy_plain`), or a short
    list/tuple of scalars (betas, milestones); None for anything else."""
    value = decoded(value)
    if type(value).__module__ == "numpy":
        return _numpy_plain(value)
    if isinstance(value, list | tuple) and len(value) <= MAX_ARRAY_LIST:
        items = [_numpy_plain(decoded(v)) if type(decoded(v)).__module__ == "numpy" else _json_scalar(v)
                 for v in value]
        return items if all(i is not None or v is None for i, v in zip(items, value, strict=True)) else None
    if isinstance(value, Instance) and not fields_of(value) and len(value.args) == 1:
        return _json_scalar(value.args[0])  # an Enum member (SchedulerType('linear')): its value
    return _json_scalar(value)


def _fields(node: Any) -> Mapping[Any, Any] | None:
    if isinstance(node, Instance):
        return fields_of(node) or None
    return node if isinstance(node, Mapping) else None


def hyperparameters(node: Any, prefix: str = "", out: dict[str, Any] | None = None, depth: int = 0) -> dict[str, Any]:
    """The scalar fields under ``node`` (a dict, a Namespace or other stand-in), nested ones dotted;
    tensors and large values left out, at most :data:`MAX_HPARAMS`."""
    out = {} if out is None else out
    fields = _fields(node)
    if fields is None or depth > 4:
        return out
    for key, value in fields.items():
        if len(out) >= MAX_HPARAMS:
            break
        name = f"{prefix}{key_text(key)}"
        if isinstance(value, TensorRef):
            continue
        if _fields(value) is not None:
            hyperparameters(value, name + ".", out, depth + 1)
            continue
        plain = plain_value(value)
        if plain is not None or value is None:
            out[name] = plain
    return out


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
        for key in HPARAM_KEYS:
            if key in obj and key != result.optimizer_key and _fields(obj[key]) is not None:
                found = hyperparameters(obj[key])
                prefix = "" if not result.hyperparameters else f"{key}."
                result.hyperparameters.update({f"{prefix}{k}": v for k, v in found.items()
                                               if len(result.hyperparameters) < MAX_HPARAMS})
        for key, value in obj.items():
            if key in (result.state_dict_key, result.optimizer_key):
                continue
            scalar = plain_value(value)
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
