"""Remediation and validation plans, with values taken from the run.

A plan a person can act on names numbers: "lower peak LR from 2e-3 (logged) to 1e-3", "clip at 1.2:
p95 pre-clip norm", "stop at step 1150: best validation loss 0.146". Each step says what it addresses,
what should change, and its risk; steps are ordered smallest safe change first (risk, then issue
rank). The validation plan says which metrics the next run must improve, with the values to beat.
"""

from __future__ import annotations

from ..findings import Finding
from ..rules import BY_CODE
from ..rules.base import Step
from .context import RunContext
from .models import RemediationStep, TriageIssue, ValidationCheck
from .scenes import PlanScene

RISK_ORDER = {"low": 0, "medium": 1, "high": 2}


def steps_for(issue: TriageIssue, anchor: Finding, ctx: RunContext) -> list[Step]:
    """The changes that address ``issue``, most targeted first: the anchor rule's plan, else its reference page."""
    rule = BY_CODE[anchor.code]
    steps = rule.plan(PlanScene(issue, anchor, ctx)) if rule.plan is not None else []
    if steps:
        return steps
    code = anchor.code
    return [
        Step(
            f"follow the fixes on the {code} reference page (traintriage explain {code}); the evidence above "
            "says which applies",
            "the finding no longer appears",
            "medium",
            anchor.series or anchor.component or code,
            "the finding no longer appears",
        )
    ]


def build_plans(
    issues: list[TriageIssue], anchors: list[Finding], ctx: RunContext
) -> tuple[list[RemediationStep], list[ValidationCheck]]:
    """Ordered remediation (smallest safe change first) and the validation plan, deduplicated."""
    drafted: list[tuple[int, int, Step, int]] = []  # (risk, rank, step, order within issue)
    for issue, anchor in zip(issues, anchors, strict=True):
        for i, step in enumerate(steps_for(issue, anchor, ctx)):
            drafted.append((RISK_ORDER[step.risk], issue.rank, step, i))
    drafted.sort(key=lambda t: (t[0], t[1], t[3]))
    remediation: list[RemediationStep] = []
    validation: list[ValidationCheck] = []
    seen: dict[str, RemediationStep] = {}
    for _, rank, step, _ in drafted:
        if step.change in seen:
            seen[step.change].addresses.append(rank)
            continue
        item = RemediationStep(
            order=len(remediation) + 1,
            change=step.change,
            addresses=[rank],
            expected_effect=step.expected_effect,
            risk=step.risk,  # type: ignore[arg-type]
        )
        seen[step.change] = item
        remediation.append(item)
        check = ValidationCheck(metric=step.metric, expectation=step.expectation, addresses=[rank])
        if not any(v.metric == check.metric and v.expectation == check.expectation for v in validation):
            validation.append(check)
    for issue, anchor in zip(issues, anchors, strict=True):
        validation.append(
            ValidationCheck(
                metric=anchor.series or anchor.component or "findings",
                expectation=f"traintriage no longer reports {', '.join(issue.codes)} on the next run",
                addresses=[issue.rank],
            )
        )
    return remediation, validation
