"""The library API: every analysis as one function call on a target (path, experiment name, trial).

The CLI commands and MCP tools are thin adapters over these functions; benchmarks and other Python
code call them directly. Each returns a record (:mod:`.record`) carrying ``run`` (what was read),
``warnings`` (what could not be read) and ``findings``. Analysis modules are imported on first call.

Every function takes a required ``sandbox``: where it may read (:class:`~traintriage.sandbox.Sandbox`).
A program analysing its own runs says so; one serving other people confines them to directories::

    from traintriage.api import Sandbox, correlate

    report = correlate("outputs/training/my_experiment", sandbox=Sandbox.unrestricted())
    report = correlate("my_experiment", sandbox=Sandbox.of(["/data/runs"]))  # looked up under the root

There is no default: a forgotten sandbox is a ``TypeError``, never "read anywhere", and ``Sandbox()``
(no roots) reads nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .sandbox import Sandbox

if TYPE_CHECKING:  # return types only: describe's models are built when describe_run is called
    from .describe import RunDescription
    from .signals import RunData

__all__ = [
    "Sandbox", "analyze_gradnorm", "analyze_loss", "compare_runs", "correlate", "count_parameters", "describe_run",
    "load",
    "profile_memory", "profile_step", "sweep",
]

RolesArg = Mapping[str, str] | Sequence[str] | None


def load(target: str | Path, *, sandbox: Sandbox, trial: bool = False, roles: RolesArg = None) -> RunData:
    """Resolve and read a run: its series by name and the roles inferred for them."""
    from .sources import load_run

    return load_run(target, sandbox=sandbox, trial=trial, roles=roles)


def _remembered(analysis: str, target, sandbox: Sandbox, trial: bool, roles: RolesArg, options: dict, compute):
    """``compute(run_data)``, or the report remembered for this analysis, these options and this exact
    state of the run's files (see :mod:`traintriage.memo`)."""
    from .limits import check_budget
    from .memo import REPORTS, freeze
    from .sources import plan_run, read_run

    plan = plan_run(target, sandbox=sandbox, trial=trial)
    key = (analysis, freeze(roles), freeze(options), plan.fingerprint())
    def fresh():
        data = read_run(plan, roles)
        check_budget()  # a stopped or over-budget server call ends between the read and the analysis
        return compute(data)

    return REPORTS.get_or_compute(key, fresh)


def describe_run(target: str | Path, *, sandbox: Sandbox, **kwargs) -> RunDescription:
    """What a target resolves to, its files, series and roles (see :mod:`traintriage.describe`)."""
    from .describe import summarize

    return summarize(load(target, sandbox=sandbox, **kwargs))


if TYPE_CHECKING:  # the analysis package is imported on first call, not with the API
    from .detectors.gradnorm import GradNormReport
    from .detectors.loss import LossReport


def analyze_gradnorm(
    target: str | Path,
    *,
    sandbox: Sandbox,
    trial: bool = False,
    roles: RolesArg = None,
    clip_threshold: float | None = None,
    depth: int | None = None,
) -> GradNormReport:
    """Per-component gradient health of a run (see :mod:`traintriage.detectors.gradnorm`)."""
    from .detectors.gradnorm import analyze_gradnorm as analyze

    options = {"clip_threshold": clip_threshold, "depth": depth}
    return _remembered("gradnorm", target, sandbox, trial, roles, options, lambda data: analyze(data, **options))


def correlate(
    target: str | Path,
    *,
    sandbox: Sandbox,
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
        data = load(target, sandbox=sandbox, trial=trial, roles=roles)
        return run_correlate(data, checkpoint=checkpoint, memory=memory, sandbox=sandbox, **options)
    return _remembered("correlate", target, sandbox, trial, roles, options,
                       lambda data: run_correlate(data, sandbox=sandbox, **options))


def analyze_loss(
    target: str | Path,
    *,
    sandbox: Sandbox,
    trial: bool = False,
    roles: RolesArg = None,
    series: str | None = None,
    transitions: Sequence[int] | None = None,
    diagnose: bool = False,
) -> LossReport:
    """Loss-curve critique of a run (see :mod:`traintriage.detectors.loss`): findings, statistics, phases."""
    from .detectors.loss import analyze_loss as analyze

    options = {"series": series, "transitions": list(transitions or []), "diagnose": diagnose}
    return _remembered("loss", target, sandbox, trial, roles, options, lambda data: analyze(data, **options))


def profile_memory(
    target: str | Path,
    *,
    sandbox: Sandbox,
    trial: bool = False,
    roles: RolesArg = None,
    capacity: int | str | None = None,
):
    """Memory findings from a run's logged memory series, a profiler trace or a CUDA memory snapshot
    (see :mod:`traintriage.memory`); ``capacity`` is bytes or a size such as ``"80GiB"``."""
    from .memory import profile_memory as run_profile

    return run_profile(target, capacity_bytes=capacity, sandbox=sandbox, trial=trial, roles=roles)


def profile_step(target: str | Path, *, sandbox: Sandbox):
    """How the profiled steps of a torch.profiler trace spend their time: the share spent waiting for data and
    ``input_bound`` findings (see :mod:`traintriage.timing`)."""
    from .timing import profile_step as run_profile

    return run_profile(target, sandbox=sandbox)


def count_parameters(
    checkpoint: str | Path, *, sandbox: Sandbox, depth: int = 2, scan_values: bool | None = None
):
    """What a checkpoint holds, read without executing anything (see :mod:`traintriage.checkpoints`)."""
    from .checkpoints import count_parameters as run_count

    return run_count(checkpoint, depth=depth, scan_values=scan_values, sandbox=sandbox)


def sweep(target: str | Path, *, sandbox: Sandbox, **kwargs):
    """Triage every trial of a hyperparameter search (a directory of trials, ``sqlite:///study.db``, a remote
    URL): ranking, recurring failure modes, their hyperparameter correlates (see :mod:`traintriage.sweeps`)."""
    from .sweeps import sweep as run_sweep

    return run_sweep(target, sandbox=sandbox, **kwargs)


def compare_runs(good: str | Path, bad: str | Path, *, sandbox: Sandbox, roles: RolesArg = None):
    """What changed between a GOOD run and a BAD one: the configuration diff, the first step where BAD's loss
    leaves GOOD's band, and the findings BAD has and GOOD has not (see :mod:`traintriage.compare`)."""
    from .compare import compare_runs as run_compare

    return run_compare(good, bad, sandbox=sandbox, roles=roles)
