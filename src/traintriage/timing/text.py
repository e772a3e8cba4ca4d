"""``--text`` rendering of a StepProfile: the headline numbers, the steps, then the findings."""

from __future__ import annotations

from ..textreport import findings_block, warnings_block
from .report import StepProfile


def render(report: StepProfile) -> str:
    lines = [
        f"Trace: {report.target} ({report.events:,} events; steps from {report.step_source})",
        f"  {report.steps} step(s) judged: median {report.step_ms_median:.3g} ms, of which "
        f"{report.data_wait_ms_median:.3g} ms waiting for data ({report.data_share:.0%} of the time)",
    ]
    if report.data_ranges:
        lines.append("  data ranges: " + ", ".join(report.data_ranges[:4]))
    for row in report.per_step[:10]:
        lines.append(f"    step {row.step}: {row.milliseconds:.3g} ms, data {row.data_wait_ms:.3g} ms "
                     f"({row.data_share:.0%})")
    lines.append("")
    lines += findings_block(report.findings) if report.findings else ["No time finding: the steps are not waiting "
                                                                      "on their input."]
    lines += warnings_block(report.warnings)
    return "\n".join(lines)
