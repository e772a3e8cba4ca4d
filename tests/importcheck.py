"""What a fresh interpreter has imported after running some code: for the tests that keep heavy imports off a
path (a CLI triage without pydantic, a server start without numpy)."""

from __future__ import annotations

import json
import subprocess
import sys


def imported_after(code: str, *args: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules named ``prefixes`` (or below them) that ``code``, run by a fresh Python with ``args`` as
    ``sys.argv[1:]``, left imported; the run must succeed."""
    listing = f"sorted(m for m in sys.modules if m.startswith({prefixes!r}))"
    probe = f"{code}\nimport json, sys\nprint(json.dumps({listing}))\n"
    proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
