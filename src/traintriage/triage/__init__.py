"""``correlate``: turn a run into the report a senior ML engineer would write.

Runs the analyses on one read of the run (loss, gradients, time per step from the wall clock, memory
when logged, the messages a text log printed and the fp16 loss scale; a checkpoint and a memory artifact
when given), groups their findings into issues by step (:mod:`.issues`), attributes each issue to its most
likely root cause from the evidence around it (:mod:`.attribution`), and writes an ordered remediation plan
and a validation plan with values taken from the run (:mod:`.plans`).
An analysis that cannot run (no gradient series, say) is skipped with a reason in ``analyses`` and
``warnings``; only a run with no usable loss at all is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import TraintriageError
from ..findings import SEVERITY_RANK, Evidence, Finding, sort_findings
from ..sandbox import Sandbox
from ..signals import RunData
from .models import RootCause, TriageIssue, TriageReport

# attribution, context, issues and plans (numpy) are imported by correlate() itself: the server imports
# this package for the report model at start-up, and must not pay for numpy there.

MAX_ISSUES = 10
MAX_EVIDENCE = 6


def correlate(
    run: RunData,
    *,
    checkpoint: str | Path | None = None,
    memory: str | Path | None = None,
    capacity: int | str | None = None,
    clip_threshold: float | None = None,
    transitions: Sequence[int] | None = None,
    sandbox: Sandbox,
) -> TriageReport:
    """Triage ``run``; ``checkpoint`` and ``memory`` (a trace or snapshot) add their analyses (a profiler trace
    is also timed: ``input_bound``)."""
    from ..detectors.gradnorm import analyze_gradnorm
    from ..detectors.loss import analyze_loss
    from ..limits import check_budget as stop_if_over_budget
    from .attribution import attribute
    from .context import RunContext
    from .issues import group_findings
    from .plans import build_plans

    warnings = list(run.warnings)
    findings: list[Finding] = []
    analyses: dict[str, str] = {}
    extras: dict = {}

    loss = analyze_loss(run, transitions=list(transitions) if transitions else None)
    findings += loss.findings
    analyses["loss"] = "ok"
    _extend_unique(warnings, loss.warnings)
    stop_if_over_budget()  # a server call that was stopped or ran out of time ends between analyses

    shares: dict[str, float] = {}
    try:
        grads = analyze_gradnorm(run, clip_threshold=clip_threshold)
        shares = {c.name: c.share_median for c in grads.components if c.share_median is not None}
        findings += grads.findings
        analyses["gradnorm"] = "ok"
        _extend_unique(warnings, grads.warnings)
    except TraintriageError as err:
        analyses["gradnorm"] = f"skipped: {err.message}"
        warnings.append(f"gradient checks skipped: {err.message}")
    stop_if_over_budget()

    from ..timing.walltime import analyze_time

    time_analysis = analyze_time(run)
    findings += time_analysis.findings
    analyses["time"] = f"ok ({time_analysis.timing.source})" if time_analysis.timing.source != "none" else (
        "skipped: no wall times or step-time series logged")
    findings += _metrics(run, analyses)
    stop_if_over_budget()

    if run.roles.memory:
        from ..memory import profile_memory

        mem = profile_memory(run, capacity_bytes=capacity, sandbox=sandbox)
        findings += mem.findings
        analyses["memory"] = "ok (logged series)"
        _extend_unique(warnings, mem.warnings)
    if run.messages or run.roles.loss_scale:
        from ..detectors.messages import analyze_messages

        findings += analyze_messages(run)
        analyses["messages"] = "ok"
    if memory is not None:
        from ..memory import profile_memory

        try:
            mem = profile_memory(str(memory), capacity_bytes=capacity, sandbox=sandbox)
            findings += mem.findings
            analyses["memory_artifact"] = f"ok ({mem.kind})"
            extras["memory"] = {"target": mem.target, "kind": mem.kind, "stats": mem.stats}
        except TraintriageError as err:
            analyses["memory_artifact"] = f"failed: {err.message}"
            warnings.append(f"memory target not analysed: {err}")
        findings += _step_profile(memory, sandbox, analyses, extras, warnings)
    if checkpoint is not None:
        from ..checkpoints import count_parameters

        try:
            params = count_parameters(_inside(checkpoint, sandbox), sandbox=sandbox)
            findings += params.findings
            analyses["parameters"] = "ok"
            extras["parameters"] = {"total": getattr(params, "total_parameters", None)}
        except TraintriageError as err:
            analyses["parameters"] = f"failed: {err.message}"
            warnings.append(f"checkpoint not analysed: {err}")

    findings = sort_findings(_dedupe(_config(run, findings, analyses, sandbox)))
    ctx = RunContext.of(run)
    ctx.component_shares = shares
    ctx.findings = findings
    drafts = group_findings(findings, ctx.tolerance)
    issues: list[TriageIssue] = []
    anchors: list[Finding] = []
    for draft in drafts:
        cause: RootCause = attribute(draft, ctx, findings)
        anchor = draft.anchor
        issues.append(
            TriageIssue(
                rank=0,
                title=anchor.title
                + (f" (+ {', '.join(c for c in draft.codes if c != anchor.code)})" if len(draft.codes) > 1 else ""),
                codes=draft.codes,
                severity=draft.severity,  # type: ignore[arg-type]
                step_start=draft.step_start,
                step_end=draft.step_end,
                evidence=_evidence(draft.findings),
                root_cause=cause,
            )
        )
        anchors.append(anchor)
    order = sorted(
        range(len(issues)),
        key=lambda i: (
            SEVERITY_RANK[issues[i].severity],
            issues[i].step_start if issues[i].step_start is not None else float("inf"),
            -issues[i].root_cause.confidence,
        ),
    )[:MAX_ISSUES]
    issues = [issues[i] for i in order]
    anchors = [anchors[i] for i in order]
    for rank, issue in enumerate(issues, start=1):
        issue.rank = rank
    remediation, validation = build_plans(issues, anchors, ctx)
    return TriageReport(
        run=run.info(),
        warnings=warnings,
        issues=issues,
        remediation=remediation,
        validation=validation,
        findings=findings,
        analyses=analyses,
        extras=extras,
        timing=time_analysis.timing,
    )


def _step_profile(
    trace: str | Path, sandbox: Sandbox, analyses: dict, extras: dict, warnings: list[str]
) -> list[Finding]:
    """A profiler trace given as the memory target is timed too: the share of its steps spent waiting for data
    (``input_bound``). A trace whose steps cannot be split (or a snapshot) says why in ``analyses`` only."""
    from ..memory import artifact_kind
    from ..timing import profile_step

    try:
        path = _inside(trace, sandbox)
        if artifact_kind(path) != "trace" and not path.is_dir():
            return []
        profile = profile_step(path, sandbox=sandbox)
    except TraintriageError as err:
        analyses["step_profile"] = f"skipped: {err.message}"
        return []
    analyses["step_profile"] = "ok (trace)"
    extras["step_profile"] = {"target": profile.target, "steps": profile.steps, "data_share": profile.data_share,
                              "step_ms_median": profile.step_ms_median}
    _extend_unique(warnings, profile.warnings)
    return profile.findings


def _metrics(run: RunData, analyses: dict[str, str]) -> list[Finding]:
    """``metric_collapse`` over the watched metrics and accuracies, when the run logs any."""
    from ..detectors.metrics import detect_metric_collapse
    from ..detectors.metrics.collapse import is_accuracy
    from .context import step_tolerance

    watched = len(run.roles.collapse_metric) + sum(1 for name in run.series if is_accuracy(name))
    if not watched:  # nothing to watch: no entry, like memory when no memory series is logged
        return []
    analyses["metrics"] = f"ok ({watched} series watched for collapse)"
    return detect_metric_collapse(run, step_tolerance(run))


def _config(
    run: RunData, findings: list[Finding], analyses: dict[str, str], sandbox: Sandbox
) -> list[Finding]:
    """``findings`` with the ``hyperparameter_risk`` notes of the run's configuration (files beside the logs, the
    headers of text logs), each raised to a warning when ``findings`` show the failure it predicts."""
    from ..detectors.config import detect_hyperparameter_risk, escalate, read_config

    config = read_config(run, sandbox)
    if not config:  # no configuration beside the logs or in their headers: no entry
        return findings
    sources = sorted(set(config.sources.values()))
    analyses["config"] = f"ok ({len(config.values)} settings from {', '.join(sources[:3])})"
    return escalate(findings + detect_hyperparameter_risk(config))


def _inside(path: str | Path, sandbox: Sandbox) -> Path:
    from ..sources.resolve import resolve_target

    return resolve_target(str(path), sandbox=sandbox).path


def _evidence(findings: list[Finding]) -> list[Evidence]:
    out: list[Evidence] = []
    for f in sorted(findings, key=lambda f: SEVERITY_RANK[f.severity]):
        for ev in f.evidence[:2]:
            out.append(ev)
    return out[:MAX_EVIDENCE]


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """The same finding reported by two analyses (NaN in a loss seen by loss and by memory) counts once."""
    seen: set[tuple] = set()
    out = []
    for f in findings:
        key = (f.code, f.series, f.component, f.step_start, f.step_end)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _extend_unique(target: list[str], items: list[str]) -> None:
    for item in items:
        if item not in target:
            target.append(item)


__all__ = ["TriageReport", "correlate"]
