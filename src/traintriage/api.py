"""The library API: every analysis as one function call on a target (path, experiment name, trial).

The CLI commands and MCP tools are thin adapters over these functions; benchmarks and other Python
code call them directly. Each returns a pydantic model carrying ``run`` (what was read),
``warnings`` (what could not be read) and ``findings``. Analysis modules are imported on first call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .describe import RunDescription
from .signals import RunData

RolesArg = Mapping[str, str] | Sequence[str] | None


def load(
    target: str | Path, *, roots: Sequence[Path] | None = None, trial: bool = False, roles: RolesArg = None
) -> RunData:
    """Resolve and read a run: its series by name and the roles inferred for them."""
    from .sources import load_run

    return load_run(target, roots=roots, trial=trial, roles=roles)


def _remembered(analysis: str, target, roots, trial: bool, roles: RolesArg, options: dict, compute):
    """``compute(run_data)``, or the report remembered for this analysis, these options and this exact
    state of the run's files (see :mod:`traintriage.memo`)."""
    from .limits import checkpoint
    from .memo import REPORTS, freeze
    from .sources import plan_run, read_run

    plan = plan_run(target, roots=roots, trial=trial)
    key = (analysis, freeze(roles), freeze(options), plan.fingerprint())
    def fresh():
        data = read_run(plan, roles)
        checkpoint()  # a stopped or over-budget server call ends between the read and the analysis
        return compute(data)

    return REPORTS.get_or_compute(key, fresh)


def describe_run(target: str | Path, **kwargs) -> RunDescription:
    """What a target resolves to, its files, series and roles (see :mod:`traintriage.describe`)."""
    from .describe import summarize

    return summarize(load(target, **kwargs))


if TYPE_CHECKING:  # the analysis package is imported on first call, not with the API
    from .detectors.gradnorm import GradNormReport
    from .detectors.loss import LossReport


def analyze_gradnorm(
    target: str | Path,
    *,
    roots: Sequence[Path] | None = None,
    trial: bool = False,
    roles: RolesArg = None,
    clip_threshold: float | None = None,
    depth: int | None = None,
) -> GradNormReport:
    """Per-component gradient health of a run (see :mod:`traintriage.detectors.gradnorm`)."""
    from .detectors.gradnorm import analyze_gradnorm as analyze

    options = {"clip_threshold": clip_threshold, "depth": depth}
    return _remembered("gradnorm", target, roots, trial, roles, options, lambda data: analyze(data, **options))


def correlate(
    target: str | Path,
    *,
    roots: Sequence[Path] | None = None,
    trial: bool = False,
    roles: RolesArg = None,
    checkpoint: str | Path | None = None,
    memory: str | Path | None = None,
    capacity: int | str | None = None,
    clip_threshold: float | None = None,
    transitions: Sequence[int] | None = None,
):
    """The triage report of a run (see :mod:`traintriage.triage`): top issues, root causes, plans."""
    from .triage import correlate as run_correlate

    options = {"capacity": capacity, "clip_threshold": clip_threshold, "transitions": transitions}
    if checkpoint is not None or memory is not None:  # other artifacts: not covered by the run's fingerprint
        data = load(target, roots=roots, trial=trial, roles=roles)
        return run_correlate(data, checkpoint=checkpoint, memory=memory, roots=roots, **options)
    return _remembered("correlate", target, roots, trial, roles, options,
                       lambda data: run_correlate(data, roots=roots, **options))


def analyze_loss(
    target: str | Path,
    *,
    roots: Sequence[Path] | None = None,
    trial: bool = False,
    roles: RolesArg = None,
    series: str | None = None,
    transitions: Sequence[int] | None = None,
    diagnose: bool = False,
) -> LossReport:
    """Loss-curve critique of a run (see :mod:`traintriage.detectors.loss`): findings, statistics, phases."""
    from .detectors.loss import analyze_loss as analyze

    options = {"series": series, "transitions": list(transitions or []), "diagnose": diagnose}
    return _remembered("loss", target, roots, trial, roles, options, lambda data: analyze(data, **options))


def profile_memory(
    target: str | Path,
    *,
    roots: Sequence[Path] | None = None,
    trial: bool = False,
    roles: RolesArg = None,
    capacity: int | str | None = None,
):
    """Memory findings from a run's logged memory series, a profiler trace or a CUDA memory snapshot
    (see :mod:`traintriage.memory`); ``capacity`` is bytes or a size such as ``"80GiB"``."""
    from .memory import profile_memory as run_profile

    return run_profile(target, capacity_bytes=capacity, roots=roots, trial=trial, roles=roles)


def profile_step(target: str | Path, *, roots: Sequence[Path] | None = None):
    """How the profiled steps of a torch.profiler trace spend their time: the share spent waiting for data and
    ``input_bound`` findings (see :mod:`traintriage.timing`)."""
    from .timing import profile_step as run_profile

    return run_profile(target, roots=roots)


def count_parameters(
    checkpoint: str | Path, *, roots: Sequence[Path] | None = None, depth: int = 2, scan_values: bool = True
):
    """What a checkpoint holds, read without executing anything (see :mod:`traintriage.checkpoints`)."""
    from .checkpoints import count_parameters as run_count

    return run_count(checkpoint, depth=depth, scan_values=scan_values, roots=roots)


def sweep(target: str | Path, *, roots: Sequence[Path] | None = None, **kwargs):
    """Triage every trial of a hyperparameter search (a directory of trials, ``sqlite:///study.db``, a remote
    URL): ranking, recurring failure modes, their hyperparameter correlates (see :mod:`traintriage.sweeps`)."""
    from .sweeps import sweep as run_sweep

    return run_sweep(target, roots=roots, **kwargs)
