"""Optimizer state saved beside the weights: what it is and what it costs.

Adam keeps two full-size moments per parameter (``exp_avg``, ``exp_avg_sq``), so a training
checkpoint is about 3x its weights; reporting the slots separately keeps the parameter count honest
and shows where the checkpoint's bytes went.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .report import OptimizerSlot, OptimizerStats
from .tensors import ITEMSIZE
from .torch_reader import TensorRef

_HYPER = ("lr", "initial_lr", "betas", "eps", "weight_decay", "momentum", "nesterov", "amsgrad", "dampening",
          "alpha", "foreach", "fused", "maximize", "capturable")


def _kind(slots: set[str]) -> str:
    if {"exp_avg", "exp_avg_sq"} <= slots:
        return "Adam/AdamW (AMSGrad)" if "max_exp_avg_sq" in slots else "Adam/AdamW"
    if "momentum_buffer" in slots:
        return "SGD with momentum"
    if "square_avg" in slots:
        return "RMSprop/Adadelta"
    if "sum" in slots:
        return "Adagrad"
    if "exp_avg" in slots:
        return "Lion-like (one moment)"
    return "unknown" if slots else "no state yet (never stepped, or SGD without momentum)"


def _safe(v: Any) -> Any:
    if isinstance(v, bool | int | float | str | type(None)):
        return v
    if isinstance(v, tuple | list) and len(v) <= 8 and all(isinstance(x, int | float) for x in v):
        return list(v)
    return None


def optimizer_stats(opt: Any, key: str) -> OptimizerStats:
    """Summarise a ``optimizer.state_dict()`` (or Lightning's list of them)."""
    opts = opt if isinstance(opt, list) else [opt]
    slots: dict[str, list[int]] = {}
    groups = 0
    in_groups = 0
    with_state = 0
    hyper: list[dict[str, Any]] = []
    for o in opts:
        state = o.get("state") if isinstance(o, Mapping) else None
        for per_param in (state.values() if isinstance(state, Mapping) else []):
            if not isinstance(per_param, Mapping):
                continue
            with_state += 1
            for name, value in per_param.items():
                s = slots.setdefault(str(name), [0, 0, 0])
                if isinstance(value, TensorRef):
                    n = 1
                    for dim in value.shape:
                        n *= dim
                    s[0] += 1
                    s[1] += n
                    s[2] += n * ITEMSIZE.get(value.dtype, 0)
        for g in (o.get("param_groups") or [] if isinstance(o, Mapping) else []):
            if isinstance(g, Mapping):
                groups += 1
                params = g.get("params")
                in_groups += len(params) if isinstance(params, list) else 0
                if len(hyper) < 20:
                    hyper.append({k: _safe(g[k]) for k in _HYPER if k in g and _safe(g[k]) is not None})
    return OptimizerStats(
        key=key, kind=_kind(set(slots)), param_groups=groups, params_in_groups=in_groups,
        params_with_state=with_state,
        slots={k: OptimizerSlot(tensors=v[0], elements=v[1], bytes=v[2]) for k, v in slots.items()},
        total_bytes=sum(v[2] for v in slots.values()), hyperparameters=hyper,
    )
