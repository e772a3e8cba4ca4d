"""Per-call budgets (time, memory) for the long-lived MCP server, kept by cooperative budget checks.

A server answers many calls for hours; one call on a huge or pathological run must not take all of
its time or memory. Each tool call runs in a worker thread with a :class:`Budget` made current for
it (a context variable, so concurrent calls each see their own). Long-running code calls
:func:`check_budget` at natural boundaries (per file, per read window); a check raises
:class:`CallStopped` when the call

* ran past its deadline (:attr:`CallLimits.timeout_s`),
* grew the process's resident memory by more than :attr:`CallLimits.memory_mb` since it started
  (read from ``/proc/self/statm``: one small read; other calls running at the same time count too,
  so this is a bound on the server's growth while the call runs, not an exact per-call account), or
  is about to read something whose estimated size would take it past that bound, or
* was stopped by the server: the caller cancelled it, or the adapter already answered it with a
  time-limit error and the worker must stop soon instead of running on unseen.

Outside a server call (the CLI, the library) no budget is current and :func:`check_budget` costs one
context-variable lookup. :class:`CallStopped` derives from :class:`BaseException` on purpose: readers
catch ``TraintriageError`` (and sometimes ``Exception``) to turn one bad file into a warning, and a
stopped call must not be mistaken for a bad file.

This module imports only the standard library: the server imports it at startup.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .errors import TraintriageError

DEFAULT_CALL_TIMEOUT_S = 120.0
DEFAULT_CALL_MEMORY_MB = 4096
DEFAULT_MAX_CONCURRENT_CALLS = 8
ENV_CALL_TIMEOUT = "TRAINTRIAGE_CALL_TIMEOUT"
ENV_CALL_MEMORY_MB = "TRAINTRIAGE_CALL_MEMORY_MB"
ENV_MAX_CONCURRENT_CALLS = "TRAINTRIAGE_MAX_CONCURRENT_CALLS"


class LimitsError(TraintriageError):
    """A limit given on the command line or in the environment is not a usable number."""


@dataclass(frozen=True)
class CallLimits:
    """What one tool call may use. ``None`` means no limit."""

    timeout_s: float | None = DEFAULT_CALL_TIMEOUT_S
    memory_mb: int | None = DEFAULT_CALL_MEMORY_MB
    max_concurrent: int = DEFAULT_MAX_CONCURRENT_CALLS

    @classmethod
    def resolve(
        cls,
        timeout_s: float | None = None,
        memory_mb: int | None = None,
        max_concurrent: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CallLimits:
        """Limits from explicit values (command-line flags), else the environment, else the defaults.

        ``0`` (flag or environment) switches the time or memory limit off.
        """
        env = os.environ if env is None else env
        timeout = _pick(timeout_s, env, ENV_CALL_TIMEOUT, DEFAULT_CALL_TIMEOUT_S, float, "--call-timeout")
        memory = _pick(memory_mb, env, ENV_CALL_MEMORY_MB, DEFAULT_CALL_MEMORY_MB, int, "--call-memory-mb")
        workers = _pick(max_concurrent, env, ENV_MAX_CONCURRENT_CALLS, DEFAULT_MAX_CONCURRENT_CALLS, int,
                        "--max-concurrent-calls")
        if workers < 1:
            raise LimitsError(f"--max-concurrent-calls / {ENV_MAX_CONCURRENT_CALLS} must be at least 1, got {workers}.",
                              hint="Pass a positive number of calls that may run at once (default "
                              f"{DEFAULT_MAX_CONCURRENT_CALLS}).")
        return cls(timeout_s=timeout or None, memory_mb=memory or None, max_concurrent=int(workers))

    def describe(self) -> str:
        t = "no time limit" if self.timeout_s is None else f"time limit {_fmt_s(self.timeout_s)} s"
        m = "no memory limit" if self.memory_mb is None else f"memory limit {self.memory_mb} MB"
        return f"{t}, {m}, at most {self.max_concurrent} calls at once"


def _pick(given, env: Mapping[str, str], var: str, default, kind, flag: str):
    if given is not None:
        value, source = given, flag
    elif env.get(var, "").strip():
        raw = env[var].strip()
        source = var
        try:
            value = kind(raw)
        except ValueError:
            raise LimitsError(f"{var}={raw!r} is not a number.",
                              hint=f"Set {var} to a number (0 switches the limit off) or unset it.") from None
    else:
        return default
    if (isinstance(value, float) and not math.isfinite(value)) or value < 0:
        raise LimitsError(f"{source} must be a number >= 0, got {value!r}.",
                          hint="0 switches the limit off.")
    return value


def _fmt_s(seconds: float) -> str:
    return f"{seconds:g}"


# ----------------------------------------------------------------------------------------------
# Stopping a call
# ----------------------------------------------------------------------------------------------


class CallStopped(BaseException):
    """A call was stopped at a budget check; ``str()`` is the message for the caller."""


class BudgetExceeded(CallStopped):
    """The call went over its time or memory limit (``which`` is ``"time"`` or ``"memory"``)."""

    def __init__(self, message: str, which: str) -> None:
        super().__init__(message)
        self.which = which


class CallCancelled(CallStopped):
    """The caller cancelled the call (or the server is shutting down); nobody waits for the result."""


def time_limit_message(tool: str, timeout_s: float) -> str:
    return (
        f"{tool} stopped: the call ran past its time limit of {_fmt_s(timeout_s)} s (per call). The server "
        f"keeps serving, and what was read completely stays cached, so a retry resumes from there. To allow "
        f"longer calls, start the server with `traintriage serve --call-timeout SECONDS` or set "
        f"{ENV_CALL_TIMEOUT}=SECONDS (0 = no limit); or analyse a smaller target (one event file)."
    )


def memory_limit_message(tool: str, memory_mb: int, grown_mb: float, planned_mb: float = 0.0) -> str:
    what = f"the call has added {grown_mb:.0f} MB to the server's memory"
    if planned_mb:
        what += f" and reading the next file needs about {planned_mb:.0f} MB more"
    return (
        f"{tool} stopped: {what}, over its memory limit of {memory_mb} MB (per call). The server keeps "
        f"serving. To allow more, start the server with `traintriage serve --call-memory-mb MB` or set "
        f"{ENV_CALL_MEMORY_MB}=MB (0 = no limit); or analyse a smaller target (one event file)."
    )


# ----------------------------------------------------------------------------------------------
# Budget and its checks
# ----------------------------------------------------------------------------------------------

try:
    _PAGE = os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
    _PAGE = 4096


def rss_bytes() -> int | None:
    """Resident memory of this process now (Linux ``/proc/self/statm``); None where unavailable."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class Budget:
    """The limits of one call, its start, and whether the server asked it to stop."""

    def __init__(self, tool: str, limits: CallLimits, *, started: float | None = None) -> None:
        self.tool = tool
        self.limits = limits
        self.started = time.monotonic() if started is None else started
        self.deadline = None if limits.timeout_s is None else self.started + limits.timeout_s
        self.memory_limit = None if limits.memory_mb is None else limits.memory_mb << 20
        self.rss_start: int | None = None
        self._stop: CallStopped | None = None

    def begin(self) -> None:
        """Take the memory baseline (when the work starts, in its thread)."""
        if self.memory_limit is not None:
            self.rss_start = rss_bytes()

    def stop(self, reason: CallStopped) -> None:
        """Ask the worker to stop at its next budget check (thread-safe: one attribute write)."""
        if self._stop is None:
            self._stop = reason

    @property
    def stopped(self) -> CallStopped | None:
        return self._stop

    def check(self, planned_bytes: int = 0) -> None:
        if self._stop is not None:
            raise self._stop
        if self.deadline is not None and time.monotonic() > self.deadline:
            assert self.limits.timeout_s is not None
            self._stop = BudgetExceeded(time_limit_message(self.tool, self.limits.timeout_s), "time")
            raise self._stop
        if self.memory_limit is not None and self.rss_start is not None:
            now = rss_bytes()
            if now is not None:
                grown = max(now - self.rss_start, 0)
                if grown + max(planned_bytes, 0) > self.memory_limit:
                    assert self.limits.memory_mb is not None
                    planned_mb = planned_bytes / (1 << 20) if grown <= self.memory_limit else 0.0
                    planned_mb = max(planned_mb, 1.0) if planned_mb else 0.0
                    self._stop = BudgetExceeded(
                        memory_limit_message(self.tool, self.limits.memory_mb, grown / (1 << 20), planned_mb),
                        "memory")
                    raise self._stop


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("traintriage_budget", default=None)


def current_budget() -> Budget | None:
    return _current.get()


@contextlib.contextmanager
def active(budget: Budget) -> Iterator[Budget]:
    """Make ``budget`` the current one in this thread/context for the ``with`` block."""
    budget.begin()
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def check_budget(planned_bytes: int = 0) -> None:
    """Raise :class:`CallStopped` if the current call must stop (see the module docstring).

    ``planned_bytes``: memory the caller is about to allocate (e.g. arrays for a file it is about to
    read), checked against the memory limit before it is spent. A no-op outside a server call.
    """
    budget = _current.get()
    if budget is not None:
        budget.check(planned_bytes)
