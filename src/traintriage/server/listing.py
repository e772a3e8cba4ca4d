"""What ``tools/list`` tells a client about each tool, made small and complete.

:class:`TraintriageServer` is the SDK's ``MCPServer`` with two public methods overridden:

* ``tool``: a tool returning a record (:mod:`traintriage.record`) is registered as the SDK's unstructured kind, and its
  output schema is kept here, outlined (:func:`.schemas.output_outline`). The tool's result is built
  by :mod:`.detail` (compact ``structuredContent`` without nulls and empty lists, summarised unless
  ``detail='full'``), which the full model's schema would reject (it requires its nullable fields);
  the outline requires only what is always present.
* ``list_tools``: every tool is listed with compact schemas (:mod:`.schemas`), its outlined output
  schema, a human title, and the annotations that are true of all of them (they read artifacts and
  never change them: ``readOnlyHint``; they only touch the server's roots, never the network:
  ``openWorldHint`` false).

Doing it here, in one place, keeps each tool adapter about its own arguments.
"""

from __future__ import annotations

import functools
import inspect
import typing

from mcp.server.mcpserver import MCPServer
from mcp.types import Tool, ToolAnnotations

from ..record import Record
from .detail import tool_result
from .schemas import compact_schema, output_outline

TITLES: dict[str, str] = {
    "describe_run": "Describe a run (files, series, roles)",
    "analyze_loss": "Analyse the loss curve",
    "analyze_gradnorm": "Analyse gradient norms",
    "correlate": "Triage a run",
    "profile_memory": "Profile memory",
    "profile_step": "Profile one training step",
    "count_parameters": "Count checkpoint parameters",
    "triage_sweep": "Triage a hyperparameter sweep",
    "plot_run": "Plot a run with its issues marked",
    "compare_runs": "Compare two runs",
}

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def listed(tool: Tool, output_schema: dict | None) -> Tool:
    return tool.model_copy(update={
        "title": tool.title or TITLES.get(tool.name),
        "annotations": READ_ONLY,
        "input_schema": compact_schema(tool.input_schema),
        "output_schema": output_schema,
    })


def result_model(fn) -> type[Record] | None:
    """The record type a tool function is annotated to return, if any."""
    hint = typing.get_type_hints(fn).get("return")
    return hint if isinstance(hint, type) and issubclass(hint, Record) else None


def _sent_compact(tool: str, fn):
    """``fn`` (an async tool function) answering a compact, summarised CallToolResult when it returns a
    model (other results, such as plot_run's image, as they are), with progress notifications while it
    works (:mod:`.progress`) unless it reports its own progress.
    The wrapper's signature is ``fn``'s (plus the SDK's Context when it adds one), so the SDK builds the
    same input schema from it."""
    from mcp.server.mcpserver import Context
    from mcp.server.mcpserver.utilities.context_injection import find_context_parameter

    from .progress import PROGRESS_CONTEXT, with_heartbeat

    own_progress = find_context_parameter(fn) is not None

    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        context = kwargs.pop(PROGRESS_CONTEXT, None)
        result = await with_heartbeat(context, tool, functools.partial(fn, *args, **kwargs))
        return tool_result(tool, result, kwargs.get("detail"))

    if not own_progress:
        sig = inspect.signature(fn)
        extra = inspect.Parameter(PROGRESS_CONTEXT, inspect.Parameter.KEYWORD_ONLY, annotation=Context)
        wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), extra])
        wrapper.__annotations__ = {**fn.__annotations__, PROGRESS_CONTEXT: Context}
    return wrapper


class TraintriageServer(MCPServer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._output_schemas: dict[str, dict] = {}

    def tool(self, name: str | None = None, **kwargs):  # type: ignore[override]
        register = super().tool(name, **{**kwargs, "structured_output": False})

        def decorator(fn):
            model = result_model(fn)
            if model is not None:
                tool = name or fn.__name__
                # Every result echoes the run it read; describe_run's answer IS that, so it keeps it typed.
                shallow = () if tool == "describe_run" else ("run",)
                self._output_schemas[tool] = output_outline(model.model_json_schema(), shallow=shallow)
            return register(_sent_compact(name or fn.__name__, fn))

        return decorator

    async def list_tools(self) -> list[Tool]:
        return [listed(t, self._output_schemas.get(t.name)) for t in await super().list_tools()]
