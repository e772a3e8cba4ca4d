"""The result records (traintriage.record): what they keep of pydantic, and that the CLI runs without it.

The reports used to be pydantic models; these tests pin what the package relied on from them (the coercions
that shape the JSON, the refusal of an undeclared finding code, the schemas the server publishes) and the
point of the change: a CLI triage of a run never imports pydantic (issue #22, ~0.1 s of a small run).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from importcheck import imported_after
from pydantic import BaseModel
from pydantic import Field as PydanticField

from traintriage.findings import Evidence, Finding, make_finding
from traintriage.record import Field, Record, pydantic_model

REPO = Path(__file__).resolve().parent.parent


class Point(Record):
    """A point."""

    step: int
    value: float | None = Field(default=None, description="The value.")
    share: float = Field(default=0.0, ge=0.0, le=1.0)
    tags: list[str] = []  # noqa: RUF012  (copied per record, as pydantic copies it: tested below)
    kind: Literal["a", "b"] = "a"


class Node(Record):
    """A tree, as count_parameters' module tree is."""

    name: str
    points: list[Point] = Field(default_factory=list)
    children: list[Node] = Field(default_factory=list)
    first: Point | None = None


class PydanticPoint(BaseModel):
    """A point."""

    step: int
    value: float | None = PydanticField(default=None, description="The value.")
    share: float = PydanticField(default=0.0, ge=0.0, le=1.0)
    tags: list[str] = []
    kind: Literal["a", "b"] = "a"


def test_numbers_are_coerced_as_pydantic_did():
    p = Point(step=np.int64(3), value=2, share=np.float32(0.5))
    assert type(p.step) is int and type(p.value) is float and type(p.share) is float
    assert p.model_dump_json() == PydanticPoint(step=3, value=2, share=0.5).model_dump_json()
    assert Point(step=4.0).step == 4 and type(Point(step=4.0).step) is int
    assert Evidence(metric="loss", value=3).value == 3.0 and Evidence(metric="loss", value="nan").value == "nan"


def test_required_unknown_and_literal_fields_are_refused():
    with pytest.raises(TypeError, match="missing required field 'step'"):
        Point()
    with pytest.raises(TypeError, match="unknown field"):
        Point(step=1, stpe=2)
    with pytest.raises(ValueError, match="'c' is not one of"):
        Point(step=1, kind="c")
    with pytest.raises(ValueError, match="is not one of FindingCode"):
        Finding(code="not_a_code", severity="info", title="t", message="m", confidence=0.1)
    with pytest.raises(ValueError, match="is not one of Severity"):
        make_finding("loss_spike", "fatal", "t", "m", confidence=0.5)


def test_mutable_defaults_are_not_shared_and_copies_are_deep():
    a, b = Point(step=1), Point(step=2)
    a.tags.append("x")
    assert b.tags == []
    tree = Node(name="root", children=[Node(name="leaf")])
    copy = tree.model_copy(deep=True)
    copy.children[0].name = "changed"
    assert tree.children[0].name == "leaf" and copy != tree
    assert tree.model_copy(update={"name": "other"}).name == "other" and tree.name == "root"


def test_nested_dicts_become_records():
    tree = Node(name="root", children=[{"name": "leaf", "first": {"step": 5}}], first={"step": 1, "value": 1})
    assert isinstance(tree.children[0], Node) and tree.children[0].first.step == 5
    assert tree.first.value == 1.0


def test_json_dump_is_json_safe():
    p = Point(step=1, value=float("nan"), tags=("a", "b"))
    data = p.model_dump(mode="json")
    assert data["value"] is None and data["tags"] == ["a", "b"]
    assert math.isnan(p.model_dump()["value"])  # python mode keeps the number
    node = Node(name="n", points=[Point(step=1, value=np.float64(np.inf))])
    assert json.loads(node.model_dump_json())["points"][0]["value"] is None
    assert Point(step=1).model_dump(include={"step"}) == {"step": 1}
    assert "value" not in Point(step=1).model_dump(exclude_none=True)


def test_derived_schema_matches_pydantic():
    assert Point.model_json_schema() == PydanticPoint.model_json_schema() | {"title": "Point"}
    schema = Node.model_json_schema()  # recursive: a reference to itself, as pydantic writes a recursive model
    assert schema["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert pydantic_model(Node) is pydantic_model(Node)


def test_validated_through_the_derived_model():
    """A plain MCPServer validates a tool's result against a model built from the record's type hints."""
    tree = Node(name="root", children=[Node(name="leaf", points=[Point(step=1)])])
    again = pydantic_model(Node).model_validate(tree)
    assert again.children[0].points[0].step == 1


def test_cli_triage_does_not_import_pydantic():
    """The point of the records: a triage from the command line never pays for pydantic's import."""
    run = REPO / "benchmarks" / "corpus" / "runs" / "plateau_lr_too_low"
    code = (
        "import sys, io, contextlib\n"
        "from traintriage.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    code = main(['triage', sys.argv[1]])\n"
        "assert out.getvalue().startswith('{'), out.getvalue()[:200]\n"
    )
    assert imported_after(code, str(run), prefixes=("pydantic",)) == []


def test_a_report_read_back_from_json_is_the_same_report():
    """``model_validate`` rebuilds nested records (issues, findings, evidence, run info) from a report's JSON."""
    from traintriage.api import Sandbox, analyze_gradnorm, correlate
    from traintriage.detectors.gradnorm import GradNormReport
    from traintriage.triage.models import TriageReport

    run = REPO / "benchmarks" / "corpus" / "runs" / "nan_lr_too_high"
    report = correlate(run, sandbox=Sandbox.unrestricted())
    again = TriageReport.model_validate(json.loads(report.model_dump_json()))
    assert again.model_dump_json() == report.model_dump_json()
    assert isinstance(again.issues[0].root_cause, type(report.issues[0].root_cause))
    assert isinstance(again.findings[0].evidence[0], Evidence)
    grad = analyze_gradnorm(run, sandbox=Sandbox.unrestricted())
    assert GradNormReport.model_validate(json.loads(grad.model_dump_json())).model_dump_json() == grad.model_dump_json()
    with pytest.raises(TypeError, match="unknown field"):
        TriageReport.model_validate({**json.loads(report.model_dump_json()), "typo": 1})
