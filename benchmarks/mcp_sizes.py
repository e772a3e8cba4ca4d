"""How many characters an agent pays for: ``tools/list`` and each tool's result on the bundled demo run.

Not a test: ``.venv/bin/python benchmarks/mcp_sizes.py``. Runs ``traintriage serve`` over stdio with the
SDK's Client (as Claude Code would) and prints a markdown table of sizes in characters of the JSON a
client receives: ``tools/list`` (the whole result), and per tool call the text content, the structured
content, and both together (what is on the wire). Compare runs before and after a change in the same
checkout. ``--detail full`` calls the analysis tools with ``detail="full"`` (when they take it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "src" / "traintriage" / "examples" / "demo_run"
CHECKPOINT = ROOT / "tests" / "fixtures" / "checkpoints" / "embedding_heavy_lm.safetensors"

CALLS = [
    ("describe_run", {"run": str(DEMO)}),
    ("analyze_loss", {"run": str(DEMO)}),
    ("analyze_gradnorm", {"run": str(DEMO)}),
    ("correlate", {"run": str(DEMO)}),
    ("profile_memory", {"target": str(DEMO)}),
    ("count_parameters", {"checkpoint": str(CHECKPOINT)}),
]


def _chars(obj) -> int:
    return len(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


async def measure(detail: str | None) -> list[tuple[str, int, int, int]]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "traintriage", "serve", "--root", str(ROOT)])
    rows = []
    async with Client(params, read_timeout_seconds=120) as client:
        listed = await client.list_tools()
        rows.append(("tools/list", _chars(listed.model_dump(mode="json", by_alias=True, exclude_none=True)), 0, 0))
        schemas = {t.name: t.input_schema for t in listed.tools}
        for name, args in CALLS:
            if detail and "detail" in schemas[name].get("properties", {}):
                args = {**args, "detail": detail}
            result = await client.call_tool(name, args)
            wire = result.model_dump(mode="json", by_alias=True, exclude_none=True)
            text = sum(len(b.get("text", "")) for b in wire.get("content", []))
            structured = _chars(wire["structuredContent"]) if "structuredContent" in wire else 0
            rows.append((name + (" (error)" if result.is_error else ""), _chars(wire), text, structured))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detail", choices=["summary", "full"], default=None)
    args = ap.parse_args(argv)
    rows = anyio.run(measure, args.detail)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, detail={args.detail or 'default'}\n")
    print("| message | on the wire (chars) | text content | structuredContent |\n|---|---:|---:|---:|")
    for name, wire, text, structured in rows:
        print(f"| {name} | {wire:,} | {text:,} | {structured:,} |")


if __name__ == "__main__":
    main()
