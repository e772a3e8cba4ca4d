"""MCP progress notifications for tool calls that take a while.

Reading a multi-GB log or scanning a big checkpoint takes seconds to minutes in a worker thread, and a
client that sent a progress token should hear that the call is alive. :func:`heartbeat` runs beside a
call: after ``TRAINTRIAGE_PROGRESS_AFTER`` seconds (default 1) it sends one notification per second, the
elapsed seconds as ``progress`` (no total: the work's size is not known up front) and a message naming
the tool. The SDK makes it a no-op when the client sent no token; a failure to send never fails the call.
Tools that report their own progress (``triage_sweep``: one notification per trial) are left alone.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator

import anyio

PROGRESS_CONTEXT = "progress_context"
"""The keyword argument through which the SDK hands the wrapper its request Context."""

DEFAULT_AFTER_S = 1.0


def _after() -> float:
    try:
        return max(0.0, float(os.environ.get("TRAINTRIAGE_PROGRESS_AFTER", DEFAULT_AFTER_S)))
    except ValueError:
        return DEFAULT_AFTER_S


@contextlib.asynccontextmanager
async def heartbeat(context, tool: str) -> AsyncIterator[None]:
    if context is None:
        yield
        return
    started = time.monotonic()

    async def beat() -> None:
        await anyio.sleep(_after())
        while True:
            elapsed = time.monotonic() - started
            with contextlib.suppress(Exception):  # a client gone away must not fail the call
                await context.report_progress(round(elapsed, 1), None, f"{tool}: working, {elapsed:.0f} s so far")
            await anyio.sleep(1.0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(beat)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()
