"""What agents pay for and rely on (issue #20): ``tools/list`` stays under 40 KB, every tool is annotated
read-only and closed-world with a human title, and the smaller output schemas still type the results:
each tool's structuredContent on the demo run validates against the schema the server published."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest
from mcp import Client, StdioServerParameters

from traintriage.server.schemas import compact_schema, output_outline

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "src" / "traintriage" / "examples" / "demo_run"
CALLS = {
    "describe_run": {"run": str(DEMO)},
    "analyze_loss": {"run": str(DEMO)},
    "analyze_gradnorm": {"run": str(DEMO)},
    "correlate": {"run": str(DEMO)},
    "profile_memory": {"target": str(DEMO)},
    "count_parameters": {"checkpoint": str(ROOT / "tests" / "fixtures" / "checkpoints" / "mlp_state_dict.pt")},
    "triage_sweep": {"target": str(ROOT / "tests" / "fixtures" / "optuna_study")},
}
TOOLS_LIST_LIMIT = 40_000


def _server() -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "traintriage", "serve", "--root", str(ROOT)])


async def test_tools_list_is_small_annotated_and_still_types_every_result() -> None:
    async with Client(_server(), read_timeout_seconds=180) as client:
        listed = await client.list_tools()
        wire = json.dumps(listed.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"))
        assert len(wire) < TOOLS_LIST_LIMIT, len(wire)
        tools = {t.name: t for t in listed.tools}
        for tool in tools.values():
            assert tool.title, tool.name
            assert tool.annotations.read_only_hint is True and tool.annotations.open_world_hint is False, tool.name
        for name, args in CALLS.items():
            schema = tools[name].output_schema
            assert schema and schema["type"] == "object" and schema["properties"], name
            result = await client.call_tool(name, args)
            assert not result.is_error, (name, result.content)
            jsonschema.validate(result.structured_content, schema)  # raises on a mismatch


def test_compact_schema_keeps_types_and_drops_only_noise() -> None:
    schema = {
        "title": "Report", "type": "object", "required": ["title"],
        "properties": {
            "title": {"title": "Title", "type": "string"},  # a property NAMED title stays
            "step": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None, "title": "Step"},
            "items": {"type": "array", "items": {"$ref": "#/$defs/Point"}, "description": "points"},
        },
        "$defs": {"Point": {"title": "Point", "type": "object", "required": ["x"],
                            "properties": {"x": {"type": "number", "description": "x"}}}},
    }
    compact = compact_schema(schema)
    assert compact["properties"]["title"] == {"type": "string"}
    assert compact["properties"]["step"] == {"type": ["integer", "null"]}
    assert compact["$defs"]["Point"]["required"] == ["x"] and "title" not in compact["$defs"]["Point"]
    outline = output_outline(schema)
    assert outline["type"] == "object" and outline["required"] == ["title"]
    assert outline["properties"]["items"] == {"items": {"$ref": "#/$defs/Point"}}  # array implied by items
    assert outline["$defs"]["Point"] == {"properties": {"x": {"type": "number"}}}
    jsonschema.validate({"title": "t", "step": None, "items": [{"x": 1.0}]}, outline)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"title": "t", "items": [{"x": "one"}]}, outline)
