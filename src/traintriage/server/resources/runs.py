"""Resources ``runs://`` (every run under the roots) and ``runs://{experiment}`` (one experiment's runs)."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from ...untrusted import clean_text
from ..context import ServerContext, sendable


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.resource(
        "runs://",
        name="runs",
        description="Runs under the server's roots: experiment, run, format, last step, last write, size.",
        mime_type="application/json",
    )
    def all_runs() -> str:
        from ...sources.catalog import list_runs

        return sendable(list_runs(ctx.roots)).model_dump_json(indent=2)

    @server.resource(
        "runs://{experiment}",
        name="experiment-runs",
        description="The runs of one experiment (the directory above the runs, e.g. outputs/training/<name>).",
        mime_type="application/json",
    )
    def experiment_runs(experiment: str) -> str:
        from ...sources.catalog import list_runs

        catalog = list_runs(ctx.roots, under=experiment)
        if not catalog.runs:
            known = sorted({r.experiment for r in list_runs(ctx.roots).runs})
            raise ResourceError(clean_text(
                f"no runs for experiment {experiment!r}. Experiments under the roots: {', '.join(known) or 'none'}"
            ))
        return sendable(catalog).model_dump_json(indent=2)
