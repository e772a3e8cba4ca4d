"""The finding schema and the registry of finding codes.

Codes are stable identifiers, like a linter's rule codes (see ``../shared/DESIGN.md``): never
renamed, new ones may be added. Each code is a rule package, ``traintriage/rules/<code>/``, holding its
metadata, thresholds, causes, plan and reference page (served as an MCP resource and printed by
``traintriage explain CODE``); the registry here is derived from those packages.

Detectors build :class:`Finding` objects with :func:`make_finding`; everything that leaves the
package (JSON for agents, structured MCP content) is produced from these records (:mod:`.record`).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from .record import Field, Record
from .rules import BY_CODE, Rule
from .rules import reference_page as reference_page
from .rules.base import Area as Area

Severity = Literal["critical", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}

CODES: dict[str, Rule] = BY_CODE
"""Every finding code and its rule (meaning, area, ...), derived from the rule packages."""

FindingCode = Literal[tuple(BY_CODE)]  # type: ignore[valid-type]
"""The codes a :class:`Finding` may carry: exactly the rules' (a detector cannot invent one)."""


class Evidence(Record):
    """One number that supports a finding: which metric, at which step, what it was, what was expected.

    ``value`` is a float, or the strings ``"nan"``, ``"inf"``, ``"-inf"`` for non-finite values
    (JSON has no NaN); use :func:`json_number` to convert.
    """

    metric: str
    step: int | None = None
    value: float | str | None = None
    expected: str | None = Field(
        default=None, description="The threshold crossed and why, e.g. '< 3.1 (10x local median 0.31)'."
    )


class Finding(Record):
    """One diagnosis: a code from the registry, how bad, where, and the numbers behind it."""

    code: FindingCode
    severity: Severity
    title: str = Field(description="One line.")
    message: str = Field(description="What happened, in plain words.")
    series: str | None = None
    component: str | None = None
    step_start: int | None = None
    step_end: int | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0)
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="Detector-specific extras (e.g. whether a spike recovered), JSON-safe.",
    )


def json_number(value: float | int | None) -> float | str | None:
    """A number as JSON can carry it: finite floats stay floats, NaN/Inf become strings."""
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def make_finding(
    code: str,
    severity: Severity,
    title: str,
    message: str,
    *,
    confidence: float,
    evidence: list[Evidence] | None = None,
    series: str | None = None,
    component: str | None = None,
    step_start: int | None = None,
    step_end: int | None = None,
    details: dict[str, Any] | None = None,
) -> Finding:
    """Build a finding, refusing codes that are not in the registry (a typo is a bug, not a new code)."""
    if code not in CODES:
        raise ValueError(f"unknown finding code {code!r}; known: {', '.join(CODES)}")
    return Finding(
        code=code,  # type: ignore[arg-type]
        severity=severity,
        title=title,
        message=message,
        series=series,
        component=component,
        step_start=None if step_start is None else int(step_start),
        step_end=None if step_end is None else int(step_end),
        evidence=evidence or [],
        confidence=round(min(max(float(confidence), 0.0), 1.0), 3),
        details=details or {},
    )


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then earliest, then most certain: the order people should read them in."""
    return sorted(
        findings,
        key=lambda f: (
            SEVERITY_RANK[f.severity],
            f.step_start if f.step_start is not None else math.inf,
            -f.confidence,
        ),
    )
