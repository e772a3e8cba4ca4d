"""What a plot marks on top of the curves: the triage's issues as step spans, each labelled with its
issue number and codes (the numbers the ``--text`` and markdown reports use), coloured by severity."""

from __future__ import annotations

from dataclasses import dataclass

SEVERITY_COLOURS = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}


@dataclass(frozen=True)
class Mark:
    label: str
    severity: str
    start: int | None
    end: int | None


def issue_marks(report) -> list[Mark]:
    """One mark per issue of a TriageReport (``#rank code+code``), in rank order."""
    if report is None:
        return []
    marks = []
    for issue in report.issues:
        codes = "+".join(issue.codes[:2]) + (f" +{len(issue.codes) - 2}" if len(issue.codes) > 2 else "")
        marks.append(Mark(f"#{issue.rank} {codes}", issue.severity, issue.step_start, issue.step_end))
    return marks
