"""Smaller JSON schemas for ``tools/list``.

Agents pay for every character of ``tools/list`` (188 KB once, 84 KB before this module), and most of
it is the tools' output schemas as pydantic writes them (from the records' derived models). Two steps:

* :func:`compact_schema` (input and output schemas) rewrites without changing the meaning: no
  ``title`` on every property (its name again, capitalised), no ``"default": null``, and ``anyOf``
  lists of one-type schemas merged (``{"type": ["number", "null"]}``).
* :func:`output_outline` (output schemas) keeps what makes ``structuredContent`` typed: every
  property with its type, enum, ``$ref`` and constraints, and the root's
  ``required`` properties that a compact result always has (not the nullable ones: compact results
  leave out nulls). It leaves out nested field descriptions and ``required``
  lists (``benchmarks/mcp_sizes.py`` measures the trade) and types records nested three references deep
  (per-point tables such as a memory timeline) as plain objects; output defaults and enums longer than
  :data:`MAX_ENUM` (the finding codes, listed at ``traintriage://reference``) are left out too. Field
  meanings are documented in the models' source and the README.
"""

from __future__ import annotations

from typing import Any

_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
MAX_ENUM = 12
"""Output enums longer than this (the finding codes, 25 and growing) are outlined as their type only."""
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def compact_schema(schema: Any) -> Any:
    """The same schema, smaller (a new object; the input is not modified)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue  # property/model names repeated: carries nothing a client validates or needs
        if key == "default" and value is None:
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: compact_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [compact_schema(sub) for sub in value]
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = compact_schema(value)
        else:
            out[key] = value
    return _merge_simple_any_of(out)


_TYPED_ONLY = frozenset({"type", "items", "additionalProperties", "minimum", "maximum", "exclusiveMinimum",
                         "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems"})
"""Keywords that constrain only values of their own type, so ``{"anyOf": [X, {"type": "null"}]}`` means the
same as X with ``"null"`` added to its type (a null is not an array, so ``items`` never rejects it).
``enum``, ``const`` and ``$ref`` are not among them: they would reject the null."""


def _merge_simple_any_of(schema: dict[str, Any]) -> dict[str, Any]:
    """``{"anyOf": [{"type": "number"}, {"type": "null"}]}`` -> ``{"type": ["number", "null"]}``, and
    ``{"anyOf": [{"type": "array", "items": ...}, {"type": "null"}]}`` -> ``{"type": ["array", "null"], ...}``."""
    options = schema.get("anyOf")
    if (isinstance(options, list) and len(options) == 2 and options[1] == {"type": "null"}
            and isinstance(options[0], dict) and isinstance(options[0].get("type"), str)
            and set(options[0]) <= _TYPED_ONLY):
        merged = {k: v for k, v in schema.items() if k != "anyOf"}
        merged.update(options[0])
        merged["type"] = [options[0]["type"], "null"]
        return merged
    if not isinstance(options, list) or not all(isinstance(o, dict) and set(o) == {"type"} for o in options):
        return schema
    types: list[str] = []
    for o in options:
        for t in o["type"] if isinstance(o["type"], list) else [o["type"]]:
            if t not in types:
                types.append(t)
    merged = {k: v for k, v in schema.items() if k != "anyOf"}
    merged["type"] = types[0] if len(types) == 1 else types
    return merged


def output_outline(schema: dict[str, Any], *, keep_depth: int = 3, shallow: tuple[str, ...] = ()) -> dict[str, Any]:
    """A compact output schema: see the module docstring. Records reached only through the root properties
    named in ``shallow`` (the ``run`` every result echoes: its roles and series list), below the property's
    own record, are outlined as plain objects too."""
    schema = compact_schema(schema)
    root = {k: v for k, v in schema.items() if k != "$defs"}
    # The root's description too is left out: it is the model's docstring, written for the code's readers;
    # the tool's own description is what tells an agent what the result is.
    outline = {k: (_strip(v) if k == "properties" else v) for k, v in root.items() if k != "description"}
    props = root.get("properties", {})
    required = [name for name in root.get("required", []) if _always_present(props.get(name, {}))]
    outline.pop("required", None)
    if required:
        outline["required"] = required
    defs = schema.get("$defs", {})
    depth = _ref_depths(root, defs)
    echoed = _only_through(root, defs, shallow)
    kept = {}
    for name, sub in defs.items():
        if depth.get(name, keep_depth) >= keep_depth or name in echoed:
            kept[name] = {"type": "object"}
        else:
            kept[name] = {k: _strip(v) if k == "properties" else v for k, v in sub.items()
                          if k not in ("description", "required") and not _implied(k, v, sub)}
    if kept:
        outline["$defs"] = kept
    return outline


def _strip(properties: dict[str, Any]) -> dict[str, Any]:
    return {name: _strip_node(sub) for name, sub in properties.items()}


def _strip_node(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (_strip(v) if k == "properties" and isinstance(v, dict) else _strip_node(v))
                for k, v in node.items()
                if k not in ("description", "required", "default") and not _implied(k, v, node)}
    if isinstance(node, list):
        return [_strip_node(v) for v in node]
    return node


def _always_present(prop: dict[str, Any]) -> bool:
    """A required root property that a compact result always has: one that is never null (compact results
    leave out nulls; they keep the root's required lists and objects even when empty)."""
    kind = prop.get("type")
    return "$ref" in prop or (isinstance(kind, str) and kind != "null")


def _implied(key: str, value: Any, node: dict[str, Any]) -> bool:
    """Keywords that say what the schema means anyway: ``additionalProperties: true`` (the default), and
    ``type: object`` beside ``properties`` and ``type: array`` beside ``items``, below the root (the values
    are what the producing model says; the root keeps its type, as MCP requires of an output schema)."""
    if key == "enum" and isinstance(value, list) and len(value) > MAX_ENUM:
        return True  # the finding-code list: documented at traintriage://reference, and it grows
    return (key == "additionalProperties" and value is True) or (
        key == "type" and ((value == "object" and "properties" in node) or (value == "array" and "items" in node)))


def _refs(node: Any):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            yield ref.rsplit("/", 1)[-1]
        for v in node.values():
            yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def _only_through(root: dict[str, Any], defs: dict[str, Any], names: tuple[str, ...]) -> set[str]:
    """Definitions below the records of root properties ``names`` that nothing else in the schema uses."""
    props = root.get("properties", {})
    through = {k: v for k, v in props.items() if k in names}
    others = {k: v for k, v in props.items() if k not in names}
    firsts = set(_refs(through))
    below = set(_ref_depths({"properties": through}, defs)) - firsts
    return below - set(_ref_depths({"properties": others}, defs))


def _ref_depths(root: dict[str, Any], defs: dict[str, Any]) -> dict[str, int]:
    """How many references from the root each definition first appears at (1 = a root property's type)."""
    depths: dict[str, int] = {}
    frontier, level = set(_refs(root)), 1
    while frontier:
        for name in frontier:
            depths.setdefault(name, level)
        frontier = {r for name in frontier for r in _refs(defs.get(name, {}))} - set(depths)
        level += 1
    return depths
