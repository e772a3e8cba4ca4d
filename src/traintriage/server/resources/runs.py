"""Resources ``runs://`` (every run under the roots) and ``runs://{experiment}`` (one experiment's runs)."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from ...untrusted import clean_text
from ..context import ServerContext, sendable
from .errors import not_found


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
            not_found(f"runs://{experiment}", clean_text(
                f"no runs for experiment {experiment!r}. Experiments under the roots: {', '.join(known) or 'none'}"
            ))
        return sendable(catalog).model_dump_json(indent=2)

    @server.resource(
        "runs://{experiment}/plot.png",
        name="experiment-plot",
        description="The annotated plot (PNG) of an experiment's newest run: curves with its triage issues marked.",
        mime_type="image/png",
    )
    async def experiment_plot(experiment: str) -> bytes:
        from mcp.server.mcpserver.exceptions import ToolError

        from ...plot import plot_run
        from ...sources.catalog import list_runs
        from ..context import run_call

        def draw() -> bytes:
            if not list_runs(ctx.roots, under=experiment).runs:
                raise _NoExperiment(experiment)
            return plot_run(experiment, sandbox=ctx.sandbox).data

        try:
            return await run_call("runs://{experiment}/plot.png", draw)
        except _NoExperiment:
            not_found(f"runs://{experiment}/plot.png", f"no runs for experiment {experiment!r}; see runs://")
        except ToolError as err:  # a user error (no matplotlib, nothing to plot) or a call limit
            raise ResourceError(clean_text(str(err))) from None


class _NoExperiment(Exception):
    """Raised in the worker, turned into the resource-not-found error by the adapter."""
