"""Which part of a model a tensor belongs to, from its name alone.

State dicts carry names, not module types, so the category is read from the naming conventions of
PyTorch, HF transformers (GPT-2, Llama, BERT, T5), timm and hand-written models. Order matters:
a norm inside attention is a norm (``attention.output.LayerNorm``), a projection inside a numbered
block is never the model's output head (BERT's ``layer.3.output.dense`` is feed-forward).
"""

from __future__ import annotations

import re

from .report import Category
from .tensors import FLOAT_DTYPES

_NORM_RE = re.compile(r"(norm|^ln(_?\w{0,2})?$|^bn\d*$|^gn\d*$|layernorm|layer_norm|rmsnorm)", re.I)
_EMB_RE = re.compile(r"(emb|^wte$|^wpe$|^shared$|^cls_token$|^mask_token$|^register_tokens$)", re.I)
_ATTN_NAMES = {"q_proj", "k_proj", "v_proj", "o_proj", "qkv", "qkv_proj", "query", "key", "value", "c_attn",
               "in_proj", "wq", "wk", "wv", "wo", "q", "k", "v", "o", "in_proj_weight", "in_proj_bias",
               "query_key_value", "kv", "kv_proj"}
_MLP_NAMES = {"c_fc", "fc1", "fc2", "fc3", "gate_proj", "up_proj", "down_proj", "w1", "w2", "w3", "ff", "fc",
              "dense_h_to_4h", "dense_4h_to_h", "experts", "gate", "wi", "wi_0", "wi_1", "output", "linear1",
              "linear2", "gate_up_proj"}
_HEAD_NAMES = {"lm_head", "head", "heads", "classifier", "cls", "score", "qa_outputs", "output", "out", "fc_out",
               "pooler", "generator", "output_layer", "logits", "fc", "output_projection", "embed_out"}
_BUFFER_LEAVES = {"running_mean", "running_var", "num_batches_tracked", "inv_freq", "masked_bias", "position_ids",
                  "_float_tensor", "relative_position_index", "attn_mask", "causal_mask", "token_type_ids"}


def is_buffer(name: str, dtype: str, ndim: int) -> bool:
    """Running statistics, counters, masks and rotary tables: saved in state dicts, never trained."""
    parts = name.split(".")
    leaf = parts[-1]
    if leaf in _BUFFER_LEAVES or dtype not in FLOAT_DTYPES:
        return True
    # GPT-2 (HF) stores its causal mask as attn.bias with shape [1, 1, n_ctx, n_ctx].
    return leaf == "bias" and len(parts) > 1 and "attn" in parts[-2] and ndim == 4


def categorize(name: str) -> Category:
    parts = name.split(".")
    modules = [p.lower() for p in parts[:-1]]
    leaf = parts[-1].lower()
    in_block = any(p.isdigit() for p in modules)
    last = modules[-1] if modules else leaf
    if _NORM_RE.search(last) or (not modules and "norm" in leaf):
        return "norms"
    if any(_EMB_RE.search(p) for p in [*modules, leaf]) and "lm_head" not in modules:
        return "embeddings"
    if "lm_head" in modules or (not in_block and modules and modules[0] in _HEAD_NAMES) or (
        not in_block and len(modules) > 1 and modules[0] in ("model", "transformer", "module", "net")
        and modules[1] in _HEAD_NAMES - {"output"}
    ):
        return "output_head"
    if any("attn" in p or "attention" in p or p in _ATTN_NAMES for p in modules) or leaf in _ATTN_NAMES:
        return "attention"
    if any(p in _MLP_NAMES or "mlp" in p or "ffn" in p or "feed_forward" in p or "feedforward" in p
           or "intermediate" in p for p in modules):
        return "mlp"
    return "other"
