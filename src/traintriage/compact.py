"""Compact JSON for agents: no indentation, no nulls, no empty lists or objects.

A result an agent reads costs tokens per character, and a pretty-printed report with every optional
field spelled out as ``null`` or ``[]`` was about twice its information. The CLI prints this form by
default (``--pretty`` indents it for people) and the MCP server sends it as both the text content and
``structuredContent`` (whose published schemas require only what is always present; see
``server/schemas.py``). A missing key means null, or empty; a result's own top-level required fields
(``run``, ``warnings``, ``findings``...) are always there.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports this module only to print a result, which is already a model
    from .record import Record


def prune(value: Any) -> Any:
    """``value`` without None, [] and {} anywhere (an object or list that becomes empty goes too)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = prune(v)
            if v is not None and v != [] and v != {}:
                out[k] = v
        return out
    if isinstance(value, list):
        return [prune(v) for v in value]  # items keep their places (a null in a list is data)
    return value


def compact_dict(model: Record) -> dict[str, Any]:
    """The model's JSON without nulls and empties, except that the model's own required fields stay even when
    empty (``warnings: []``, ``findings: []``): DESIGN.md promises every result carries them."""
    data = model.model_dump(mode="json", by_alias=True)
    required = {f.alias or name for name, f in type(model).model_fields.items() if f.is_required()}
    out = {}
    for key, value in data.items():
        value = prune(value)
        if value is not None and (key in required or (value != [] and value != {})):
            out[key] = value
    return out


def dumps(data: Any, *, pretty: bool = False) -> str:
    if pretty:
        return json.dumps(data, ensure_ascii=False, indent=2)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
