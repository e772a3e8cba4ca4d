"""Prompt ``investigate_loss_spike``: explain one loss spike from what happened at the same steps.

A spike alone says little; its cause shows in what changed at or just before it: the learning rate
(warmup end, schedule restart, a resumed run), the gradient norm (which component, was it clipped),
the data (a curriculum stage change, a bad batch) and whether the loss came back. The prompt walks the
agent through those in the order that separates the common causes.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from pydantic import Field

from ..context import ServerContext
from ._shared import EVIDENCE_RULES, missing_note, q, registered_tools

RunArg = Annotated[str, Field(description="Run directory, event file, experiment name or trial dir.")]
StepArg = Annotated[
    int | None, Field(description="Step of the spike to explain; omit to take the most severe loss_spike found.")
]


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.prompt(
        name="investigate_loss_spike",
        title="Investigate a loss spike",
        description="Explain a loss spike: find it with analyze_loss, then check LR changes, gradient spikes and "
        "clipping (analyze_gradnorm), stage/data transitions and recovery at those steps; ends with cause, "
        "confidence, fix and how to validate it.",
    )
    async def investigate_loss_spike(run: RunArg, step: StepArg = None) -> list[UserMessage]:
        tools = await registered_tools(server)
        target = (
            f"the loss spike at or nearest to step {step}"
            if step is not None
            else "the most severe loss spike (critical before warning, then earliest)"
        )
        window = "the spike's step range, widened by about 5 logged steps each side"

        correlate_line = (
            f"8. `correlate(run={q(run)})`: check whether its attribution for this spike matches yours; where they "
            "differ, trust the step order of the evidence and say why."
            if "correlate" in tools
            else "8. " + missing_note("correlate", tools, "Attribute the spike yourself from steps 3-7.")
        )
        task = f"""\
Investigate {target} in the training run {q(run)} with the traintriage tools.

1. `describe_run(run={q(run)})`: confirm which series are train_loss, lr, grad_total / grad_preclip /
   grad_postclip / clip_threshold, grad_components and stage. Fix wrong roles with `roles` overrides in
   every later call. Missing lr, gradient or stage series limit what can be concluded: note each.
2. `analyze_loss(run={q(run)}, diagnose=true)`: among the loss_spike findings, take {target}
   (also look at nan_inf and divergence starting there). Record its step_start, step_end, peak value,
   the local level it is compared to (the evidence's threshold), and whether and when it recovered (the
   finding's details). If no loss_spike finding matches, say so and report the loss statistics around
   the step instead of inventing a spike.
3. Learning rate: did the lr change within {window}? analyze_loss reports LR changes at spikes. Typical
   culprits: the end of warmup (peak LR reached), a schedule restart, a manual change, or a resumed run
   (look for resume/duplicate-step warnings). Quote the lr values and steps a tool returned; if none
   returned the lr there, say it could not be checked.
4. `analyze_gradnorm(run={q(run)})`: gradient_spike, exploding_gradients or heavy_clipping inside the
   window. Which came first: a gradient spike before the loss spike points to optimizer instability
   (LR too high for the curvature, Adam epsilon or beta2 too small); a loss spike with a normal gradient
   norm before it points to the data (a bad or unusual batch). Which component's norm jumped
   (grad_components)? That localises the layer.
5. Clipping: if pre-clip and post-clip norms are logged, was clipping active at the spike, and at what
   threshold? A spike that clipping did not contain means the threshold is too high (or clipping is not
   applied where it is logged); heavy_clipping on most steps means the threshold or the LR is off.
6. Data and stage: did the stage series change, or is there a curriculum_regression finding, inside the
   window? Do the spikes repeat with a fixed period (a sign of one bad shard or sample revisited every
   epoch)? Compare spike steps with the epoch length if an epoch series is logged.
7. Recovery and damage: did the loss return to its pre-spike level, after how many steps; did the val
   loss move? A spike that recovers within a few steps and leaves val loss unchanged is cheap; one that
   never recovers, or precedes divergence or NaN, is critical.
{correlate_line}
9. Read `traintriage://reference/loss_spike` (and the page of any other code involved, e.g.
   `traintriage://reference/gradient_spike`) for thresholds, causes and fixes.

Report:
- A timeline table of the window: | step | loss | lr | grad norm (pre/post clip) | stage | note |, with
  only values the tools returned; leave a cell empty rather than guessing.
- The most likely cause (category: optimizer, data, curriculum, numerics, pipeline or unknown), the
  competing explanation if one fits, and a confidence in [0, 1].
- The fix, smallest safe change first, with values from the run (e.g. lower the peak lr from the
  logged value, extend warmup past the spike step, clip the total grad norm at a value near its
  pre-spike median, skip or inspect the batch at that step). Code: `traintriage://guide/fix-templates`.
- Validation: the metric, the numeric expectation and the step window that would show the fix worked.
- What the logs cannot show (batch contents, per-sample losses, anything logged too coarsely).

{EVIDENCE_RULES}"""
        return [UserMessage(task)]
