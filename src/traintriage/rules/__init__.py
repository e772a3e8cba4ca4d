"""The rules: one package per finding code, and the registry derived from them.

Every code's metadata, thresholds, reference page, causes and plan live in ``rules/<code>/`` (see
:mod:`.base`). Everything else that used to keep a list of codes by hand (the finding schema's
``FindingCode``, the per-area code lists, the order in which codes name an issue) is derived here, so
adding a code is adding a package.

To add a code: copy a rule package (``rules/loss_spike/`` is a complete one) to ``rules/<new_code>/``;
set its ``RULE`` (meaning, area, severity, anchor rank, detector, causes, plan); write ``thresholds.py``
and ``reference.md`` (thresholds written as ```NAME = value```); raise it from a detector with
``make_finding("<new_code>", ...)``; add a test on a real run. ``tests/test_rules.py`` checks the rest.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Area, Rule

AREA_ORDER: tuple[Area, ...] = ("loss", "metrics", "gradients", "parameters", "memory", "time", "messages", "config")


def _discover() -> tuple[Rule, ...]:
    """Every ``rules/<code>/`` package's ``RULE``, by area then anchor rank (the order they are listed in)."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg:
            continue
        rule = importlib.import_module(f"{__name__}.{info.name}").RULE
        if rule.code != info.name:
            raise RuntimeError(f"rules/{info.name}/ declares code {rule.code!r}: the package must be named after it")
        found.append(rule)
    return tuple(sorted(found, key=lambda r: (AREA_ORDER.index(r.area), r.anchor_rank)))


RULES: tuple[Rule, ...] = _discover()
BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}
ANCHOR_RANK: dict[str, int] = {rule.code: rule.anchor_rank for rule in RULES}
UNRANKED = 1 << 30
"""Anchor rank of a code no rule knows (kept last)."""


def codes_in(area: Area) -> tuple[str, ...]:
    """The codes an analysis area raises, in listing order."""
    return tuple(rule.code for rule in RULES if rule.area == area)


def reference_page(code: str) -> str:
    """The reference page of a code (markdown), or raise KeyError for an unknown code."""
    if code not in BY_CODE:
        raise KeyError(code)
    from importlib import resources  # with tempfile, random...: only when a page is read

    return resources.files(f"{__name__}.{code}").joinpath("reference.md").read_text(encoding="utf-8")


__all__ = ["ANCHOR_RANK", "BY_CODE", "RULES", "Rule", "codes_in", "reference_page"]
