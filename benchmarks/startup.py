"""How long `traintriage serve` takes to answer `initialize`, next to the bare SDK import.

Claude Code drops MCP servers that take more than about 3 s to initialize, and the `mcp` SDK's own
import is already a large part of that. The target: `initialize` answered within 0.3 s of what
`python -c 'import mcp.server.mcpserver'` takes on the same machine, measured in the same run.

    .venv/bin/python benchmarks/startup.py [--repeats 7]

Each repeat spawns a fresh interpreter (cold imports, warm page cache), writes an `initialize`
JSON-RPC request to the server's stdin and stops the clock when the response line arrives.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_OVERHEAD_S = 0.3


def time_bare_import() -> float:
    """Spawn to the first output line after the import: the same clock as `time_initialize`
    (interpreter shutdown is excluded from both)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import mcp.server.mcpserver; print('imported', flush=True)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout
    proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.wait()
    return elapsed


def time_initialize(root: str) -> float:
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "startup-bench", "version": "0"},
        },
    }
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "traintriage", "serve", "--root", root],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(json.dumps(request) + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.kill()
    proc.wait()
    reply = json.loads(line)
    if "result" not in reply:
        raise SystemExit(f"initialize failed: {line}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        time_bare_import()  # warm the page cache for both
        time_initialize(root)
        bare = [time_bare_import() for _ in range(args.repeats)]
        init = [time_initialize(root) for _ in range(args.repeats)]
    bare_med, init_med = statistics.median(bare), statistics.median(init)
    overhead = init_med - bare_med
    print("| measurement | median (s) | min (s) |")
    print("|---|---|---|")
    print(f"| `python -c 'import mcp.server.mcpserver'` | {bare_med:.3f} | {min(bare):.3f} |")
    print(f"| `traintriage serve`: spawn to `initialize` answered | {init_med:.3f} | {min(init):.3f} |")
    print(f"| overhead over the bare SDK import | {overhead:+.3f} | |")
    print(f"\nratio initialize / bare import: {init_med / bare_med:.2f}x; target overhead <= {TARGET_OVERHEAD_S} s: "
          + ("met" if overhead <= TARGET_OVERHEAD_S else "MISSED"))
    return 0 if overhead <= TARGET_OVERHEAD_S else 1


if __name__ == "__main__":
    sys.exit(main())
