"""Errors a user can act on.

Every failure that reaches a person or an agent is a :class:`TraintriageError`: it says what is
wrong and how to fix it, and the CLI and the MCP server turn it into a clear message (exit status 2,
or a tool error) instead of a traceback. Anything else escaping an analysis is a bug.
"""

from __future__ import annotations


class TraintriageError(Exception):
    """A problem with the input that the user can fix.

    ``message`` says what is wrong, ``hint`` how to fix it (optional but strongly encouraged).
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\nHint: {self.hint}" if self.hint else self.message


class InputError(TraintriageError):
    """The target exists but cannot be used: wrong format, corrupt, no suitable series."""


class TargetNotFoundError(TraintriageError):
    """The target (path, experiment name, trial) does not exist or resolves to nothing."""


class OutsideRootsError(TraintriageError):
    """The target resolves outside every root the server was started with."""


class UnsafeArtifactError(TraintriageError):
    """An artifact asks for something we refuse to do (e.g. a pickle naming a foreign global)."""
