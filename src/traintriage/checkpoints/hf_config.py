"""Analytic parameter counts from a Hugging Face ``config.json`` when there is no checkpoint.

The config is turned into the tensors the model would hold, with transformers' own names and
shapes (GPT-2, Llama-style decoders: llama, mistral, qwen2; BERT/RoBERTa encoders), so the
counting, tree and imbalance analysis are exactly those of a real checkpoint. Checked against the
published sizes: GPT-2 124,439,808; Llama-2-7B 6,738,415,616; bert-base-uncased 109,482,240.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ..untrusted import json_error, json_loads, short_repr
from .tensors import TensorInfo

MAX_CONFIG_BYTES = 4 * 1024 * 1024
LLAMA_LIKE = ("llama", "mistral", "qwen2", "qwen3")
BERT_LIKE = ("bert", "roberta")
MAX_LAYERS = 10_000
MAX_SIZE = 1 << 40
"""Bounds on a config's numbers. The largest published models have a few hundred layers and widths of a
few hundred thousand; the tensors are listed one per layer, so ``num_hidden_layers: 10**9`` would take
minutes and gigabytes, and sizes past 2**40 only overflow the arithmetic."""

_CONFIG_HINT = "Pass the model's config.json as saved by transformers, or point at the checkpoint itself."


def _int(cfg: dict[str, Any], *keys: str, default: int | None = None, limit: int = MAX_SIZE) -> int:
    for key in keys:
        value = cfg.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            if value > limit:
                raise InputError(f"config.json gives {key} over {limit:,}: not a real model's size.",
                                 hint=_CONFIG_HINT)
            return value
    if default is not None:
        return default
    raise InputError(f"config.json lacks {keys[0]!r} (or it is not a non-negative integer).",
                     hint="An analytic count needs the model's sizes; point at a checkpoint instead.")


def load_config(path: Path) -> dict[str, Any]:
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise InputError(f"{path.name} is over {MAX_CONFIG_BYTES:,} bytes: not a model config.", hint=_CONFIG_HINT)
    try:
        cfg = json_loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: bad syntax, too deep, a 5000-digit number
        raise InputError(f"{path.name} is not readable JSON ({json_error(exc)[:120]}).", hint=_CONFIG_HINT) from None
    if not isinstance(cfg, dict):
        raise InputError(f"{path.name} is not a JSON object.", hint=_CONFIG_HINT)
    return cfg


def _t(name: str, shape: tuple[int, ...], dtype: str, tied_to: str | None = None) -> TensorInfo:
    return TensorInfo(name=name, dtype=dtype, shape=shape, tied_to=tied_to)


def _gpt2(cfg: dict[str, Any], dtype: str) -> list[TensorInfo]:
    v, p = _int(cfg, "vocab_size"), _int(cfg, "n_positions", "n_ctx")
    d, n_layer = _int(cfg, "n_embd", "hidden_size"), _int(cfg, "n_layer", "num_hidden_layers", limit=MAX_LAYERS)
    inner = _int(cfg, "n_inner", default=4 * d) if cfg.get("n_inner") is not None else 4 * d
    out = [_t("transformer.wte.weight", (v, d), dtype), _t("transformer.wpe.weight", (p, d), dtype)]
    for i in range(n_layer):
        h = f"transformer.h.{i}"
        out += [
            _t(f"{h}.ln_1.weight", (d,), dtype), _t(f"{h}.ln_1.bias", (d,), dtype),
            _t(f"{h}.attn.c_attn.weight", (d, 3 * d), dtype), _t(f"{h}.attn.c_attn.bias", (3 * d,), dtype),
            _t(f"{h}.attn.c_proj.weight", (d, d), dtype), _t(f"{h}.attn.c_proj.bias", (d,), dtype),
            _t(f"{h}.ln_2.weight", (d,), dtype), _t(f"{h}.ln_2.bias", (d,), dtype),
            _t(f"{h}.mlp.c_fc.weight", (d, inner), dtype), _t(f"{h}.mlp.c_fc.bias", (inner,), dtype),
            _t(f"{h}.mlp.c_proj.weight", (inner, d), dtype), _t(f"{h}.mlp.c_proj.bias", (d,), dtype),
        ]
    out += [_t("transformer.ln_f.weight", (d,), dtype), _t("transformer.ln_f.bias", (d,), dtype)]
    tie = cfg.get("tie_word_embeddings", True) is not False
    out.append(_t("lm_head.weight", (v, d), dtype, "transformer.wte.weight" if tie else None))
    return out


def _llama(cfg: dict[str, Any], dtype: str) -> list[TensorInfo]:
    v, d = _int(cfg, "vocab_size"), _int(cfg, "hidden_size")
    n_layer, ff = _int(cfg, "num_hidden_layers", limit=MAX_LAYERS), _int(cfg, "intermediate_size")
    heads = _int(cfg, "num_attention_heads")
    kv = _int(cfg, "num_key_value_heads", default=heads) if cfg.get("num_key_value_heads") is not None else heads
    hd = _int(cfg, "head_dim", default=d // max(heads, 1)) if cfg.get("head_dim") is not None else d // max(heads, 1)
    qkv_bias = bool(cfg.get("attention_bias", cfg.get("model_type") == "qwen2"))
    mlp_bias = bool(cfg.get("mlp_bias", False))
    out = [_t("model.embed_tokens.weight", (v, d), dtype)]
    for i in range(n_layer):
        b = f"model.layers.{i}"
        out += [
            _t(f"{b}.self_attn.q_proj.weight", (heads * hd, d), dtype),
            _t(f"{b}.self_attn.k_proj.weight", (kv * hd, d), dtype),
            _t(f"{b}.self_attn.v_proj.weight", (kv * hd, d), dtype),
            _t(f"{b}.self_attn.o_proj.weight", (d, heads * hd), dtype),
            _t(f"{b}.mlp.gate_proj.weight", (ff, d), dtype), _t(f"{b}.mlp.up_proj.weight", (ff, d), dtype),
            _t(f"{b}.mlp.down_proj.weight", (d, ff), dtype),
            _t(f"{b}.input_layernorm.weight", (d,), dtype), _t(f"{b}.post_attention_layernorm.weight", (d,), dtype),
        ]
        if qkv_bias:
            out += [_t(f"{b}.self_attn.q_proj.bias", (heads * hd,), dtype),
                    _t(f"{b}.self_attn.k_proj.bias", (kv * hd,), dtype),
                    _t(f"{b}.self_attn.v_proj.bias", (kv * hd,), dtype)]
        if cfg.get("attention_bias"):
            out.append(_t(f"{b}.self_attn.o_proj.bias", (d,), dtype))
        if mlp_bias:
            out += [_t(f"{b}.mlp.gate_proj.bias", (ff,), dtype), _t(f"{b}.mlp.up_proj.bias", (ff,), dtype),
                    _t(f"{b}.mlp.down_proj.bias", (d,), dtype)]
    out.append(_t("model.norm.weight", (d,), dtype))
    tie = cfg.get("tie_word_embeddings", False) is True
    out.append(_t("lm_head.weight", (v, d), dtype, "model.embed_tokens.weight" if tie else None))
    return out


def _bert(cfg: dict[str, Any], dtype: str, prefix: str) -> list[TensorInfo]:
    v, d = _int(cfg, "vocab_size"), _int(cfg, "hidden_size")
    n_layer, ff = _int(cfg, "num_hidden_layers", limit=MAX_LAYERS), _int(cfg, "intermediate_size")
    p, types = _int(cfg, "max_position_embeddings"), _int(cfg, "type_vocab_size", default=2)
    e = f"{prefix}.embeddings"
    out = [_t(f"{e}.word_embeddings.weight", (v, d), dtype), _t(f"{e}.position_embeddings.weight", (p, d), dtype),
           _t(f"{e}.token_type_embeddings.weight", (types, d), dtype),
           _t(f"{e}.LayerNorm.weight", (d,), dtype), _t(f"{e}.LayerNorm.bias", (d,), dtype)]
    for i in range(n_layer):
        b = f"{prefix}.encoder.layer.{i}"
        for proj in ("query", "key", "value"):
            out += [_t(f"{b}.attention.self.{proj}.weight", (d, d), dtype),
                    _t(f"{b}.attention.self.{proj}.bias", (d,), dtype)]
        out += [
            _t(f"{b}.attention.output.dense.weight", (d, d), dtype),
            _t(f"{b}.attention.output.dense.bias", (d,), dtype),
            _t(f"{b}.attention.output.LayerNorm.weight", (d,), dtype),
            _t(f"{b}.attention.output.LayerNorm.bias", (d,), dtype),
            _t(f"{b}.intermediate.dense.weight", (ff, d), dtype), _t(f"{b}.intermediate.dense.bias", (ff,), dtype),
            _t(f"{b}.output.dense.weight", (d, ff), dtype), _t(f"{b}.output.dense.bias", (d,), dtype),
            _t(f"{b}.output.LayerNorm.weight", (d,), dtype), _t(f"{b}.output.LayerNorm.bias", (d,), dtype),
        ]
    out += [_t(f"{prefix}.pooler.dense.weight", (d, d), dtype), _t(f"{prefix}.pooler.dense.bias", (d,), dtype)]
    return out


def tensors_from_config(cfg: dict[str, Any]) -> tuple[list[TensorInfo], str]:
    """The tensors a model built from ``cfg`` holds, and a note on what was assumed."""
    model_type = str(cfg.get("model_type", "")).lower()
    dtype = {"float16": "float16", "bfloat16": "bfloat16", "float32": "float32"}.get(
        str(cfg.get("torch_dtype") or cfg.get("dtype") or "float32"), "float32")
    if model_type == "gpt2":
        return _gpt2(cfg, dtype), "GPT-2 (LM head tied unless tie_word_embeddings is false)"
    if model_type in LLAMA_LIKE:
        return _llama(cfg, dtype), f"{model_type} (Llama-style decoder, RMSNorm, gated MLP)"
    if model_type in BERT_LIKE:
        return _bert(cfg, dtype, model_type), f"{model_type} encoder with pooler, no task head"
    raise InputError(
        f"config.json has model_type {short_repr(model_type) if model_type else '(none)'}; analytic counts cover "
        f"{', '.join(('gpt2', *LLAMA_LIKE, *BERT_LIKE))}.",
        hint="Point traintriage at the checkpoint (safetensors or torch.save file) to count any architecture.",
    )
