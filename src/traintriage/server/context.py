"""What every tool, resource and prompt adapter shares: the sandbox (the roots the server may read), and how a
tool call runs (a worker thread, a time and memory budget, clear errors).

How a tool call runs (:func:`user_errors`):

* **In a worker thread**, so a slow call never holds up the event loop, and other calls (and the
  protocol: pings, cancellations, listings) are answered meanwhile. At most
  :attr:`~traintriage.limits.CallLimits.max_concurrent` calls work at once; the others wait for a
  worker (their time budget runs while they wait, since it is the caller's time).
* **Within a budget** (:mod:`traintriage.limits`): the caller gets a time-limit error at the deadline
  (the adapter stops waiting), and the worker stops at its next checkpoint; the memory limit is
  checked at the same checkpoints. The memory baseline is taken after the analysis code (numpy and
  the readers, ~20 MB, imported lazily so ``initialize`` stays fast) is loaded: that is the server's
  one-time cost, not the data of whichever call happens to come first.
* **Cancellable**: when the client cancels the call (``notifications/cancelled``, or an HTTP client
  closing the request), the adapter returns at once and the worker stops at its next checkpoint.
* **Errors**: a :class:`~traintriage.errors.TraintriageError` becomes a tool error the agent can act on;
  anything else is a bug, reported by the SDK as a generic failure (no traceback leaves the server), and
  logged; the server keeps serving.

The limits are the process's (``traintriage serve`` flags, else environment variables, else defaults):
:func:`configure` sets them, before the server starts serving.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from mcp.server.mcpserver.exceptions import ToolError

from ..errors import TraintriageError
from ..limits import Budget, BudgetExceeded, CallCancelled, CallLimits, CallStopped, active, time_limit_message
from ..sandbox import Sandbox
from ..sources import load_readers
from ..untrusted import clean_text, sendable

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class ServerContext:
    """Server-wide settings handed to each adapter's ``register`` function."""

    sandbox: Sandbox  # made once, from the --root directories; every tool call reads inside it

    @classmethod
    def from_roots(cls, roots: Sequence[str | Path] | None) -> ServerContext:
        """The server's roots, default the working directory; never unrestricted."""
        return cls(Sandbox.of(roots or [Path.cwd()]))

    @property
    def roots(self) -> tuple[Path, ...]:
        """The root directories (resolved), for listings."""
        return self.sandbox.roots


# ----------------------------------------------------------------------------------------------
# Limits and the worker pool
# ----------------------------------------------------------------------------------------------

_config_lock = threading.Lock()
_limits: CallLimits | None = None
_limiter_var: RunVar[anyio.CapacityLimiter | None] = RunVar("traintriage_call_limiter", default=None)


def configure(limits: CallLimits) -> None:
    """Set the limits every tool call of this process gets (call before serving)."""
    global _limits
    with _config_lock:
        _limits = limits


def current_limits() -> CallLimits:
    """The configured limits, else those of the environment (read once), else the defaults."""
    global _limits
    with _config_lock:
        if _limits is None:
            _limits = CallLimits.resolve()
        return _limits


def _limiter(limits: CallLimits) -> anyio.CapacityLimiter:
    """The worker slots of this event loop (a limiter belongs to the loop that made it)."""
    limiter = _limiter_var.get()
    if limiter is None:
        limiter = anyio.CapacityLimiter(limits.max_concurrent)
        _limiter_var.set(limiter)
    elif limiter.total_tokens != limits.max_concurrent:
        limiter.total_tokens = limits.max_concurrent
    return limiter


class _Stopped(Exception):
    """Carries a CallStopped (a BaseException) across the thread boundary as a plain Exception."""

    def __init__(self, stop: CallStopped) -> None:
        super().__init__(str(stop))
        self.stop = stop


def _work(budget: Budget, fn: Callable[[], R]) -> R:
    """In the worker thread: run ``fn`` with ``budget`` current."""
    if budget.stopped is not None:  # cancelled or timed out while waiting for a worker
        raise _Stopped(budget.stopped)
    load_readers()  # before the memory baseline: see the module docstring
    with active(budget):
        try:
            return sendable(fn())
        except CallStopped as stop:
            raise _Stopped(stop) from None


async def run_call(tool: str, fn: Callable[[], R], limits: CallLimits | None = None) -> R:
    """Run ``fn`` (a tool's synchronous body) in a worker thread within the call limits; see the module
    docstring. Raises :class:`ToolError` for a user error or an exceeded limit."""
    limits = limits or current_limits()
    budget = Budget(tool, limits, started=time.monotonic())
    finished = False
    try:
        with anyio.move_on_after(limits.timeout_s if limits.timeout_s is not None else float("inf")) as scope:
            result = await anyio.to_thread.run_sync(
                functools.partial(_work, budget, fn), abandon_on_cancel=True, limiter=_limiter(limits)
            )
            finished = True
            return result
        # Only reached when the deadline cancelled the wait: answer now, and let the worker stop.
        assert scope.cancelled_caught and limits.timeout_s is not None
        message = time_limit_message(tool, limits.timeout_s)
        budget.stop(BudgetExceeded(message, "time"))
        raise ToolError(message)
    except _Stopped as stopped:
        finished = True
        raise ToolError(clean_text(str(stopped.stop))) from None
    except TraintriageError as err:
        finished = True
        raise ToolError(clean_text(str(err))) from None
    except Exception:  # a bug: the SDK reports a generic failure and logs it
        finished = True
        raise
    finally:
        if not finished:
            # Cancelled by the client (or the server shutting down), or past the deadline: the thread
            # was abandoned; it stops at its next checkpoint.
            budget.stop(CallCancelled(f"{tool} was cancelled"))


def user_errors(fn: Callable[P, R]) -> Callable[P, Any]:
    """Make a tool's synchronous body a tool call as described in the module docstring.

    The returned coroutine function keeps ``fn``'s signature and annotations (``functools.wraps``), so
    the SDK builds the same input and output schemas from it.
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return await run_call(fn.__name__, functools.partial(fn, *args, **kwargs))

    return wrapper
