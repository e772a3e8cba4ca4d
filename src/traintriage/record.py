"""Result records: typed fields at the cost of a plain class; pydantic only where a schema is asked for.

Every result that leaves the package (the CLI's JSON, the MCP server's ``structuredContent``) is a
:class:`Record`. They used to be pydantic models, and on a small run importing pydantic and building
its ~40 models was a third of what the CLI took (0.1 of 0.3 s, issue #22) though the CLI never
validates anything: the detectors build these objects from numbers they computed themselves.

A record is declared the way a pydantic model is, and offers the part of its API this package uses::

    class Evidence(Record):
        metric: str
        step: int | None = None
        value: float | str | None = Field(default=None, description="...")

    Evidence(metric="loss", value=3).value        # 3.0: numbers are coerced as pydantic's lax mode does
    ev.model_dump(mode="json"), ev.model_dump_json(), ev.model_copy(update={...}), Evidence.model_fields,
    Evidence.model_validate(json.loads(ev.model_dump_json())) == ev

What it does at construction, and no more: keyword arguments only, required fields enforced, unknown
fields refused (a typo is a bug), mutable defaults copied, and the coercions pydantic would have made
on the values this package passes: an int or a numpy number in a ``float`` field becomes a float, a
numpy integer (or a whole float) in an ``int`` field an int, a tuple in a ``list`` field a list, and a
dict in a record-typed field that record. A ``Literal`` field refuses any other value (a finding code
that no rule declares is a bug); numeric bounds (``ge``/``le``) are schema, not checks.

Where a schema is needed (the MCP server's ``tools/list``), :func:`pydantic_model` derives the
equivalent pydantic model from the same declaration, so the published schema and the object are one
source; nested records resolve through ``__get_pydantic_core_schema__``.
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import math
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import PurePath
from typing import Any

__all__ = ["Field", "FieldInfo", "Record", "pydantic_model"]

_MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "MISSING"})()


class FieldInfo:
    """One declared field: its default (or factory), description and numeric bounds."""

    __slots__ = ("annotation", "default", "default_factory", "description", "ge", "le")
    alias = None  # the API pydantic's FieldInfo has and compact.py reads; records have no aliases

    def __init__(self, default: Any = _MISSING, *, default_factory: Callable[[], Any] | None = None,
                 description: str | None = None, ge: float | None = None, le: float | None = None) -> None:
        self.default, self.default_factory, self.description = default, default_factory, description
        self.ge, self.le, self.annotation = ge, le, ""

    def is_required(self) -> bool:
        return self.default is _MISSING and self.default_factory is None


def Field(default: Any = _MISSING, *, default_factory: Callable[[], Any] | None = None,
          description: str | None = None, ge: float | None = None, le: float | None = None) -> Any:
    """A field's default and documentation (pydantic's ``Field`` for the arguments this package uses)."""
    return FieldInfo(default, default_factory=default_factory, description=description, ge=ge, le=le)


class Record:
    """Base of the result types: see the module docstring."""

    # Not annotated: a record's type hints are its fields and nothing else (the MCP SDK builds a tool's output
    # model from them when a plain MCPServer registers the tool).
    model_fields = {}  # noqa: RUF012  (name -> FieldInfo, parents' fields first; replaced per class)
    _plan = None  # per field (name, default, default factory, coercion); built on first construction

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, FieldInfo] = {}
        for base in reversed(cls.__mro__[1:]):
            fields.update(getattr(base, "model_fields", {}))
        for name, annotation in inspect.get_annotations(cls).items():
            if str(annotation).startswith("ClassVar"):
                continue
            value = cls.__dict__.get(name, _MISSING)
            info = value if isinstance(value, FieldInfo) else FieldInfo(value)
            info.annotation = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
            fields[name] = info
            if name in cls.__dict__:
                delattr(cls, name)  # as in pydantic: a default lives on the instance, not the class
        cls.model_fields = fields
        cls._plan = None  # built on first construction, when every record type it names exists

    def __init__(self, **data: Any) -> None:
        plan = type(self)._plan or _build_plan(type(self))
        values = self.__dict__
        for name, default, factory, coerce in plan:
            if name in data:
                value = data.pop(name)
                values[name] = value if coerce is None else coerce(value)
            elif factory is not None:
                values[name] = factory()
            elif default is _MISSING:
                raise TypeError(f"{type(self).__name__}: missing required field {name!r}")
            else:
                values[name] = copy.copy(default) if isinstance(default, list | dict | set) else default
        if data:
            raise TypeError(f"{type(self).__name__}: unknown field(s) {', '.join(map(repr, data))}")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"

    def __iter__(self):
        return iter(self.__dict__.items())

    def model_dump(self, *, mode: str = "python", include: set[str] | None = None, exclude: set[str] | None = None,
                   exclude_none: bool = False, by_alias: bool = False) -> dict[str, Any]:
        """The record as plain dicts and lists; ``mode="json"`` also makes every leaf JSON-safe (numpy
        numbers as Python numbers, NaN/Inf as None, paths as strings, enums as their values)."""
        as_json = mode == "json"
        return {k: _dump(v, as_json, exclude_none) for k, v in self.__dict__.items()
                if (include is None or k in include) and (exclude is None or k not in exclude)
                and not (exclude_none and v is None)}

    def model_dump_json(self, *, indent: int | None = None, exclude_none: bool = False) -> str:
        data = self.model_dump(mode="json", exclude_none=exclude_none)
        if indent is None:
            return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return json.dumps(data, ensure_ascii=False, indent=indent)

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False):
        """A copy (deep if asked) with ``update`` applied as given (not coerced), as pydantic does."""
        new = copy.deepcopy(self) if deep else copy.copy(self)
        if update:
            new.__dict__.update(update)
        return new

    @classmethod
    def model_validate(cls, data: dict[str, Any]):
        """The record from a dict (a report read back from JSON): nested dicts become the records their fields
        declare. Unlike pydantic, an unknown key is refused rather than dropped."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise TypeError(f"{cls.__name__}.model_validate needs a dict, not {type(data).__name__}")
        return cls(**data)

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        return pydantic_model(cls).model_json_schema()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        return handler.generate_schema(pydantic_model(cls))


def _dump(value: Any, as_json: bool, exclude_none: bool) -> Any:
    if isinstance(value, Record):
        return {k: _dump(v, as_json, exclude_none) for k, v in value.__dict__.items()
                if not (exclude_none and v is None)}
    if isinstance(value, dict):
        return {(str(k) if as_json else k): _dump(v, as_json, exclude_none) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_dump(v, as_json, exclude_none) for v in value]
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if as_json and not math.isfinite(value) else float(value)
    if not as_json:
        return value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    item = getattr(value, "item", None)  # a numpy scalar
    if item is not None:
        return _dump(item(), as_json, exclude_none)
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


# Construction plans: per field (name, default, default factory, coercion), from its annotation string.

def _build_plan(cls: type[Record]) -> list[tuple[str, Any, Any, Any]]:
    namespace = vars(sys.modules[cls.__module__])
    plan = [(name, info.default, info.default_factory, _coercion(info.annotation, namespace))
            for name, info in cls.model_fields.items()]
    cls._plan = plan
    return plan


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _coercion(annotation: str, namespace: dict[str, Any]) -> Callable[[Any], Any] | None:
    """The coercion pydantic's lax mode applies for an annotation, or None where it keeps the value as is."""
    options = [o for o in _split_top(annotation, "|") if o != "None"]
    if len(options) == 1 and options[0].startswith("Optional[") and options[0].endswith("]"):
        options = [options[0][len("Optional["):-1]]
    literal = _literal_values(options, namespace)
    if literal is not None:
        return _member_of(literal, annotation, allow_none=len(options) < len(_split_top(annotation, "|")))
    names = set(options)
    if "float" in names and names <= {"float", "str"}:
        return _to_float
    if names == {"int"}:
        return _to_int
    if names == {"bool"}:
        return _to_bool
    if len(options) != 1:
        return None
    (only,) = options
    if only.startswith("list[") and only.endswith("]"):
        inner = _coercion(only[5:-1], namespace)
        return (lambda v: [inner(x) for x in v]) if inner else _to_list
    if only.startswith("dict[") and only.endswith("]"):
        parts = _split_top(only[5:-1], ",")
        inner = _coercion(parts[1], namespace) if len(parts) == 2 else None
        return (lambda v: {k: inner(x) for k, x in v.items()}) if inner else None
    target = namespace.get(only)
    if isinstance(target, type) and issubclass(target, Record):
        return lambda v: target(**v) if isinstance(v, dict) else v
    return None


def _literal_values(options: list[str], namespace: dict[str, Any]) -> frozenset | None:
    """The allowed values when the annotation is one ``Literal`` (written out, or an alias such as
    ``FindingCode``), else None."""
    import typing

    if len(options) != 1:
        return None
    (only,) = options
    if only.startswith("Literal[") and only.endswith("]"):
        try:
            return frozenset(ast.literal_eval(f"({only[len('Literal['):-1]},)"))
        except (ValueError, SyntaxError):  # not plain constants: no check
            return None
    target = namespace.get(only)
    if typing.get_origin(target) is typing.Literal:
        return frozenset(typing.get_args(target))
    return None


def _member_of(allowed: frozenset, annotation: str, *, allow_none: bool) -> Callable[[Any], Any]:
    """A check that the value is one of a ``Literal``'s: a finding code or severity nobody declared is a bug."""
    def check(value: Any) -> Any:
        if value in allowed or (allow_none and value is None):
            return value
        raise ValueError(f"{value!r} is not one of {annotation}: {', '.join(map(repr, sorted(allowed, key=str)))}")

    return check


def _to_float(value: Any) -> Any:
    if value is None or type(value) is float or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return value  # pydantic refuses a bool for a float; keep it visible rather than guess
    try:
        return float(value)  # int, numpy number
    except (TypeError, ValueError):
        return value


def _to_int(value: Any) -> Any:
    if value is None or type(value) is int or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    index = getattr(value, "__index__", None)  # numpy integer
    return index() if index is not None else value


def _to_bool(value: Any) -> Any:
    return bool(value) if hasattr(value, "dtype") else value  # a numpy bool


def _to_list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


_PYDANTIC_MODELS: dict[type, Any] = {}


def pydantic_model(cls: type[Record]) -> Any:
    """The pydantic model equivalent to a record type (same name, docstring, fields, defaults,
    descriptions and bounds), built once: for JSON schemas, never for the CLI's path."""
    found = _PYDANTIC_MODELS.get(cls)
    if found is not None:
        return found
    import typing

    from pydantic import ConfigDict, create_model
    from pydantic import Field as PydanticField

    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        kw: dict[str, Any] = {}
        if info.description is not None:
            kw["description"] = info.description
        if info.ge is not None:
            kw["ge"] = info.ge
        if info.le is not None:
            kw["le"] = info.le
        if info.default_factory is not None:
            kw["default_factory"] = info.default_factory
        elif info.default is not _MISSING:
            kw["default"] = info.default
        fields[name] = (hints[name], PydanticField(**kw))
    # Built when first used (defer_build), after it is remembered: a record that contains itself (a tree
    # of components) then resolves to this same model, which pydantic writes as a reference.
    model = create_model(cls.__name__, __doc__=cls.__doc__, __module__=cls.__module__,
                         __config__=ConfigDict(defer_build=True, from_attributes=True), **fields)
    _PYDANTIC_MODELS[cls] = model
    return model
