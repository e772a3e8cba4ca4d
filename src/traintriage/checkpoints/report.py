"""The records ``count_parameters`` returns (JSON for agents, MCP structured content)."""

from __future__ import annotations

from typing import Any, Literal

from ..findings import Finding
from ..record import Field, Record

Category = Literal["embeddings", "attention", "mlp", "norms", "output_head", "other"]
CATEGORIES: tuple[str, ...] = ("embeddings", "attention", "mlp", "norms", "output_head", "other")


class CheckpointInfo(Record):
    """What was read, so an agent can check the tool looked at the right thing."""

    path: str = Field(description="Resolved path of the target (file or directory).")
    format: Literal["safetensors", "safetensors_sharded", "torch_zip", "torch_legacy", "torch_sharded",
                    "pickle", "hf_config", "torch_dcp"]
    layout: Literal["lightning", "deepspeed", "hf_trainer", "torch_dcp"] | None = Field(
        default=None, description="The training framework's layout the target was resolved through, if any.")
    files: list[str] = Field(description="Files read (first 50).")
    file_bytes: int = Field(description="Total size of the files read.")
    state_dict_key: str | None = Field(default=None, description="Key of a training checkpoint the weights came from.")
    prefixes_stripped: list[str] = Field(
        default_factory=list, description="Wrapper prefixes removed (module., _orig_mod.)."
    )
    other_keys: dict[str, Any] = Field(default_factory=dict, description="Scalar bookkeeping (epoch, step, ...).")
    metadata: dict[str, str] = Field(default_factory=dict, description="safetensors __metadata__.")
    hyperparameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Hyperparameters saved beside the weights (argparse Namespace, Lightning hyper_parameters, "
        "DeepSpeed ds_config, HF TrainingArguments and scheduler), nested names dotted.")
    recorded_by_name: dict[str, int] = Field(
        default_factory=dict,
        description="Globals the pickles named that were neither imported nor called: answered with inert "
        "stand-ins (module.name -> times looked up). numpy values are decoded from their bytes.")
    companions: list[str] = Field(
        default_factory=list, description="Files read beside the weights (optimizer, scheduler, trainer state, "
        "training args, ZeRO shards).")


class DtypeStats(Record):
    dtype: str
    tensors: int
    parameters: int
    bytes: int


class CategoryStats(Record):
    category: Category
    parameters: int
    share: float = Field(description="Fraction of all parameters (tied weights counted once).")
    tensors: int


class ModuleNode(Record):
    """One module prefix, e.g. ``blocks.0.attn``: parameters under it, tied weights counted once."""

    name: str
    parameters: int
    bytes: int
    share: float
    tensors: int
    children: list[ModuleNode] = Field(default_factory=list)


class TensorEntry(Record):
    name: str
    shape: list[int]
    dtype: str
    parameters: int
    category: Category


class TiedGroup(Record):
    """Names that hold the same weights; counted once, under ``names[0]``."""

    names: list[str]
    shape: list[int]
    parameters: int = Field(description="Elements of one copy.")
    how: Literal["shared_storage", "identical_values", "config", "name_convention"]
    counted_once: bool


class BufferStats(Record):
    """State-dict entries that are buffers (running stats, counters, masks), not trained parameters."""

    tensors: int = 0
    elements: int = 0
    bytes: int = 0
    names: list[str] = Field(default_factory=list, description="First 20.")


class OptimizerSlot(Record):
    tensors: int
    elements: int
    bytes: int


class OptimizerStats(Record):
    """The optimizer state saved beside the weights: it often costs 2x the model (Adam)."""

    key: str = Field(description="Where it was found in the checkpoint.")
    kind: str = Field(description="Guess from the state's slot names, e.g. 'Adam/AdamW'.")
    param_groups: int
    params_in_groups: int
    params_with_state: int
    slots: dict[str, OptimizerSlot] = Field(description="Per state name (exp_avg, exp_avg_sq, step, ...).")
    total_bytes: int
    hyperparameters: list[dict[str, Any]] = Field(default_factory=list, description="Per group: lr, betas, ...")
    files: list[str] = Field(default_factory=list, description="Files the state was read from when not the "
                             "checkpoint itself (optimizer.pt, ZeRO shards); their tensors are counted, not loaded.")
    zero_stage: int | None = Field(default=None, description="DeepSpeed ZeRO stage of sharded optimizer state.")


class NonFinite(Record):
    name: str
    nan: int
    inf: int
    elements: int


class ValueScan(Record):
    """Streamed pass over the tensor bytes (bounded memory), when asked for."""

    scanned_tensors: int
    scanned_bytes: int
    skipped: list[str] = Field(default_factory=list, description="Tensors not scanned, with the reason.")
    nonfinite: list[NonFinite] = Field(default_factory=list)
    all_zero: list[str] = Field(default_factory=list)


class ParamReport(Record):
    """What a checkpoint holds: counts, where they sit, what is tied, what is broken."""

    checkpoint: CheckpointInfo
    warnings: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    total_parameters: int = Field(description="Trainable-shaped tensors, tied weights counted once, buffers excluded.")
    total_bytes: int = Field(description="Bytes of those parameters as stored.")
    tensors: int = Field(description="Named tensors read (before de-duplicating tied ones), buffers included.")
    by_dtype: list[DtypeStats]
    categories: list[CategoryStats]
    depth: int
    tree: list[ModuleNode]
    largest_tensors: list[TensorEntry]
    tied: list[TiedGroup] = Field(default_factory=list)
    buffers: BufferStats = Field(default_factory=BufferStats)
    optimizer: OptimizerStats | None = None
    value_scan: ValueScan | None = None
    architecture: dict[str, Any] = Field(
        default_factory=dict, description="What was inferred: vocab, d_model, blocks, per-block parameters."
    )
