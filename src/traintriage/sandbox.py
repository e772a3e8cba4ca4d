"""Where traintriage may read: one :class:`Sandbox`, made once by the caller and passed down to every read.

Why an object: the MCP server reads only under the roots it was given, and every read (resolving a
target, walking a run, a loader looking beside its files, a checkpoint's shards, a sweep's trials) must
honour them. These used to travel as a ``roots`` list in which ``None`` meant "no limit", so a call that
forgot to pass it read everywhere, silently. A sandbox refuses by default instead:

- ``Sandbox.of(roots)``: paths under these directories (the server's ``--root``\\s);
- ``Sandbox()`` or ``Sandbox.of([])``: nothing at all;
- ``Sandbox.unrestricted()``: everywhere, said in so many words (the CLI, run by the user on their own
  files; a library user reading their own runs).

Every function that reads takes ``sandbox`` as a required argument: a missing sandbox is a ``TypeError``,
never "no limit". Paths are resolved (symlinks, ``..``) before they are checked, and errors name only the
roots, never what lies outside them. A sandbox is immutable and picklable (sweep workers get it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import OutsideRootsError, TargetNotFoundError

NO_ROOTS_HINT = (
    "A Sandbox with no roots allows nothing: build it with Sandbox.of([directory, ...]) for the directories "
    "that may be read, or Sandbox.unrestricted() for a program reading its own files."
)


@dataclass(frozen=True)
class Sandbox:
    """The directories a call may read under (resolved), or everywhere when ``unrestricted``."""

    roots: tuple[Path, ...] = ()
    everywhere: bool = False

    @classmethod
    def of(cls, roots: Iterable[str | os.PathLike[str]]) -> Sandbox:
        """Paths under ``roots`` (``~`` expanded, symlinks resolved now); no roots: nothing."""
        return cls(tuple(Path(r).expanduser().resolve() for r in roots))

    @classmethod
    def unrestricted(cls) -> Sandbox:
        """Every path: for the command line and for library users on their own files, never for a server."""
        return cls(everywhere=True)

    @property
    def allows_anything(self) -> bool:
        return self.everywhere or bool(self.roots)

    def contains(self, path: Path) -> bool:
        """Whether ``path`` resolves (symlinks, ``..``) inside a root; False for a path that cannot be
        resolved (a symlink loop, a NUL byte)."""
        if self.everywhere:
            return True
        try:
            real = Path(path).resolve()
        except (OSError, ValueError, RuntimeError):  # a symlink loop (RuntimeError), a NUL byte (ValueError)
            return False
        return any(real == r or real.is_relative_to(r) for r in self.roots)

    def check(self, path: Path) -> Path:
        """``path`` resolved (symlinks, ``..``), or :class:`OutsideRootsError` unless it lies under a root."""
        try:
            real = Path(path).resolve()
        except (OSError, ValueError, RuntimeError) as exc:  # a symlink loop (RuntimeError), a NUL byte (ValueError)
            raise TargetNotFoundError(
                f"the target cannot be resolved ({_why_unusable(exc)}).",
                hint="Pass an existing file or directory; follow its symlinks by hand if it has any.",
            ) from None
        if self.everywhere or any(real == r or real.is_relative_to(r) for r in self.roots):
            return real
        self.require_roots()
        raise OutsideRootsError(
            "the target is outside every root this server may read.",
            hint="Pass a path under one of the roots: " + self.describe()
            + " (or restart the server with another --root).",
        )

    def require_roots(self) -> None:
        """Refuse at once when nothing at all may be read (a sandbox built without roots)."""
        if not self.allows_anything:
            raise OutsideRootsError("this call may read nothing: its sandbox has no roots.", hint=NO_ROOTS_HINT)

    def bases(self) -> list[Path]:
        """Where a relative target or an experiment name is looked up: each root, or the working directory."""
        return [Path.cwd()] if self.everywhere else list(self.roots)

    def describe(self) -> str:
        return "everywhere" if self.everywhere else ", ".join(str(r) for r in self.roots) or "nowhere"

    def key(self) -> tuple[str, ...]:
        """A hashable identity, for remembered reports (what may be read changes what a read finds)."""
        return ("*",) if self.everywhere else tuple(str(r) for r in self.roots)


def _why_unusable(exc: BaseException) -> str:
    if isinstance(exc, RuntimeError):
        return "a symlink loop"
    if isinstance(exc, ValueError):
        return "it holds a NUL byte"
    return (exc.strerror or type(exc).__name__) if isinstance(exc, OSError) else type(exc).__name__
