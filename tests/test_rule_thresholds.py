"""Every threshold a rule's reference page states is the constant its detector compares against.

A rule keeps its thresholds in ``rules/<code>/thresholds.py`` and states them on ``rules/<code>/reference.md``
as inline code ```NAME = value```. Three checks keep the two and the detectors together:

- every ```NAME = value``` on a page names a constant of that rule's ``thresholds.py`` (or, written
  ```other_code.NAME = value```, of another rule's, for a threshold two codes share) and the value equals it;
- every constant of a ``thresholds.py`` is stated on its rule's page, with the reason for its value as an
  attribute docstring;
- every constant is imported by name, and used, by some module of the package that is not a ``thresholds.py``
  (a detector, or the rule's own attribution): a threshold nothing compares against is dead.

The value on a page is a plain number (``0.5``, ``1e-4``, ``1_000_000``), ``math.log(x)`` for a threshold
compared in log space (``math.log(1.5)``: "1.5x"), or a power ``2**30`` (a size in bytes); nothing else.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import math
import re
from pathlib import Path
from types import ModuleType

import pytest

import traintriage
from traintriage.rules import RULES, reference_page

PACKAGE_DIR = Path(traintriage.__file__).parent
CODES = [rule.code for rule in RULES]

STATED = re.compile(r"`(?:(?P<rule>[a-z][a-z_]*)\.)?(?P<name>[A-Z][A-Z0-9_]*) = (?P<value>[^`]+)`")
"""```NAME = value``` or ```other_code.NAME = value``` in a page's markdown."""


def page_value(text: str) -> float:
    """The number a page writes, in the small syntax the module docstring describes (anything else fails)."""

    def number(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -number(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return number(node.left) ** number(node.right)
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) == "math.log"
            and len(node.args) == 1
            and not node.keywords
        ):
            return math.log(number(node.args[0]))
        raise ValueError(f"not a threshold value: {ast.unparse(node)!r}")

    return number(ast.parse(text.strip(), mode="eval").body)


def stated(code: str) -> list[tuple[str, str, str]]:
    """``(rule, name, value text)`` for every threshold the page of ``code`` states (``rule`` is ``code`` unless
    the page names another rule's constant)."""
    return [(m["rule"] or code, m["name"], m["value"]) for m in STATED.finditer(reference_page(code))]


def thresholds_module(code: str) -> ModuleType | None:
    name = f"traintriage.rules.{code}.thresholds"
    return importlib.import_module(name) if importlib.util.find_spec(name) is not None else None


def constants(code: str) -> dict[str, bool]:
    """The constants ``rules/<code>/thresholds.py`` defines (module-level ``UPPER_CASE = ...``), each with
    whether an attribute docstring (the reason for its value) follows it."""
    path = PACKAGE_DIR / "rules" / code / "thresholds.py"
    if not path.exists():
        return {}
    body = ast.parse(path.read_text(encoding="utf-8")).body
    found = {}
    for node, after in zip(body, [*body[1:], None], strict=True):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name.isupper():
                found[name] = (
                    isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                )
    return found


def used_thresholds() -> set[tuple[str, str]]:
    """``(thresholds module, constant)`` for every constant a module of the package imports by name and then
    reads, over every module but the ``thresholds.py`` files themselves."""
    used = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        if path.name == "thresholds.py":
            continue
        rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        package = module if rel.name == "__init__" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                for alias in node.names:
                    imported[alias.asname or alias.name] = (source, alias.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in imported:
                used.add(imported[node.id])
    return used


def test_value_syntax_is_only_numbers_and_logs():
    assert page_value("1e-4") == 1e-4
    assert page_value("1_000_000") == 1_000_000
    assert page_value("-0.6") == -0.6
    assert page_value("math.log(1.5)") == math.log(1.5)
    assert page_value("2**30") == 1 << 30
    for bad in ("__import__('os')", "math.exp(1)", "1 + 1", "'0.5'", "True"):
        with pytest.raises(ValueError):
            page_value(bad)


@pytest.mark.parametrize("code", CODES)
def test_page_states_the_values_of_the_constants(code):
    """Each ```NAME = value``` on the page is a constant of the named rule's thresholds.py, with that value."""
    for rule, name, text in stated(code):
        module = thresholds_module(rule)
        assert module is not None, f"rules/{code}/reference.md states {name}, but rules/{rule}/ has no thresholds.py"
        assert name in constants(rule), f"rules/{code}/reference.md states {name}, not in rules/{rule}/thresholds.py"
        value = getattr(module, name)
        assert page_value(text) == value, (
            f"rules/{code}/reference.md states {name} = {text}, but rules/{rule}/thresholds.py has {value!r}"
        )


@pytest.mark.parametrize("code", CODES)
def test_every_constant_is_stated_with_its_reason(code):
    """Each constant of a rule's thresholds.py is on its page, and has an attribute docstring saying why."""
    on_page = {name for rule, name, _ in stated(code) if rule == code}
    undocumented = [name for name, has_reason in constants(code).items() if not has_reason]
    assert not undocumented, f"rules/{code}/thresholds.py: no docstring giving the reason for {undocumented}"
    missing = sorted(set(constants(code)) - on_page)
    assert not missing, f"rules/{code}/reference.md does not state {missing} (write them as `NAME = value`)"


def test_every_constant_is_compared_against():
    """No dead thresholds: each constant is imported by name and read outside the thresholds modules."""
    used = used_thresholds()
    dead = [
        f"rules/{code}/thresholds.py: {name}"
        for code in CODES
        for name in constants(code)
        if (f"traintriage.rules.{code}.thresholds", name) not in used
    ]
    assert not dead, f"thresholds no module uses: {dead}"


def test_the_pages_state_thresholds():
    """The parser finds what the pages say (a page syntax it misses would make the checks above vacuous)."""
    with_constants = [code for code in CODES if constants(code)]
    assert len(with_constants) >= 17
    for code in with_constants:
        assert stated(code), f"rules/{code}/reference.md states none of its thresholds as `NAME = value`"
