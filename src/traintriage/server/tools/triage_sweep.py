"""MCP tool ``triage_sweep``: triage every trial of a hyperparameter search (see traintriage.sweeps).

No ``from __future__ import annotations`` here: the SDK evaluates annotations for the schemas. The
tool is async so that it can send a progress notification as each trial finishes (the streaming the
CLI's ``--stream`` gives on stdout); the analysis itself runs in a worker thread (and, for many
trials, in worker processes), so the server keeps answering other requests meanwhile.
"""

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from ...sweeps.models import SweepReport
from ..context import ServerContext, run_call
from ..detail import DetailArg


def register(server: MCPServer, ctx: ServerContext) -> None:
    @server.tool(
        name="triage_sweep",
        description="Triage every trial of a hyperparameter search: a ranking by health with each trial's "
        "hyperparameters, top issue codes and best loss; the failure modes that recur, with counts, and how the "
        "hyperparameters differ with and without each (effect size, threshold, n). Target: a directory of "
        "trials (Ray Tune, trial_N/, Lightning, MLflow mlruns/, Hydra multirun), an Optuna storage "
        "'sqlite:///study.db', or a remote URL under the server's remote roots.",
    )
    async def triage_sweep(
        target: Annotated[
            str, Field(description="Sweep directory, Optuna storage 'sqlite:///path/study.db', or remote URL.")
        ],
        context: Context,
        study: Annotated[str | None, Field(description="Optuna study name, when the storage holds several.")] = None,
        log_dir_attr: Annotated[
            str, Field(description="Optuna user attribute holding each trial's log directory.")
        ] = "log_dir",
        workers: Annotated[
            int, Field(description="Local processes (0: one per CPU when there are several trials; 1: serial).")
        ] = 0,
        detail: DetailArg = "summary",  # applied to the result by server/detail.py
    ) -> SweepReport:
        import contextlib

        import anyio.from_thread

        from ...sweeps import plan_sweep, run_plan
        from ...sweeps.text import trial_line

        def progress(row, done: int, total: int) -> None:
            # Progress is a courtesy: a client that went away must not fail the sweep.
            with contextlib.suppress(Exception):
                anyio.from_thread.run(context.report_progress, done, total, trial_line(row))

        def work() -> SweepReport:
            plan = plan_sweep(target, sandbox=ctx.sandbox, study=study, log_dir_attr=log_dir_attr)
            return run_plan(plan, workers=workers, on_row=progress)

        # A worker thread within the call's time/memory budget, cancellable (see server/context.py).
        return await run_call("triage_sweep", work)
