"""Prompt ``review_sequence_model``: review an LSTM/GRU (or other sequence model) run and its hyperparameters.

Recurrent models fail in their own ways: gradients explode through time, clipping is part of the recipe,
an untied softmax over a large vocabulary holds most of the parameters, and a hidden state that is not
detached between batches leaks memory. The prompt pairs the curves the tools read with the typical ranges
of the hyperparameters that cause those failures, so the review ends in concrete values to change.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from pydantic import Field

from ..context import ServerContext
from ._shared import EVIDENCE_RULES, missing_note, q, registered_tools

RunArg = Annotated[str, Field(description="Run directory, event file, experiment name or trial dir.")]
ConfigArg = Annotated[
    str | None,
    Field(
        description="Optional hyperparameters as known, e.g. 'LSTM 2x512, Adam lr=1e-3, batch 32, seq_len 128, "
        "clip 1.0, dropout 0.2, vocab 10k', or a path to the config file."
    ),
]

RANGES = """\
Typical ranges (starting points from common practice, not laws; the run's own curves decide):
- Optimizer and LR: Adam or AdamW at 1e-3 (1e-4 to 3e-3). Plain SGD needs far larger LRs together with
  clipping: the PyTorch word_language_model example uses SGD lr=20, clip 0.25, and divides the LR by 4
  whenever val loss stops improving. Too high: loss_spike, divergence, heavy_clipping. Too low: plateau.
- Gradient clipping (total norm): 0.25 to 5 for RNNs (0.25 in word_language_model, 1.0 a common default).
  None: exploding_gradients and NaN. Clipping on most steps: the threshold is too tight or the LR too high.
- Hidden size: 128 to 1024 per layer, 1 to 3 layers. Too large for the data: overfitting. Too small: a
  plateau at a high loss.
- Batch size: 16 to 128 sequences. Small: a noisy loss (oscillation). Large without a higher LR: slow
  convergence.
- Sequence length (BPTT): 35 to 200 steps (35 in word_language_model). Long: more exploding and vanishing
  gradients through time; activation memory grows linearly with it.
- Dropout: 0.2 to 0.5 between layers. None on a small data set: overfitting.
- Embeddings: tie the input and output embeddings when their sizes match; an untied softmax over a large
  vocabulary holds most of the parameters (architecture_imbalance)."""


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.prompt(
        name="review_sequence_model",
        title="Review an LSTM / sequence-model run",
        description="Review an LSTM/GRU/sequence-model training run: read its loss and gradient curves with "
        "analyze_loss and analyze_gradnorm, then judge LR, clipping, hidden size, batch size and sequence "
        "length against typical ranges and recommend concrete values.",
    )
    async def review_sequence_model(run: RunArg, config: ConfigArg = None) -> list[UserMessage]:
        tools = await registered_tools(server)
        config_line = (
            f"The hyperparameters as given: {config}. If this names a file, read it."
            if config
            else "No hyperparameters were given: take what the run logged (lr, and any hparams the describe_run "
            "series or files show) and ask for the rest (hidden size, layers, batch size, sequence length, "
            "clipping, optimizer) rather than assuming them."
        )
        correlate_line = (
            f"5. `correlate(run={q(run)})` to rank the issues and get the attributed root causes."
            if "correlate" in tools
            else "5. " + missing_note("correlate", tools, "Rank the findings yourself: severity, then earliest step.")
        )
        task = f"""\
Review the sequence-model (LSTM/GRU/RNN, or a recurrent encoder inside a larger model) training run {q(run)}.
{config_line}

1. `describe_run(run={q(run)})`: confirm train_loss, val_loss, lr, grad norms (total, pre/post clip, per
   component such as the embedding, the recurrent layers and the decoder/softmax) and memory. Override wrong
   roles with `roles` in later calls.
2. `analyze_loss(run={q(run)}, diagnose=true)`. For a language model the loss is cross-entropy in nats: perplexity is
   exp(loss), and an untrained model starts near ln(vocabulary size) (9.2 for 10k words). A first loss far
   above that suggests an initialization or label problem; a loss near 0 suggests a leak (zero_loss). Note
   overfitting (with its best step), plateau, oscillation and spikes.
3. `analyze_gradnorm(run={q(run)})`. Recurrent layers are where exploding_gradients and vanishing_gradients
   show first; heavy_clipping says how hard the clip works; gradient_imbalance or dead_component on the
   embedding or an unused gate/head is common.
4. If a memory series is logged and grows step after step (memory_leak): the classic RNN cause is a hidden
   state carried across batches without `.detach()` (the graph, and memory, grow every batch). Say it is a
   likely cause, not a certainty.
{correlate_line}
6. Read `traintriage://reference/{{code}}` for each code you report.

{RANGES}

Report:
- Curves: what the loss and gradient curves show, with the findings' evidence (metric, step, value,
  threshold).
- Hyperparameter review: a table | setting | value in this run | typical range | verdict | suggested value |,
  where the suggested value follows from the curves (e.g. heavy clipping at 0.25 with a plateau: raise the
  clip to 1.0 or lower the LR) and "unknown" where the value was not given or logged.
- Ordered changes, smallest safe change first, one per rerun, each with the issue it addresses.
- Validation: the metric and numeric expectation per change (e.g. "val perplexity below exp(best val loss)
  by step N"; "clipping active on under 20% of steps").
- What the logs cannot show.

{EVIDENCE_RULES}"""
        return [UserMessage(task)]
