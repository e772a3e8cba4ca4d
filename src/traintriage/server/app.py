"""The MCP server: a thin shell that registers tool, resource and prompt adapters.

Adapters live one per module in ``tools/``, ``resources/`` and ``prompts/``; each module has a
``register(server, ctx)`` function and is listed in its package's ``MODULES``. Adapter modules are
imported at startup, so they must stay light: analysis code (numpy, scipy, readers) is imported
inside the tool functions, never at module top level. That keeps ``initialize`` fast (Claude Code
drops servers that take more than a few seconds to start).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from mcp.server.mcpserver import MCPServer

from .. import __version__
from ..limits import CallLimits
from .context import ServerContext, configure
from .listing import TraintriageServer

INSTRUCTIONS = """\
traintriage diagnoses ML training runs from their artifacts (TensorBoard event dirs, experiment
names under outputs/training/, trainer_state.json, CSV/JSONL logs, checkpoints, profiler traces).
Start with `correlate` for a full triage (top issues, root causes, remediation and validation plans),
or call `analyze_loss` / `analyze_gradnorm` / `count_parameters` / `profile_memory` for one area.
`describe_run` shows what a target resolves to and which series play which role. Read
traintriage://reference/{code} for what a finding code means and how to fix it.
Paths must lie under the server's roots."""


def build_server(roots: Sequence[str | Path] | None = None, limits: CallLimits | None = None) -> MCPServer:
    """Build the server for ``roots`` (default: the working directory) with every adapter registered.

    ``limits``: the time/memory budget and concurrency of every tool call (see ``server/context.py``);
    they are the process's, so the last server built sets them. Default: the environment, else the defaults.
    """
    from . import prompts, resources, tools

    if limits is not None:
        configure(limits)
    ctx = ServerContext.from_roots(roots)
    server = TraintriageServer("traintriage", instructions=INSTRUCTIONS, version=__version__)
    for package in (tools, resources, prompts):
        for name in package.MODULES:
            importlib.import_module(f"{package.__name__}.{name}").register(server, ctx)
    return server
