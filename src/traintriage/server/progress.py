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
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

PROGRESS_CONTEXT = "progress_context"
"""The keyword argument through which the SDK hands the wrapper its request Context."""

DEFAULT_AFTER_S = 1.0
R = TypeVar("R")


def _after() -> float:
    try:
        return max(0.0, float(os.environ.get("TRAINTRIAGE_PROGRESS_AFTER", DEFAULT_AFTER_S)))
    except ValueError:
        return DEFAULT_AFTER_S


async def with_heartbeat(context, tool: str, call: Callable[[], Awaitable[R]]) -> R:
    """``await call()``, with progress notifications beside it (see the module docstring).

    The call runs as a task beside the heartbeat and its exception is re-raised as it was: a task group
    would otherwise wrap a ToolError in an ExceptionGroup, and the SDK would report a generic failure.
    """
    if context is None:
        return await call()
    started = time.monotonic()
    outcome: dict[str, Any] = {}

    async def beat() -> None:
        await anyio.sleep(_after())
        while True:
            elapsed = time.monotonic() - started
            with contextlib.suppress(Exception):  # a client gone away must not fail the call
                await context.report_progress(round(elapsed, 1), None, f"{tool}: working, {elapsed:.0f} s so far")
            await anyio.sleep(1.0)

    async def work(scope: anyio.CancelScope) -> None:
        try:
            outcome["result"] = await call()
        except Exception as err:  # re-raised below, unwrapped
            outcome["error"] = err
        finally:
            scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(beat)
        tg.start_soon(work, tg.cancel_scope)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
