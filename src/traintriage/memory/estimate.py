"""How much memory training a model takes per GPU, before running it.

Model states, in bytes per parameter (``Psi`` parameters, unsharded):

=========================  =======  =====  ==========================================
precision                  weights  grads  optimizer states (K)
=========================  =======  =====  ==========================================
fp32                       4        4      SGD 0, momentum 4, Adam 8, 8-bit Adam 2
bf16 (pure, no master)     2        2      SGD 0, momentum 2, Adam 4, 8-bit Adam 2
mixed (16-bit + fp32       2        2      SGD 4, momentum 8, Adam 12, 8-bit Adam 6
master weights)                            (each includes the 4-byte fp32 master copy)
=========================  =======  =====  ==========================================

Mixed-precision Adam is therefore 2 + 2 + 12 = 16 bytes per parameter, the figure of the ZeRO paper
(Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models",
section 3.1, K = 12). Sharding over ``N`` data-parallel GPUs (ZeRO stages, same paper, Figure 1):

* ZeRO-1 (P_os):    (2 + 2) Psi + K Psi / N
* ZeRO-2 (P_os+g):  2 Psi + (2 + K) Psi / N   (FSDP SHARD_GRAD_OP)
* ZeRO-3 (P_os+g+p): (2 + 2 + K) Psi / N      (FSDP FULL_SHARD, ``fsdp``)

Activations of a transformer layer, in bytes, with 16-bit activations and no recomputation
(Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models",
section 4.1, eq. 1): ``s*b*h*(34 + 5*a*s/h)`` for sequence length ``s``, micro-batch ``b``, hidden
size ``h`` and ``a`` attention heads. Selective recomputation (same paper, section 5) keeps
``34*s*b*h``; full recomputation keeps the layer input, ``2*s*b*h`` per layer, and rebuilds one
layer's activations at a time in the backward pass (we add that one layer). fp32 activations are
taken as twice the 16-bit figure (an approximation: dropout masks stay 1 byte). Embeddings, the
output logits and the loss are not in the formula; the estimate is a lower bound for them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InputError
from .report import MemoryEstimate
from .sizes import format_bytes

if TYPE_CHECKING:
    from ..sandbox import Sandbox

Optimizer = Literal["sgd", "sgd_momentum", "adam", "adamw", "adam8bit"]
Precision = Literal["fp32", "bf16", "mixed"]
Sharding = Literal["none", "zero1", "zero2", "zero3", "fsdp"]
Checkpointing = Literal["none", "selective", "full"]

# (weights, grads) by precision; optimizer bytes by (optimizer, precision).
_MODEL_BYTES: dict[str, tuple[float, float]] = {"fp32": (4, 4), "bf16": (2, 2), "mixed": (2, 2)}
_OPTIMIZER_BYTES: dict[str, dict[str, float]] = {
    "sgd": {"fp32": 0, "bf16": 0, "mixed": 4},
    "sgd_momentum": {"fp32": 4, "bf16": 2, "mixed": 8},
    "adam": {"fp32": 8, "bf16": 4, "mixed": 12},
    "adam8bit": {"fp32": 2, "bf16": 2, "mixed": 6},
}
_ALIASES = {"adamw": "adam", "momentum": "sgd_momentum", "sgd+momentum": "sgd_momentum", "adam_8bit": "adam8bit",
            "8bit_adam": "adam8bit", "fp16": "mixed", "amp": "mixed", "mixed_precision": "mixed",
            "zero-1": "zero1", "zero-2": "zero2", "zero-3": "zero3", "ddp": "none",
            "fsdp_full_shard": "fsdp", "full_shard": "fsdp", "shard_grad_op": "zero2"}

KORTHIKANTI = ("Korthikanti et al. 2022, Reducing Activation Recomputation in Large Transformer Models, "
               "eq. 1: activations per layer = s*b*h*(34 + 5*a*s/h) bytes (16-bit, no recomputation)")
ZERO = ("Rajbhandari et al. 2020, ZeRO: Memory Optimizations Toward Training Trillion Parameter Models, "
        "Fig. 1: model states (2 + 2 + K)*Psi, K = 12 for mixed-precision Adam")


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    key = _ALIASES.get(str(value).strip().lower(), str(value).strip().lower())
    if key not in allowed:
        raise InputError(f"unknown {what} {value!r}.", hint=f"Choose one of: {', '.join(allowed)}.")
    return key


def activation_bytes_per_layer(seq_len: int, batch: int, hidden: int, heads: int, checkpointing: str = "none") -> float:
    """Korthikanti et al. 2022: bytes of 16-bit activations one transformer layer keeps for backward."""
    s, b, h, a = seq_len, batch, hidden, heads
    if checkpointing == "selective":
        return 34.0 * s * b * h
    if checkpointing == "full":
        return 2.0 * s * b * h
    return s * b * h * (34.0 + 5.0 * a * s / h)


def transformer_activation_bytes(
    *, seq_len: int, batch: int, hidden: int, layers: int, heads: int, checkpointing: str = "none",
    precision: str = "mixed",
) -> float:
    """All layers' activations; full recomputation adds one layer rebuilt at a time in backward."""
    total = layers * activation_bytes_per_layer(seq_len, batch, hidden, heads, checkpointing)
    if checkpointing == "full":
        total += activation_bytes_per_layer(seq_len, batch, hidden, heads, "none")
    return total * (2.0 if precision == "fp32" else 1.0)


def _count_from_checkpoint(path: Path, sandbox: Sandbox | None) -> int:
    if sandbox is None:  # a count needs no sandbox; reading a checkpoint does, and there is no default
        raise TypeError(f"estimate_memory({str(path)!r}) reads a checkpoint: pass sandbox=Sandbox.unrestricted() "
                        "(your own files) or Sandbox.of([directory, ...]).")
    try:
        from ..checkpoints import count_parameters  # type: ignore[attr-defined]
    except ImportError:
        raise InputError(
            f"cannot count the parameters of {path}: the checkpoint reader is not available in this build.",
            hint="Pass the parameter count as a number instead (e.g. 7.5e9).",
        ) from None
    try:  # only the count is needed: skip the value scan, which reads every tensor's bytes
        report: Any = count_parameters(path, scan_values=False, sandbox=sandbox)
    except TypeError:
        report = count_parameters(path, sandbox=sandbox)
    for attr in ("total_parameters", "total", "total_params", "parameters"):
        value = report.get(attr) if isinstance(report, dict) else getattr(report, attr, None)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
    raise InputError(f"the parameter report of {path} has no total.", hint="Pass the parameter count as a number.")


def _parameters(parameters: int | float | str | Path, sandbox: Sandbox | None) -> tuple[int, str]:
    if isinstance(parameters, bool):
        raise InputError("parameters must be a count or a checkpoint path.", hint="e.g. 7.5e9 or model.safetensors")
    if isinstance(parameters, int | float):
        count, source = int(parameters), "given"
    else:
        text = str(parameters).strip()
        try:
            count, source = int(float(text.replace("_", ""))), "given"
        except ValueError:
            path = Path(text).expanduser()
            if not path.exists():
                raise InputError(
                    f"{text!r} is neither a parameter count nor an existing checkpoint.",
                    hint="Pass a number (7.5e9) or the path of a checkpoint.",
                ) from None
            count, source = _count_from_checkpoint(path, sandbox), str(path)
    if count <= 0:
        raise InputError(f"parameter count must be positive, got {count}.", hint="e.g. 7.5e9")
    return count, source


def estimate_memory(
    parameters: int | float | str | Path,
    *,
    optimizer: str = "adamw",
    precision: str = "mixed",
    sharding: str = "none",
    gpus: int = 1,
    batch_size: int | None = None,
    seq_len: int | None = None,
    hidden_size: int | None = None,
    num_layers: int | None = None,
    num_heads: int | None = None,
    activation_checkpointing: str = "none",
    capacity_bytes: int | None = None,
    overhead_bytes: int = 0,
    sandbox: Sandbox | None = None,
) -> MemoryEstimate:
    """Weights, gradients, optimizer state and activations per GPU, and the largest batch that fits.

    ``parameters`` is a count or a checkpoint path (counted with ``traintriage.checkpoints``).
    ``batch_size`` is the per-GPU micro-batch. Activations need ``seq_len``, ``hidden_size`` and
    ``num_layers`` (``num_heads`` defaults to hidden_size/64). ``overhead_bytes`` covers what the
    formula does not (CUDA context, workspace); it is 0 unless given. ``sandbox`` is required when
    ``parameters`` is a checkpoint path (a ``TypeError`` without it), as for every function that reads.
    """
    count, source = _parameters(parameters, sandbox)
    opt = _choice(optimizer, (*_OPTIMIZER_BYTES, "adamw"), "optimizer")
    opt_key = "adam" if opt == "adamw" else opt
    prec = _choice(precision, tuple(_MODEL_BYTES), "precision")
    shard = _choice(sharding, ("none", "zero1", "zero2", "zero3", "fsdp"), "sharding")
    ckpt = _choice(activation_checkpointing, ("none", "selective", "full"), "activation checkpointing")
    if int(gpus) < 1:
        raise InputError(f"gpus must be at least 1, got {gpus}.", hint="The number of data-parallel GPUs.")
    n = int(gpus)
    notes: list[str] = []
    if shard == "none" and n > 1:
        notes.append(f"sharding 'none' (plain data parallel): every one of the {n} GPUs holds full model states.")

    w, g = _MODEL_BYTES[prec]
    k = _OPTIMIZER_BYTES[opt_key][prec]
    w_div = n if shard in ("zero3", "fsdp") else 1
    g_div = n if shard in ("zero2", "zero3", "fsdp") else 1
    k_div = n if shard != "none" else 1
    weights = count * w / w_div
    grads = count * g / g_div
    states = count * k / k_div
    if opt_key == "adam8bit":
        notes.append("8-bit Adam: two 1-byte states per parameter; its per-block quantisation constants "
                     "(a few bytes per 2048 values) are left out.")

    act_total = act_per_sample = None
    shape = (seq_len, hidden_size, num_layers)
    if all(v is not None for v in shape):
        heads = num_heads
        if heads is None:
            heads = max(1, int(hidden_size) // 64)  # type: ignore[arg-type]
            notes.append(f"num_heads not given: assumed hidden_size/64 = {heads}.")
        act_per_sample = transformer_activation_bytes(
            seq_len=int(seq_len), batch=1, hidden=int(hidden_size), layers=int(num_layers),  # type: ignore[arg-type]
            heads=int(heads), checkpointing=ckpt, precision=prec,
        )
        if batch_size is not None:
            act_total = act_per_sample * int(batch_size)
    elif any(v is not None for v in shape):
        notes.append("activations need seq_len, hidden_size and num_layers together; left out.")
    else:
        notes.append("activations not estimated: give seq_len, hidden_size, num_layers (and batch_size).")

    static = weights + grads + states + overhead_bytes
    total = static + (act_total or 0.0)
    fits = None if capacity_bytes is None else total <= capacity_bytes
    max_batch = None
    if capacity_bytes is not None and act_per_sample:
        max_batch = max(0, math.floor((capacity_bytes - static) / act_per_sample))
        if max_batch == 0:
            notes.append(f"model states alone ({format_bytes(static)}) leave no room for one sample within "
                         f"{format_bytes(capacity_bytes)}: shard further (zero3/fsdp), more GPUs, or 8-bit states.")
    if capacity_bytes is None:
        notes.append("capacity unknown: pass capacity (e.g. 80GiB) for 'fits' and the largest batch.")

    breakdown = {"weights": format_bytes(weights), "gradients": format_bytes(grads),
                 "optimizer": format_bytes(states)}
    if act_total is not None:
        breakdown["activations"] = format_bytes(act_total)
    if overhead_bytes:
        breakdown["overhead"] = format_bytes(overhead_bytes)
    return MemoryEstimate(
        parameters=count, parameters_source=source, optimizer=opt, precision=prec, sharding=shard, gpus=n,
        bytes_per_parameter={"weights": w, "gradients": g, "optimizer": k, "total": w + g + k},
        weights_bytes=round(weights), gradients_bytes=round(grads), optimizer_bytes=round(states),
        activations_bytes=None if act_total is None else round(act_total),
        activations_per_sample_bytes=None if act_per_sample is None else round(act_per_sample),
        overhead_bytes=int(overhead_bytes), total_bytes=round(total), total_human=format_bytes(total),
        breakdown_human=breakdown, capacity_bytes=capacity_bytes, fits=fits, max_batch_size=max_batch,
        formulas=[ZERO, KORTHIKANTI], notes=notes,
    )
