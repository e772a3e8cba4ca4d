"""A status line on stderr while a CLI command works, for people at a terminal.

Reading a multi-GB log or a big sweep takes seconds to minutes, and a silent terminal looks hung. When
stderr is a TTY and the command is still working after a second, one line is redrawn in place every
0.2 s: a spinner, the command and the elapsed time (the size of the work is not known up front, so no
percentage is invented). It is erased when the command ends. When stderr is not a TTY (CI logs, pipes,
an agent running the CLI) nothing is written at all. ``watch`` and ``serve`` run until stopped and
print their own output, so they get none.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
AFTER_S = 1.0
QUIET_COMMANDS = {"watch", "serve", None}


@contextlib.contextmanager
def status_line(command: str | None, stream=None) -> Iterator[None]:
    stream = stream or sys.stderr
    if command in QUIET_COMMANDS or not _isatty(stream):
        yield
        return
    stop = threading.Event()
    started = time.monotonic()
    drawn = [False]

    def draw() -> None:
        if stop.wait(AFTER_S):
            return
        i = 0
        while not stop.is_set():
            line = f"\r{SPINNER[i % len(SPINNER)]} traintriage {command}: working, {time.monotonic() - started:.0f} s"
            with contextlib.suppress(Exception):
                stream.write(line)
                stream.flush()
                drawn[0] = True
            i += 1
            stop.wait(0.2)

    thread = threading.Thread(target=draw, name="traintriage-status", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if drawn[0]:
            with contextlib.suppress(Exception):
                stream.write("\r\033[K")  # erase the line, so the command's own output starts clean
                stream.flush()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
