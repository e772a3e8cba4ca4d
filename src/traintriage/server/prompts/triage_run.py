"""Prompt ``triage_run``: the two-pass triage workflow that ends in the triage report contract.

Pass 1 looks at one area at a time (roles, loss, gradients, optionally parameters and memory) so the
agent has seen the raw findings before pass 2 (``correlate`` plus the reference pages) ranks and
explains them; an agent that jumps straight to a ranked report tends to repeat it uncritically.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from pydantic import Field

from ..context import ServerContext
from ._shared import CONTRACT, EVIDENCE_RULES, missing_note, q, registered_tools

RunArg = Annotated[str, Field(description="Run directory, event file, experiment name or trial dir.")]
CheckpointArg = Annotated[str | None, Field(description="Optional checkpoint to count parameters in.")]
MemoryArg = Annotated[
    str | None, Field(description="Optional memory target: the run, a profiler trace or a CUDA memory snapshot.")
]


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.prompt(
        name="triage_run",
        title="Triage a training run",
        description="Full triage of a training run: describe_run, analyze_loss, analyze_gradnorm, correlate, "
        "then a report with the top 3 issues and their evidence, root cause with confidence, an ordered "
        "remediation plan and a validation plan.",
    )
    async def triage_run(run: RunArg, checkpoint: CheckpointArg = None, memory: MemoryArg = None) -> list[UserMessage]:
        tools = await registered_tools(server)
        extra_args = ""
        if checkpoint:
            extra_args += f", checkpoint={q(checkpoint)}"
        if memory:
            extra_args += f", memory={q(memory)}"

        steps = [
            f"1. `describe_run(run={q(run)})`. Check the roles: train_loss, val_loss, lr, grad_total / "
            "grad_preclip / grad_postclip, grad_components, memory, stage, collapse_metric (metrics that should keep "
            "varying: entropy, prediction std, diversity, halting). If a role points at the wrong series "
            "(an epoch aggregate or a sub-loss as train_loss, a learning-rate multiplier as lr) or is empty although "
            'a fitting series exists, pass `roles` overrides (e.g. {"train_loss": "loss/total"}) to every later '
            "call. Note the read warnings.",
            f"2. `analyze_loss(run={q(run)}, diagnose=true)` (with your `roles`): loss findings with likely causes, "
            "and statistics. Curriculum or data-mix changes that no stage series records: pass their steps as "
            "`transitions`.",
            f"3. `analyze_gradnorm(run={q(run)})` (with your `roles`; pass `clip_threshold` if the run clips but does "
            "not log the threshold): gradient findings. No gradient norms logged means exploding/vanishing "
            "gradients and clipping could not be checked: record that as a gap.",
        ]
        n = 4
        if checkpoint:
            steps.append(
                f"{n}. `count_parameters(checkpoint={q(checkpoint)})`: parameter count per component, "
                "architecture_imbalance. "
                + missing_note("count_parameters", tools, "Say in the report that parameters were not checked.")
            )
            n += 1
        if memory:
            steps.append(
                f"{n}. `profile_memory(target={q(memory)})`: memory_leak, memory_pressure and peak numbers. "
                + missing_note("profile_memory", tools, "Say in the report that memory was not checked.")
            )
            n += 1
        pass1 = "\n".join(s.rstrip() for s in steps)

        if "correlate" in tools:
            correlate_step = (
                f"{n}. `correlate(run={q(run)}{extra_args})` (same `roles`, `clip_threshold` and `transitions` as in "
                'pass 1; add `capacity`, e.g. "80GiB", when the GPU memory is known): joins the findings by step, '
                "attributes root causes and ranks the issues; its first three issues are the top 3, and it proposes "
                "remediation and validation steps. Compare it with pass 1: every issue's evidence must match what "
                "you saw there."
            )
        else:
            correlate_step = (
                f"{n}. `correlate` is not registered on this server, so do its work by hand: put every finding "
                "from pass 1 on one step axis. A loss finding that starts at, or a few logged steps after, a "
                "gradient finding (gradient_spike, exploding_gradients, heavy_clipping) is likely caused by it "
                "(category optimizer); one at a stage change (curriculum_regression, the stage role) points to "
                "curriculum or data; a NaN that appears in a gradient norm before the loss points to numerics. "
                "Rank by severity, then earliest step, then confidence."
            )
        pass2 = "\n".join(
            [
                correlate_step,
                f"{n + 1}. For every finding code in the top 3, read the resource `traintriage://reference/{{code}}` "
                "(what it detects, thresholds, likely causes, fixes, how to validate a fix). Use it to test the "
                "attribution: does the evidence show the cause preceding the effect? If not, say so and lower the "
                "confidence.",
                f"{n + 2}. Write the report below. For code to apply a fix, see `traintriage://guide/fix-templates`.",
            ]
        )

        task = (
            f"Triage the training run {q(run)} with the traintriage tools and write a triage report.\n\n"
            "Work in two passes.\n\n"
            f"Pass 1: evidence, one area at a time\n{pass1}\n\n"
            f"Pass 2: correlate and explain\n{pass2}\n\n"
            f"{EVIDENCE_RULES}"
        )
        return [UserMessage(task), UserMessage(CONTRACT)]
