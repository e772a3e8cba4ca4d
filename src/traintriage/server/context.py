"""What every tool, resource and prompt adapter shares: the roots the server may read."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from ..errors import TraintriageError

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class ServerContext:
    """Server-wide settings handed to each adapter's ``register`` function."""

    roots: tuple[Path, ...]

    @classmethod
    def from_roots(cls, roots: Sequence[str | Path] | None) -> ServerContext:
        chosen = roots or [Path.cwd()]
        return cls(tuple(Path(r).expanduser().resolve() for r in chosen))


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a :class:`TraintriageError` into a tool error the agent can read and act on.

    Anything else is a bug: the SDK reports it as a generic failure (no traceback leaves the
    server) and logs it, and the server keeps serving.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except TraintriageError as err:
            raise ToolError(str(err)) from None

    return wrapper
