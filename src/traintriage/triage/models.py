"""The triage contract (DESIGN.md, "Triage report"): what ``correlate`` returns.

Top issues with evidence, the most likely root cause of each with a confidence, an ordered
remediation plan (smallest safe change first, values taken from the run), a validation plan (what the
next run must show), and every finding. Issues are ordered by severity, then how early, then how
certain; the first three are the contract's top 3.
"""

from __future__ import annotations

from typing import Any, Literal

from ..findings import Evidence, Finding, Severity
from ..record import Field, Record
from ..signals import RunInfo
from ..timing.report import StepTiming

Category = Literal[
    "optimizer", "data", "curriculum", "architecture", "initialization", "numerics", "memory", "pipeline", "unknown"
]


class RootCause(Record):
    category: Category
    explanation: str
    confidence: float = Field(ge=0.0, le=1.0, description="Follows from how many independent signals agree.")
    signals: list[str] = Field(default_factory=list, description="The independent signals that support it.")


class TriageIssue(Record):
    rank: int
    title: str
    codes: list[str]
    severity: Severity
    step_start: int | None = None
    step_end: int | None = None
    evidence: list[Evidence]
    root_cause: RootCause

    def has_code(self, code: str) -> bool:
        return code in self.codes


class RemediationStep(Record):
    order: int
    change: str = Field(description="The change, with concrete values taken from the run.")
    addresses: list[int] = Field(description="Ranks of the issues it addresses.")
    expected_effect: str
    risk: Literal["low", "medium", "high"]


class ValidationCheck(Record):
    metric: str
    expectation: str
    addresses: list[int] = Field(default_factory=list)


class TriageReport(Record):
    run: RunInfo
    warnings: list[str]
    issues: list[TriageIssue]
    remediation: list[RemediationStep]
    validation: list[ValidationCheck]
    findings: list[Finding]
    analyses: dict[str, str] = Field(
        default_factory=dict, description="Which analyses ran ('ok') or why one was skipped."
    )
    extras: dict[str, Any] = Field(
        default_factory=dict, description="Summaries from checkpoint / memory analyses when given."
    )
    timing: StepTiming | None = Field(
        default=None, description="Time per step and throughput (context, given whether or not anything is wrong)."
    )
