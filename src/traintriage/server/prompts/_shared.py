"""Text the workflow prompts share: the triage report contract, the evidence rules, tool availability.

The contract lives here once so that every prompt (and the skills in ``skills/``, which mirror it)
asks for the same report. Prompts are rendered per request, so they can look at the tools the server
actually registered and tell the agent what to do when one is missing, instead of sending it to call
a tool that is not there. Nothing heavy is imported: prompt modules load at server start.
"""

from __future__ import annotations

import json

from mcp.server.mcpserver import MCPServer

# The tools the server registers (server/tools/MODULES): the design contract's (DESIGN.md), and profile_step
# (the time verdict of a profiler trace, which the beyond-the-loss issue asked for as a tool of its own).
# Prompts only ever name these; tests/test_prompts_guides.py keeps the three lists in step.
KNOWN_TOOLS: tuple[str, ...] = (
    "describe_run",
    "analyze_loss",
    "analyze_gradnorm",
    "count_parameters",
    "profile_memory",
    "profile_step",
    "correlate",
    "triage_sweep",
    "plot_run",
    "compare_runs",
)

EVIDENCE_RULES = """\
Rules for every claim:
- Every number you write (value, step, threshold, learning rate, norm) comes from a tool result or a
  resource page; never estimate a value no tool returned. Cite the step it was observed at.
- A tool error or a read warning is information: report it, do not work around it silently.
- A series the run did not log is a gap, not a clean result ("no gradient norms were logged, so
  exploding gradients can neither be confirmed nor ruled out").
- Confidence is a number between 0 and 1. Start from the tool's confidence; lower it when the
  evidence is indirect (missing series, coarse logging interval, one seed) and say what would raise it."""

CONTRACT = """\
Write the report in exactly these sections (the traintriage triage contract):

## Run
What was read: resolved path, source format, step range, the roles used (and any overrides), read warnings.

## Top issues
At most 3, ordered by severity, then earliest step, then confidence (correlate's order). For each: rank,
title, finding codes, severity, step range, and an evidence table copied from the tools' evidence entries:
| metric | step | value | threshold / expected |
Fewer than 3 real issues: list fewer. Do not pad with info-level findings.

## Root cause
Per issue: category (optimizer, data, curriculum, architecture, initialization, numerics, memory,
pipeline or unknown), an explanation that ties the evidence together in step order (what moved first),
and a confidence in [0, 1]. "unknown" with a low confidence is an acceptable, honest answer.

## Remediation plan
Ordered, smallest safe change first (a config value before a code change, a code change before an
architecture change). Each step: the change with concrete values from the run ("lower peak LR from
2e-3, the logged lr at step 700, to 1e-3"; "clip the total grad norm at 1.0: its median was 0.8 and
spikes reached 45"), the issues it addresses, the expected effect, and the risk (low, medium, high).
One change per rerun, so that the validation can tell which change worked. Code for common fixes:
traintriage://guide/fix-templates.

## Validation plan
Per change: the metric to watch, a numeric expectation with a step window ("loss/train: no step above
3x the local median after step 700"; "val loss below 2.41, its best, by step 3000"), and how long to run
before judging. If the run lacked a series the diagnosis needed, say what to log first
(traintriage://guide/logging).

## What the logs cannot show
The limits of this diagnosis: missing series, a logging interval too coarse to resolve an event, no
batch contents or data order, no weights or activations, one seed. Where two causes fit the evidence
equally well, name both and the experiment that would tell them apart."""


def q(value: str) -> str:
    """An argument as a JSON string literal, so paths with spaces or quotes stay one value."""
    return json.dumps(value)


async def registered_tools(server: MCPServer) -> set[str]:
    """Names of the tools this server registered (read at render time: tools may be added later)."""
    return {tool.name for tool in await server.list_tools()}


def missing_note(tool: str, tools: set[str], fallback: str) -> str:
    """An empty string when ``tool`` is registered, else a line telling the agent what to do instead."""
    if tool in tools:
        return ""
    return f"Note: `{tool}` is not registered on this server. {fallback}"
