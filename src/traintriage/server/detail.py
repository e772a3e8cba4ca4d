"""``detail: summary|full`` on the analysis tools, and how a tool's result goes on the wire.

``summary`` (the default) keeps what an agent needs for the triage contract (findings or issues with
their evidence, plans, headline statistics) and leaves out per-point tables and repeats: loss phases,
the lag-by-lag loss/grad-norm correlation, memory timelines and per-step tables, snapshot histories,
the evidence already carried by correlate's issues, and (on a run with many series) the series that
play no role. ``full`` is everything the analysis computed.

Either way the result is sent compact (:mod:`traintriage.compact`): the text content is the same JSON
as ``structuredContent``, without indentation, nulls or empty lists.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.types import CallToolResult, TextContent
from pydantic import Field

from ..compact import compact_dict, dumps
from ..record import Record

Detail = Literal["summary", "full"]
DetailArg = Annotated[
    Detail, Field(description="'summary' (default) or 'full': with per-point tables.")
]

SUMMARY_DROPS: dict[str, tuple[str, ...]] = {
    "analyze_loss": ("statistics.phases",),
    "analyze_gradnorm": ("loss_correlation.by_lag",),
    "correlate": ("findings[].evidence",),
    "profile_memory": ("trace.devices[].timeline", "trace.steps", "snapshot.history_around_peak"),
    "count_parameters": (),
    "triage_sweep": ("trials[].read_warnings", "trials[].params_from", "trials[].attrs"),
    "compare_runs": ("rule",),
}
MAX_SERIES = 40
"""In a summary, ``run.series`` lists at most this many series (the ones with a role first)."""


def tool_result(tool: str, result: Any, detail: str | None) -> Any:
    """A model as a compact CallToolResult (summarised unless ``detail == 'full'``); anything else as is,
    a CallToolResult too (a tool that adds content to its typed result, as ``compare_runs`` adds its image,
    builds it with this function already)."""
    if not isinstance(result, Record):
        return result
    data = compact_dict(result)
    if detail != "full":
        data = summarize(tool, data)
    return CallToolResult(content=[TextContent(type="text", text=dumps(data))], structured_content=data)


def summarize(tool: str, data: dict[str, Any]) -> dict[str, Any]:
    for path in SUMMARY_DROPS.get(tool, ()):
        _drop(data, path.split("."))
    run = data.get("run")
    if isinstance(run, dict) and len(run.get("series", [])) > MAX_SERIES:
        series = run["series"]
        kept = sorted(series, key=lambda s: "role" not in s)[:MAX_SERIES]
        run["series"] = kept
        run["series_omitted"] = len(series) - len(kept)
    return data


def _drop(node: Any, parts: list[str]) -> None:
    if not parts or node is None:
        return
    head, rest = parts[0], parts[1:]
    each = head.endswith("[]")
    key = head[:-2] if each else head
    if not isinstance(node, dict) or key not in node:
        return
    if not rest:
        node.pop(key)
        return
    children = node[key] if each and isinstance(node[key], list) else [node[key]]
    for child in children:
        _drop(child, rest)
