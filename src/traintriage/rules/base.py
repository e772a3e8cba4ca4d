"""What a rule is: one finding code with everything about it in one place.

A rule, like a linter's (sqlfluff's ``AL04``, ruff's ``F401``), is the unit a newcomer reads and a
contributor adds. Its package ``traintriage.rules.<code>`` holds:

- the :class:`Rule` (``RULE``): code, meaning, area, default severity, the rank it has when it names an
  issue, the detector that raises it, the causes ``correlate`` weighs for it, its remediation plan and its
  ``--diagnose`` text;
- ``thresholds.py``: the numbers the detector compares against, each with the reason for its value;
- ``reference.md``: the page ``traintriage explain CODE`` prints (what it detects, why it matters,
  evidence, thresholds, causes, fixes, how to validate). Every threshold the page states is written
  ```NAME = value``` and a test checks it against ``thresholds.py``.

This module is imported when the server starts: it must stay free of numpy and of the analysis code.
The callables a rule holds receive a *scene* (:mod:`traintriage.triage.scenes`) that does the numeric
work, so a rule reads as a statement of what it looks for, not how the arrays are searched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ..triage.scenes import AttributionScene, PlanScene

Severity = Literal["critical", "warning", "info"]
Area = Literal["loss", "metrics", "gradients", "parameters", "memory", "time", "messages", "config"]
"""What a code is about: the loss, other logged metrics, gradients, parameters, memory, wall time, the
messages a log prints, or the configuration."""
Risk = Literal["low", "medium", "high"]


@dataclass(frozen=True)
class Signal:
    """One observation about the run that supports a cause.

    ``observe`` returns the signal's text for the report ("LR x10 at step 300") when the run shows it,
    else ``None``. ``weight`` is how strongly it supports the cause on its own (signals of one cause
    combine as ``1 - prod(1 - w)``) and ``why`` says why the weight is what it is.
    """

    name: str
    weight: float
    why: str
    observe: Callable[[AttributionScene], str | None]


def _always(scene: AttributionScene) -> bool:
    return True


@dataclass(frozen=True)
class Cause:
    """A root-cause hypothesis: a category, the signals that support it and how to explain it.

    ``explain(scene, fired)`` writes the explanation from the names of the signals that fired.
    ``applies`` is a precondition on the whole cause (e.g. "no optimizer signal was seen"). A cause with
    ``also_when_attached`` is weighed whenever its rule's code is in the issue, not only when it names it
    (NaN attached to a divergence still says "numerics").
    """

    category: str
    explain: Callable[[AttributionScene, tuple[str, ...]], str]
    signals: tuple[Signal, ...]
    applies: Callable[[AttributionScene], bool] = _always
    also_when_attached: bool = False


@dataclass(frozen=True)
class Step:
    """One change of a remediation plan, with the metric and the value the next run must show."""

    change: str
    expected_effect: str
    risk: Risk
    metric: str
    expectation: str


@dataclass(frozen=True)
class Diagnosis:
    """``--diagnose`` text: likely causes (most frequent in practice first) and the first fix to try.

    ``specialise(finding, causes, fix)`` may rewrite both from the finding's own evidence (the LR change
    it saw, the best validation step) and returns the pair.
    """

    causes: tuple[str, ...]
    first_fix: str
    specialise: Callable[[Any, list[str], str], tuple[list[str], str]] | None = None


@dataclass(frozen=True)
class Rule:
    """A finding code and everything the tool knows about it (see the module docstring)."""

    code: str
    meaning: str
    area: Area
    default_severity: Severity
    anchor_rank: int
    """Which code names an issue that several describe: the lowest rank (the most telling) wins."""
    detectors: tuple[str, ...]
    """``module:function`` of each detector that raises the code (a test checks that they resolve)."""
    causes: tuple[Cause, ...] = ()
    plan: Callable[[PlanScene], list[Step]] | None = None
    diagnosis: Diagnosis | None = None
    fallback_fix: str = ""
    """The fix a plan falls back on when the finding carries none of its own."""
    attaches_to_loss_event: bool = False
    """A symptom that joins a loss event at the same steps (a gradient spike under a loss spike)."""
    groups_by_component: bool = False
    """Findings of such codes on one component (dead + imbalance of ``head``) are one issue."""
    same_event: Mapping[str, int] = field(default_factory=dict)
    """Loss codes that, within this many step tolerances, are the same event as this one."""


def fmt(x: float | None) -> str:
    """A number as plans and explanations print it: three significant digits, ``n/a`` when unknown."""
    return "n/a" if x is None else f"{x:.3g}"
