"""Compare two runs: "last week's run was fine; this one diverged: what changed?"

Three answers, each from code that already exists elsewhere:

* the configuration diff: :func:`traintriage.detectors.config.read.read_config` on both runs (hyperparameter
  files, the TensorBoard hparams plugin, MLflow params, text-log headers), keys changed, added or removed;
* where the training losses separate (:mod:`.separation`): the first step where BAD's loss leaves GOOD's band,
  both runs aligned on the step, whatever their formats and logging intervals;
* the findings BAD has and GOOD has not: ``triage.correlate`` on both, compared by (code, series).

The overlay plot is drawn by :mod:`.plot` only when asked for (matplotlib is imported there).
"""

from __future__ import annotations

from typing import Any, Literal

from ..errors import InputError
from ..record import Field, Record
from .separation import PERSIST


class ConfigChange(Record):
    key: str
    change: Literal["changed", "added", "removed"] = Field(description="added: only BAD has it; removed: only GOOD.")
    good: Any = None
    bad: Any = None


class Separation(Record):
    step: int = Field(description=f"First step where BAD's loss leaves GOOD's band for {PERSIST} compared points in "
                                  "a row (see rule); BAD may come back inside it later.")
    good: float = Field(description="GOOD's loss at that step (its rolling median, interpolated to the step).")
    bad: float | str = Field(description="BAD's loss at that step ('nan'/'inf' when not finite).")
    band: list[float] = Field(description="GOOD's band at that step: [low, high].")


class FindingBrief(Record):
    code: str
    severity: str
    series: str | None = None
    title: str
    step_start: int | None = None


class CompareReport(Record):
    """What changed from GOOD to BAD, and where BAD went wrong."""

    # Pairs are lists [GOOD's, BAD's], not tuples: a tuple's JSON schema is three times the size, and
    # tools/list has a budget (tests/test_agent_ergonomics.py).

    good: str = Field(description="GOOD's resolved path.")
    bad: str = Field(description="BAD's resolved path.")
    config: list[ConfigChange] = Field(default_factory=list, description="Settings that differ.")
    config_keys: list[int] = Field(description="How many settings were read: [GOOD, BAD].")
    loss_series: list[str] = Field(description="The training-loss series compared: [GOOD's, BAD's].")
    overlap: list[int] | None = Field(None, description="Steps both runs logged: [first, last].")
    compared_points: int = Field(0, description="BAD's points inside the overlap, each checked against the band.")
    separation: Separation | None = Field(None, description="None: BAD stays inside GOOD's band.")
    rule: str | None = Field(None, description="The separation rule with its thresholds (detail='full' over MCP).")
    new_findings: list[FindingBrief] = Field(default_factory=list, description="In BAD, not in GOOD.")
    resolved_findings: list[FindingBrief] = Field(default_factory=list, description="In GOOD, not in BAD.")
    warnings: list[str] = Field(default_factory=list)


def config_diff(good: dict[str, Any], bad: dict[str, Any]) -> list[ConfigChange]:
    """Keys whose values differ, sorted by key; equal values (after the reader's normalisation) are left out."""
    out = []
    for key in sorted(set(good) | set(bad)):
        if key not in bad:
            out.append(ConfigChange(key=key, change="removed", good=good[key]))
        elif key not in good:
            out.append(ConfigChange(key=key, change="added", bad=bad[key]))
        elif good[key] != bad[key]:
            out.append(ConfigChange(key=key, change="changed", good=good[key], bad=bad[key]))
    return out


def finding_diff(mine, theirs) -> list[FindingBrief]:
    """Findings of ``mine`` whose (code, series) no finding of ``theirs`` has."""
    seen = {(f.code, f.series) for f in theirs}
    return [FindingBrief(code=f.code, severity=f.severity, series=f.series, title=f.title, step_start=f.step_start)
            for f in mine if (f.code, f.series) not in seen]


def _loss(data, which: str):
    series = data.get(data.roles.train_loss)
    if series is None or len(series) == 0:
        raise InputError(
            f"{which} run {data.path} has no training loss to compare.",
            hint="check the roles with `traintriage inspect RUN`, and set one with --role train_loss=SERIES",
        )
    return series


def compare(good_data, bad_data, good_report, bad_report, *, sandbox) -> CompareReport:
    """Compare two runs already read (``RunData``) and triaged (``TriageReport``)."""
    from ..detectors.config.read import read_config
    from .separation import RULE, separate

    good_loss, bad_loss = _loss(good_data, "GOOD"), _loss(bad_data, "BAD")
    good_cfg, bad_cfg = read_config(good_data, sandbox), read_config(bad_data, sandbox)
    warnings = []
    if not good_cfg or not bad_cfg:
        which = " and ".join(w for w, c in (("GOOD", good_cfg), ("BAD", bad_cfg)) if not c)
        warnings.append(f"no configuration found for {which}: no configuration diff (every key would differ)")
    result = separate(good_loss, bad_loss)
    if result.overlap is None:
        warnings.append("the runs share no steps: the curves cannot be compared step by step")
    return CompareReport(
        good=str(good_data.path),
        bad=str(bad_data.path),
        config=config_diff(good_cfg.values, bad_cfg.values) if good_cfg and bad_cfg else [],
        config_keys=[len(good_cfg.values), len(bad_cfg.values)],
        loss_series=[good_loss.name, bad_loss.name],
        overlap=result.overlap,
        compared_points=result.compared,
        separation=result.separation,
        rule=RULE,
        new_findings=finding_diff(bad_report.findings, good_report.findings),
        resolved_findings=finding_diff(good_report.findings, bad_report.findings),
        warnings=warnings,
    )


def compare_runs(good, bad, *, sandbox, roles=None) -> CompareReport:
    """Read and triage both runs (triage reports are remembered, see :mod:`traintriage.memo`) and compare them."""
    return read_and_compare(good, bad, sandbox=sandbox, roles=roles)[0]


def read_and_compare(good, bad, *, sandbox, roles=None):
    """``(report, good_data, bad_data)``: the runs as read, for the overlay plot."""
    from .. import api

    good_data = api.load(good, sandbox=sandbox, roles=roles)
    bad_data = api.load(bad, sandbox=sandbox, roles=roles)
    _loss(good_data, "GOOD"), _loss(bad_data, "BAD")  # said before the two triages run
    good_report = api.correlate(good, sandbox=sandbox, roles=roles)
    bad_report = api.correlate(bad, sandbox=sandbox, roles=roles)
    return compare(good_data, bad_data, good_report, bad_report, sandbox=sandbox), good_data, bad_data
