"""What ``tools/list`` tells a client about each tool, made small and complete.

:class:`TraintriageServer` is the SDK's ``MCPServer`` with one public method overridden,
``list_tools``: every tool is listed with compact schemas (:mod:`.schemas`), a human title, and the
annotations that are true of all of them (they read artifacts and never change them:
``readOnlyHint``; they only touch the server's roots, never the network: ``openWorldHint`` false).
Doing it here, in one place, keeps each tool adapter about its own arguments.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.types import Tool, ToolAnnotations

from .schemas import compact_schema, output_outline

TITLES: dict[str, str] = {
    "describe_run": "Describe a run (files, series, roles)",
    "analyze_loss": "Analyse the loss curve",
    "analyze_gradnorm": "Analyse gradient norms",
    "correlate": "Triage a run",
    "profile_memory": "Profile memory",
    "count_parameters": "Count checkpoint parameters",
    "triage_sweep": "Triage a hyperparameter sweep",
    "plot_run": "Plot a run with its issues marked",
}

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def listed(tool: Tool) -> Tool:
    return tool.model_copy(update={
        "title": tool.title or TITLES.get(tool.name),
        "annotations": READ_ONLY,
        "input_schema": compact_schema(tool.input_schema),
        "output_schema": output_outline(tool.output_schema) if tool.output_schema else None,
    })


class TraintriageServer(MCPServer):
    async def list_tools(self) -> list[Tool]:
        return [listed(t) for t in await super().list_tools()]
