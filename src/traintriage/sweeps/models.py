"""What a sweep returns: one row per trial, the failure modes that recur, and what they go with.

Kept free of analysis imports (records only) because the MCP adapter imports these models at server
start to build its output schema, and startup must stay light.
"""

from __future__ import annotations

from typing import Literal

from ..findings import Severity
from ..record import Field, Record

ParamValue = float | int | str | bool | None
Number = float | str | None
"""A float, or "nan"/"inf"/"-inf" (JSON has no NaN), or None when not logged."""


class TrialRow(Record):
    """One trial of the sweep, analysed (``status='ok'``) or not (``status='error'``, with the reason)."""

    rank: int | None = Field(default=None, description="1 = healthiest; set when the sweep is complete.")
    id: str = Field(description="Trial directory relative to the sweep root, or the Optuna trial number.")
    name: str | None = Field(default=None, description="The trial's own name, when it has one (MLflow run name).")
    path: str | None = Field(description="Where the trial's logs are (a local path or a remote URL).")
    status: Literal["ok", "error"]
    error: str | None = None
    state: str | None = Field(default=None, description="Optuna trial state (COMPLETE, PRUNED, FAIL, RUNNING).")
    objective: list[Number] | None = Field(default=None, description="Optuna objective value(s), as stored.")
    params: dict[str, ParamValue] = Field(default_factory=dict, description="Hyperparameters, nested keys dotted.")
    params_from: list[str] = Field(default_factory=list, description="Where the hyperparameters were read.")
    attrs: dict[str, ParamValue] = Field(
        default_factory=dict, description="Optuna user attributes (reported, not compared as hyperparameters)."
    )
    source: str | None = Field(default=None, description="Log format read, e.g. 'tensorboard'.")
    critical: int = Field(default=0, description="Issues of critical severity (correlate's grouping).")
    warnings: int = Field(default=0, description="Issues of warning severity.")
    top_issue: str | None = Field(default=None, description="Title of the first issue.")
    top_codes: list[str] = Field(default_factory=list, description="Finding codes of the top 3 issues, in order.")
    codes: dict[str, Severity] = Field(
        default_factory=dict,
        description="Every finding code at warning or critical severity (the failure modes), with its worst severity.",
    )
    best_val_loss: float | None = None
    best_val_step: int | None = None
    best_train_loss: float | None = None
    best_train_step: int | None = None
    final_train_loss: Number = None
    last_step: int | None = None
    read_warnings: list[str] = Field(default_factory=list, description="What could not be read in this trial.")
    seconds: float = Field(default=0.0, description="Time spent analysing this trial.")


class Split(Record):
    """The cut of one numeric hyperparameter that best separates trials with a mode from those without."""

    rule: str = Field(description="e.g. 'lr >= 0.3': the side where the mode is more common.")
    value: float
    other_side: float = Field(description="The nearest observed value on the other side of the cut.")
    inside: str = Field(description="Trials with the mode among those on the rule's side, e.g. '5/5'.")
    outside: str = Field(description="Trials with the mode among the others, e.g. '1/9'.")
    balanced_accuracy: float


class CategoryRate(Record):
    value: str
    with_mode: int
    trials: int
    rate: float


class ParamEffect(Record):
    """How one hyperparameter differs between trials with a failure mode and trials without it."""

    param: str
    kind: Literal["numeric", "categorical"]
    n_with: int = Field(description="Trials with the mode that have this parameter.")
    n_without: int
    median_with: float | None = None
    median_without: float | None = None
    effect_size: float | None = Field(
        default=None,
        description="Cliff's delta (rank-based, -1..1): +1 when every trial with the mode has a higher value "
        "than every trial without it, -1 when lower, 0 when they interleave.",
    )
    p_value: float | None = Field(
        default=None, description="Two-sided Mann-Whitney U p-value, uncorrected for the other comparisons."
    )
    split: Split | None = None
    rates: list[CategoryRate] = Field(default_factory=list, description="Categorical: the mode's rate per value.")
    verdict: str = Field(description="What the numbers support, in plain words, with n.")


class FailureMode(Record):
    code: str
    severity: Severity = Field(description="The worst severity it had in any trial.")
    trials: int = Field(description="Analysed trials where it was found.")
    of: int = Field(description="Analysed trials.")
    trial_ids: list[str] = Field(description="Which trials (first 50).")
    recurring: bool = Field(description="Found in two trials or more.")
    effects: list[ParamEffect] = Field(
        default_factory=list, description="Hyperparameters compared with vs without the mode, strongest first."
    )
    note: str | None = None


class SweepReport(Record):
    target: str
    kind: Literal["directory", "optuna"]
    study: str | None = None
    directions: list[str] = Field(default_factory=list, description="Optuna study directions.")
    backend: str = Field(description="How trials were analysed: 'serial', 'processes:N' or 'ray:ADDRESS'.")
    trials_total: int
    trials_ok: int
    trials_unreadable: int = Field(description="Trials that could not be analysed (rows with an error).")
    ranked_by: str = Field(description="The sort key of the ranking, in words.")
    trials: list[TrialRow]
    failure_modes: list[FailureMode]
    comparisons: int = Field(description="Hyperparameter comparisons made across all modes (for multiple testing).")
    warnings: list[str]
    truncated: bool = Field(default=False, description="True when more trials exist than were analysed.")
    seconds: float
