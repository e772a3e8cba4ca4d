"""Attribute each issue to its most likely root cause, from the evidence around it.

The causes a code points to, their signals and the weight of each (with the reason for it) are data
in the code's rule (:mod:`traintriage.rules`): this module only weighs them. A cause's signals that
fire combine as ``1 - prod(1 - w)``, so two moderate, independent signals beat one, and no amount of
agreement reaches certainty (capped at ``MAX_CONFIDENCE``). The causes weighed are the anchor's, in the
order its rule lists them, then those of the other codes in the issue that also count when attached
(NaN under a divergence still says "numerics"); on equal confidence the first listed wins. When
nothing specific is seen, the code's usual causes are left to its reference page, with a low confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..findings import Finding
from ..rules import BY_CODE
from ..rules.base import Cause
from .context import RunContext
from .issues import IssueDraft
from .models import RootCause
from .scenes import AttributionScene

MAX_CONFIDENCE = 0.95
"""No agreement of signals read from logs makes a cause certain: the run was not re-run to prove it."""
NO_SIGNAL_CONFIDENCE = 0.2
"""When no signal fires, the issue's usual causes are a guess: say so with a low confidence."""


def causes_weighed(issue: IssueDraft) -> list[Cause]:
    """The anchor rule's causes, then the attached codes' causes that count when attached."""
    anchor = issue.anchor.code
    causes = list(BY_CODE[anchor].causes)
    for code in issue.codes:
        if code != anchor:
            causes += [c for c in BY_CODE[code].causes if c.also_when_attached and c not in causes]
    return causes


def combined(weights: list[float]) -> float:
    """Independent signals' weights combined: the chance that at least one is right, capped."""
    miss = 1.0
    for w in weights:
        miss *= 1.0 - w
    return round(min(1.0 - miss, MAX_CONFIDENCE), 2)


@dataclass(frozen=True)
class Weighed:
    """A cause whose signals fired on an issue, the names of those signals and the root cause it makes."""

    cause: Cause
    fired: tuple[str, ...]
    root_cause: RootCause


def weigh(issue: IssueDraft, ctx: RunContext, all_findings: list[Finding]) -> list[Weighed]:
    """Every cause weighed for ``issue`` that has at least one signal, in the order weighed."""
    scene = AttributionScene(issue, ctx, all_findings)
    out: list[Weighed] = []
    for cause in causes_weighed(issue):
        if not cause.applies(scene):
            scene.fired.setdefault(cause.category, False)
            continue
        seen = [(signal, text) for signal in cause.signals if (text := signal.observe(scene)) is not None]
        scene.fired[cause.category] = scene.fired.get(cause.category, False) or bool(seen)
        if not seen:
            continue
        fired = tuple(signal.name for signal, _ in seen)
        root_cause = RootCause(
            category=cause.category,  # type: ignore[arg-type]
            explanation=cause.explain(scene, fired),
            confidence=combined([signal.weight for signal, _ in seen]),
            signals=[text for _, text in seen],
        )
        out.append(Weighed(cause, fired, root_cause))
    return out


def best_supported(weighed: list[Weighed]) -> Weighed | None:
    """The most confident cause; on a tie the first weighed (the anchor rule lists its likeliest first)."""
    best = None
    for candidate in weighed:
        if best is None or candidate.root_cause.confidence > best.root_cause.confidence:
            best = candidate
    return best


def attribute(issue: IssueDraft, ctx: RunContext, all_findings: list[Finding]) -> RootCause:
    """The best-supported cause for ``issue``."""
    best = best_supported(weigh(issue, ctx, all_findings))
    if best is None:
        return RootCause(
            category="unknown",
            explanation="No signal in the logs points to a cause; see the reference page of "
            + ", ".join(issue.codes)
            + " for the usual ones.",
            confidence=NO_SIGNAL_CONFIDENCE,
        )
    return best.root_cause
