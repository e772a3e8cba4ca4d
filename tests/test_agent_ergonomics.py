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
    "compare_runs": {"good": str(DEMO), "bad": str(DEMO)},
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


def test_a_nullable_typed_schema_merges_into_its_type_and_means_the_same() -> None:
    """``anyOf: [X, null]`` -> X with "null" in its type when X's keywords only constrain X's own type; an enum
    (which would reject the null) keeps its anyOf."""
    roles = {"anyOf": [{"type": "object", "additionalProperties": {"type": "string"}}, {"type": "null"}]}
    steps = {"anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]}
    mode = {"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]}
    assert compact_schema(roles) == {"type": ["object", "null"], "additionalProperties": {"type": "string"}}
    assert compact_schema(steps) == {"type": ["array", "null"], "items": {"type": "integer"}}
    assert compact_schema(mode) == mode
    for schema, good, bad in ((roles, [{"a": "b"}, None], [{"a": 1}, "x"]), (steps, [[1, 2], None], [["x"], 3]),
                              (mode, ["a", None], ["c"])):
        for value in good:
            jsonschema.validate(value, schema)
            jsonschema.validate(value, compact_schema(schema))
        for value in bad:
            for form in (schema, compact_schema(schema)):
                with pytest.raises(jsonschema.ValidationError):
                    jsonschema.validate(value, form)


def _no_nulls_or_empties(value) -> bool:
    if isinstance(value, dict):
        return all(v is not None and v != [] and v != {} and _no_nulls_or_empties(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_nulls_or_empties(v) for v in value)
    return True


async def test_results_are_compact_and_detail_selects_the_tables() -> None:
    async with Client(_server(), read_timeout_seconds=180) as client:
        summary = await client.call_tool("correlate", {"run": str(DEMO)})
        full = await client.call_tool("correlate", {"run": str(DEMO), "detail": "full"})
        for result in (summary, full):
            text = result.content[0].text
            assert "\n" not in text and json.loads(text) == result.structured_content
            top = result.structured_content
            assert top["warnings"] == [] and all(v is not None for v in top.values())  # required root fields stay
            assert all(_no_nulls_or_empties(v) for v in top.values())
        s, f = summary.structured_content, full.structured_content
        assert s["issues"] == f["issues"] and s["remediation"] == f["remediation"]  # the contract is whole
        assert all("evidence" not in x for x in s["findings"]) and any("evidence" in x for x in f["findings"])
        assert len(summary.content[0].text) < len(full.content[0].text)
        loss = await client.call_tool("analyze_loss", {"run": str(DEMO)})
        loss_full = await client.call_tool("analyze_loss", {"run": str(DEMO), "detail": "full"})
        assert "phases" not in loss.structured_content["statistics"]
        assert loss_full.structured_content["statistics"]["phases"]
        bad = await client.call_tool("correlate", {"run": str(DEMO), "detail": "everything"})
        assert bad.is_error


def test_a_directory_with_one_run_is_not_said_to_hold_several(tmp_path: Path) -> None:
    from eventwriter import decaying, write_run

    from traintriage import api

    write_run(tmp_path / "X" / "run_0", {"Loss/train": decaying(20)})
    resolution = api.describe_run(tmp_path / "X", sandbox=api.Sandbox.unrestricted()).run.resolution
    assert "several" not in resolution and "its only run is run_0" in resolution


async def test_long_calls_send_progress_when_the_client_asks(monkeypatch) -> None:
    # The threshold (1 s by default) is lowered so that the demo run's triage counts as long on any machine.
    env = {"TRAINTRIAGE_PROGRESS_AFTER": "0", "PATH": "/usr/bin:/bin"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "traintriage", "serve", "--root", str(ROOT)],
                                   env=env)
    seen: list[tuple] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(params, read_timeout_seconds=120) as client:
        result = await client.call_tool("correlate", {"run": str(DEMO)}, progress_callback=on_progress)
        assert not result.is_error
        assert seen and seen[0][2].startswith("correlate: working")
        assert [p for p, _, _ in seen] == sorted(p for p, _, _ in seen)
        quiet = await client.call_tool("describe_run", {"run": str(DEMO)})  # no token: nothing is sent
        assert not quiet.is_error
        tools = (await client.list_tools()).tools
        assert all("progress_context" not in json.dumps(t.input_schema) for t in tools)
