"""Inert stand-ins for the globals a pickle names: names and arguments recorded, nothing imported or called.

Why: real checkpoints hold objects beside the weights that we do not need to *run* to read: an
``argparse.Namespace`` of hyperparameters, numpy scalars in a callback's state, a user's own config
class, ``transformers.TrainingArguments``. Refusing the whole file for one of them was the wrong trade
(the weights are plain tensor records), and importing them would run code from wherever the module
path points. So :func:`traintriage.safe_pickle.restricted_loads`, when asked for stand-ins, answers
such a global with a :class:`Global`: a record of the global's ``module.name``. What the pickle then
does with it is recorded too, never performed:

* calling it (``REDUCE``, ``INST``, ``OBJ``, ``NEWOBJ``, ``copyreg._reconstructor``) gives an
  :class:`Instance` holding the stand-in and the arguments;
* setting its state (``BUILD``) stores the state on the :class:`Instance`; no ``__setstate__`` exists
  to call, since the class was never imported;
* ``SETITEMS`` / ``APPENDS`` (dict and list subclasses) store the items on the :class:`Instance`.

A :class:`Global` cannot be given state (that would rewrite a "class" for later objects), an
:class:`Instance` cannot be called, and neither has any method that reaches outside the record. The
fields of an :class:`Instance` (its dict state, its dict items) are what the checkpoint readers report
as hyperparameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["Global", "Instance", "Record", "fields_of", "standin_name"]

MAX_ITEMS = 100_000
"""Items one stand-in keeps from SETITEMS / APPENDS (a pickle's size bounds them anyway; this keeps
a crafted one from making a record the readers walk for minutes)."""


class Global:
    """A global the pickle named and nobody imported: ``module.name`` and nothing else."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"

    def __call__(self, *args: Any, **kwargs: Any) -> Instance:
        # The unpickler "calls" the global (REDUCE, INST/OBJ, NEWOBJ): record the arguments, run nothing.
        return Instance(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<stand-in {self.qualname[:120]}>"


class Record:
    """Base of every object the unpickler may give state to with ``BUILD`` (besides an ``OrderedDict``).

    ``set_state`` stores or decodes the state and returns what should replace the object on the
    unpickler's stack (None: keep it). It never calls anything the pickle names."""

    __slots__ = ()

    def set_state(self, state: Any) -> Any:
        raise NotImplementedError


class Instance(Record):
    """What the pickle built from a :class:`Global`: the global, its arguments, its state, its items."""

    __slots__ = ("args", "cls", "dictitems", "kwargs", "listitems", "state")

    def __init__(self, cls: Global, args: tuple = (), kwargs: Mapping[str, Any] | None = None) -> None:
        self.cls = cls
        self.args = args
        self.kwargs = dict(kwargs or {})
        self.state: Any = None
        self.dictitems: dict[Any, Any] = {}
        self.listitems: list[Any] = []

    # SETITEMS / APPENDS on a dict or list subclass: keep the items, bounded.
    def __setitem__(self, key: Any, value: Any) -> None:
        if len(self.dictitems) < MAX_ITEMS:
            self.dictitems[key] = value

    def append(self, value: Any) -> None:
        if len(self.listitems) < MAX_ITEMS:
            self.listitems.append(value)

    def extend(self, values: Any) -> None:
        for v in values:
            self.append(v)

    def set_state(self, state: Any) -> None:
        """BUILD: remember the state (merging dict states, as ``__dict__.update`` would); call nothing."""
        if isinstance(self.state, dict) and isinstance(state, dict):
            self.state.update(state)
        else:
            self.state = state
        return None

    def __repr__(self) -> str:
        return f"<stand-in {self.cls.qualname[:120]} instance>"


def standin_name(value: Any) -> str | None:
    """``module.name`` of a stand-in (a :class:`Global` or an :class:`Instance` of one), else None."""
    if isinstance(value, Global):
        return value.qualname
    if isinstance(value, Instance):
        return value.cls.qualname
    return None


def fields_of(value: Instance) -> dict[str, Any]:
    """The named fields an :class:`Instance` carries: its dict items, its ``__dict__`` state (also the dict
    half of a ``(dict, slots)`` state), and its keyword arguments. ``argparse.Namespace``, dataclasses
    such as ``TrainingArguments`` and dict subclasses such as Lightning's ``AttributeDict`` all land here."""
    out: dict[str, Any] = {}
    for source in _field_sources(value):
        for k, v in source.items():
            if isinstance(k, str) and len(out) < MAX_ITEMS:
                out.setdefault(k, v)
    return out


def _field_sources(value: Instance) -> Iterator[Mapping[Any, Any]]:
    yield value.dictitems
    state = value.state
    if isinstance(state, tuple) and len(state) == 2:  # (__dict__, __slots__ values)
        for part in state:
            if isinstance(part, Mapping):
                yield part
    elif isinstance(state, Mapping):
        yield state
    yield value.kwargs
