"""Prompt ``review_training_config``: review a training configuration before the run starts.

Most failed runs were decided by their configuration: an LR that ignores the batch size, no warmup
for Adam on a transformer, fp16 without loss scaling, no clipping, a model plus optimizer state that
does not fit. Checking these (and that the run will log what a later triage needs) costs minutes,
the failed run costs GPU-days. The prompt uses count_parameters for the model's real size and the
server's memory estimator when one is registered, and the per-parameter arithmetic otherwise.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from pydantic import Field

from ..context import ServerContext
from ._shared import q, registered_tools

ConfigArg = Annotated[
    str,
    Field(description="The training configuration (pasted YAML/JSON/argparse flags) or a path to the config file."),
]
CheckpointArg = Annotated[
    str | None, Field(description="Optional checkpoint (initial or pretrained weights) to count parameters in.")
]
CapacityArg = Annotated[str | None, Field(description="Optional memory per GPU, e.g. '80GiB', '24G'.")]

# Per-parameter bytes for training with Adam; the mixed-precision figure is the ZeRO paper's 2 + 2 + 12.
MEMORY_BY_HAND = """\
Estimate by hand, and show the arithmetic: static memory per GPU = parameters x bytes per parameter /
sharding. With Adam/AdamW: fp32 training 16 bytes (4 weights + 4 gradients + 8 for the two moments); mixed
precision 16 bytes (2 fp16/bf16 weights + 2 gradients + 12 for fp32 master weights and moments, as in the
ZeRO paper); SGD with momentum in fp32 12 bytes. Add activations (they grow with batch size x sequence
length x hidden size x layers and usually dominate at large batch; say you could not compute them if the
shape is unknown) and about 1 GiB of CUDA context and allocator overhead. Keep 10-20% headroom."""

# Before a run there are no tool results for most numbers, so the evidence rule is: say where each came from.
CONFIG_RULES = """\
Rules for every claim:
- Each number comes from the configuration, a tool result, or arithmetic you show; mark framework
  defaults as defaults and typical ranges as heuristics, not facts about this run.
- A tool error is information: report it, do not work around it silently.
- Where the config does not say (hardware, dataset size, total steps), ask or state the assumption."""

RANGES = """\
Typical ranges (starting points from common practice, not laws):
- Peak LR. AdamW: 1e-4 to 1e-3 for transformers trained from scratch, lower as models grow (GPT-3 used
  6e-4 at 125M parameters, 2e-4 at 1.3B); 1e-5 to 5e-5 to fine-tune a pretrained transformer; 1e-3 for
  LSTMs. SGD with momentum: 0.1 at batch 256, scaled linearly with the batch. Outside: divergence, loss
  spikes, or a plateau.
- Warmup. Adam on transformers: a few hundred to a few thousand steps, or 1-5% of the total. Without it:
  early loss spikes and divergence.
- Schedule. Cosine or linear decay to about 10% of the peak (or 0) over the planned steps; step decay for
  CNNs. A constant LR stalls late; a decay horizon shorter than the run leaves it at LR 0.
- Effective batch = per-device batch x gradient accumulation x GPUs; the LR must be tuned for it (an LR
  copied from a run with another batch size is a common mistake).
- Precision. bf16 autocast on Ampere or newer; fp16 only with a GradScaler; fp32 master weights. fp16
  without loss scaling: NaN or gradient underflow.
- Gradient clipping. Total norm 1.0 for transformers, 0.25 to 5 for RNNs. None: one bad batch can
  diverge the run.
- Optimizer. AdamW with weight decay 0.01 to 0.1 (not on biases and norm weights), betas (0.9, 0.999), or
  (0.9, 0.95) for large language models.
- Evaluation. Val loss every few hundred to few thousand steps, on data disjoint from training. Rarer:
  overfitting found too late. Overlapping data: a leak (zero_loss, val loss below train loss)."""


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.prompt(
        name="review_training_config",
        title="Review a training config before the run",
        description="Pre-run review of a training configuration: model size (count_parameters), memory "
        "estimate against GPU capacity, batch size, LR and warmup/schedule, precision, clipping, optimizer, "
        "and whether the run will log what a later triage needs.",
    )
    async def review_training_config(
        config: ConfigArg, checkpoint: CheckpointArg = None, capacity: CapacityArg = None
    ) -> list[UserMessage]:
        tools = await registered_tools(server)
        steps = [
            "1. Read the configuration (if it is a path, read the file). List every setting below that it "
            "sets, and mark the ones it leaves to a default (say which default, if the framework is clear)."
        ]
        if checkpoint and "count_parameters" in tools:
            steps.append(
                f"2. `count_parameters(checkpoint={q(checkpoint)})`: total and per-component parameters, dtype, "
                "and architecture_imbalance (e.g. embeddings holding most parameters). Use this count, not the "
                "config's nominal size, for the memory estimate."
            )
        elif checkpoint:
            steps.append(
                "2. `count_parameters` is not registered on this server: take the parameter count from the "
                "config and say it was not verified against the checkpoint."
            )
        else:
            steps.append(
                "2. No checkpoint given: derive the parameter count from the architecture in the config and show "
                "the formula; if a checkpoint exists, `count_parameters(checkpoint=...)` gives the real count."
            )
        cap = f" against the capacity {capacity}" if capacity else " (ask for the GPU memory if the config lacks it)"
        if "estimate_memory" in tools:
            steps.append(
                f"3. Memory{cap}: `estimate_memory(...)` with the parameter count, optimizer, precision, sharding, "
                "GPU count, micro-batch size and, if known, the model shape; it returns the breakdown, whether it "
                "fits and the largest micro-batch that fits."
            )
        else:
            steps.append(
                f"3. Memory{cap}: this server registers no memory-estimator tool. With a shell, run the CLI "
                "estimator: `traintriage memory --estimate PARAMS --optimizer adamw --precision mixed --sharding none "
                f"--gpus N --batch-size B --seq-len S --hidden-size H --layers L --capacity {capacity or 'SIZE'} "
                "--text` (PARAMS: the "
                f"count, or the checkpoint path). Otherwise:\n{MEMORY_BY_HAND}"
            )
        steps.append(
            "4. Judge each setting against the ranges below and against the others (LR with effective batch and "
            "optimizer, warmup with total steps, schedule horizon with the planned steps, precision with the "
            "hardware, clipping with the model family)."
        )
        steps.append(
            "5. Check that the run will log what traintriage needs for a later triage (read "
            "`traintriage://guide/logging`): train loss per step, val loss, LR, total and per-component grad "
            "norms with pre/post-clip values, memory, curriculum stage. Name the missing ones."
        )
        steps.append(
            "6. After the run starts, `profile_memory(target=...)` on its logs or a profiler trace confirms the "
            "estimate, and `triage_run` (this server's prompt) or `correlate(run=...)` diagnoses it."
        )
        body = "\n".join(steps)
        task = f"""\
Review this training configuration before the run starts. Configuration: {config}

{body}

{RANGES}

Report:
- A table | setting | value (or default) | typical range | verdict (ok, risky, wrong, missing) | change |.
- The memory estimate with its breakdown (weights, gradients, optimizer state, activations, overhead),
  whether it fits{" " + capacity if capacity else ""}, and the largest safe micro-batch if known.
- Changes before launch, most important first, each with the failure it prevents (e.g. "add 500 warmup
  steps: Adam at 6e-4 with no warmup often spikes in the first hundred steps").
- Logging to add, with code from `traintriage://guide/fix-templates`.
- What cannot be judged before the run (data quality, the actual stability at this LR), and the early
  signals to watch in the first few hundred steps.

{CONFIG_RULES}"""
        return [UserMessage(task)]
