"""The finding schema and the registry of finding codes.

Codes are stable identifiers, like a linter's rule codes (see ``../shared/DESIGN.md``): never
renamed, new ones may be added. Each code has a reference page in ``traintriage/references/<code>.md``
(what it detects, why it matters, evidence, thresholds, causes, fixes, how to validate a fix),
served as an MCP resource and printed by ``traintriage explain CODE``.

Detectors build :class:`Finding` objects with :func:`make_finding`; everything that leaves the
package (JSON for agents, structured MCP content) is produced from these pydantic models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, Field

Severity = Literal["critical", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}

Area = Literal["loss", "gradients", "parameters", "memory"]


@dataclass(frozen=True)
class CodeInfo:
    """One entry of the code registry: the code, its one-line meaning and the analysis that raises it."""

    code: str
    meaning: str
    area: Area


_REGISTRY: tuple[CodeInfo, ...] = (
    CodeInfo("nan_inf", "NaN or Inf in a loss, gradient norm or weight", "loss"),
    CodeInfo("divergence", "loss trends upward over a sustained stretch, or grows without bound", "loss"),
    CodeInfo("loss_spike", "a sudden, short jump of the loss far above its local level", "loss"),
    CodeInfo("plateau", "loss stops improving for a long stretch (slow convergence, stagnation)", "loss"),
    CodeInfo("stuck_loss", "loss identical, or nearly, step after step: learning is switched off", "loss"),
    CodeInfo("oscillation", "large swings of the loss with no net progress", "loss"),
    CodeInfo("overfitting", "validation loss rises while training loss keeps falling", "loss"),
    CodeInfo("zero_loss", "loss at or near zero: a leak, or a bug in the loss or labels", "loss"),
    CodeInfo(
        "exploding_gradients",
        "gradient norm grows by orders of magnitude, or front layers far above back layers",
        "gradients",
    ),
    CodeInfo(
        "vanishing_gradients",
        "gradient norm of some layers orders of magnitude below the rest, near zero",
        "gradients",
    ),
    CodeInfo("dead_component", "a component's gradient norm is zero (or below a floor) on most steps", "gradients"),
    CodeInfo(
        "gradient_imbalance",
        "one component takes nearly all of the gradient norm, or one takes almost none",
        "gradients",
    ),
    CodeInfo("heavy_clipping", "gradient clipping is active on a large share of steps", "gradients"),
    # Extension of the DESIGN.md table: gradient spikes are reported so that correlate can
    # attribute loss spikes to optimizer instability.
    CodeInfo("gradient_spike", "a sudden, short jump of a gradient norm far above its local level", "gradients"),
    CodeInfo("curriculum_regression", "loss regresses at a curriculum / data-stage transition", "loss"),
    CodeInfo("memory_leak", "memory grows steadily with steps", "memory"),
    CodeInfo(
        "memory_pressure",
        "peak memory close to capacity, or heavy fragmentation (reserved far above allocated)",
        "memory",
    ),
    CodeInfo(
        "architecture_imbalance",
        "parameters concentrated in one part (e.g. embeddings hold most of them)",
        "parameters",
    ),
)

CODES: dict[str, CodeInfo] = {info.code: info for info in _REGISTRY}

FindingCode = Literal[
    "nan_inf",
    "divergence",
    "loss_spike",
    "plateau",
    "stuck_loss",
    "oscillation",
    "overfitting",
    "zero_loss",
    "exploding_gradients",
    "vanishing_gradients",
    "dead_component",
    "gradient_imbalance",
    "heavy_clipping",
    "gradient_spike",
    "curriculum_regression",
    "memory_leak",
    "memory_pressure",
    "architecture_imbalance",
]


class Evidence(BaseModel):
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


class Finding(BaseModel):
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


def reference_page(code: str) -> str:
    """The reference page of a code (markdown), or raise KeyError for an unknown code."""
    if code not in CODES:
        raise KeyError(code)
    path = resources.files("traintriage.references").joinpath(f"{code}.md")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        info = CODES[code]
        return f"# {code}\n\n{info.meaning}.\n\n(No detailed reference page has been written yet.)\n"
