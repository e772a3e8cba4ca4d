"""The ``--text`` triage report, in the order a person reads it: top 3 issues with evidence and root
cause, the ordered plan, the validation plan; then the remaining issues and warnings."""

from __future__ import annotations

from ..textreport import fmt_num, run_header, warnings_block
from .models import TriageReport

TOP = 3


def render_triage(report: TriageReport) -> str:
    lines = run_header(report.run)
    skipped = {k: v for k, v in report.analyses.items() if not v.startswith("ok")}
    if skipped:
        lines.append("  analyses: " + "; ".join(f"{k} {v}" for k, v in skipped.items()))
    if report.timing is not None:
        lines.append(f"  time: {report.timing.summary}")
    lines.append("")
    if not report.issues:
        lines.append("No issues found: the run looks healthy on every check that its logs allow.")
    else:
        lines.append(f"TOP ISSUES ({min(TOP, len(report.issues))} of {len(report.issues)})")
        for issue in report.issues[:TOP]:
            lines += _issue(issue)
        lines.append("")
        lines.append("REMEDIATION PLAN (smallest safe change first)")
        for step in report.remediation:
            lines.append(f"  {step.order}. {step.change}")
            lines.append(
                f"     addresses #{', #'.join(map(str, step.addresses))}; risk {step.risk}; "
                f"expect: {step.expected_effect}"
            )
        lines.append("")
        lines.append("VALIDATION PLAN (next run)")
        for check in report.validation:
            lines.append(f"  - {check.metric}: {check.expectation}")
        if len(report.issues) > TOP:
            lines.append("")
            lines.append("OTHER ISSUES")
            for issue in report.issues[TOP:]:
                lines.append(f"  #{issue.rank} [{issue.severity}] {issue.title} ({', '.join(issue.codes)})")
    lines.append("")
    lines += warnings_block(report.warnings)
    return "\n".join(lines)


def _issue(issue) -> list[str]:
    where = ""
    if issue.step_start is not None:
        where = f" @ step {issue.step_start}" + (
            f"-{issue.step_end}" if issue.step_end not in (None, issue.step_start) else ""
        )
    out = [f"  #{issue.rank} [{issue.severity.upper()}] {issue.title}{where}   codes: {', '.join(issue.codes)}"]
    for ev in issue.evidence[:4]:
        at = f" @ {ev.step}" if ev.step is not None else ""
        exp = f" (expected {ev.expected})" if ev.expected else ""
        out.append(f"      evidence: {ev.metric}{at} = {fmt_num(ev.value)}{exp}")
    rc = issue.root_cause
    out.append(f"      root cause: {rc.category} (confidence {rc.confidence:.2f}): {rc.explanation}")
    return out
