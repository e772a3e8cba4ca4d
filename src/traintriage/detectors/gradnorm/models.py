"""The gradient-norm report's records, apart from the analysis code.

The MCP server imports these at start-up for the tool's output schema; keeping them free of numpy
(and of the detectors) keeps ``initialize`` fast. The analysis modules import them from here.
"""

from __future__ import annotations

from ...findings import Finding
from ...record import Field, Record
from ...signals import RunInfo


class ClippingStats(Record):
    """How often and how hard gradient clipping acted."""

    method: str = Field(description="'pre_post' (both norms logged) or 'threshold' (norm vs a clip threshold).")
    pre_series: str
    post_series: str | None = None
    threshold: float | str | None = Field(description="Clip threshold given, logged, or estimated.")
    threshold_source: str = Field(description="'argument', 'logged' (series name) or 'estimated'.")
    steps: int = Field(description="Steps compared.")
    clipped_steps: int
    clipped_percent: float
    factor_median: float | str | None = Field(description="Median pre/threshold on clipped steps.")
    factor_p95: float | str | None
    factor_max: float | str | None
    first_clipped_step: int | None


class LagCorrelation(Record):
    lag: int = Field(description="Norm at point t vs loss at point t+lag (positive: norm leads).")
    spearman: float | None
    spearman_detrended: float | None


class LossCorrelation(Record):
    loss_series: str
    norm_series: str
    alignment: str = Field(description="'intersect' (shared steps) or 'interpolated' (loss onto norm steps).")
    points: int
    spearman: float | None = Field(description="Spearman(loss, log10 norm) at lag 0.")
    spearman_detrended: float | None = Field(description="Same on deviations from a rolling median.")
    best_lag: int | None = Field(description="Lag with the largest |detrended correlation|.")
    by_lag: list[LagCorrelation]


class RegimeShift(Record):
    step: int
    before: float | str | None = Field(description="Median norm in the window before.")
    after: float | str | None = Field(description="Median norm in the window after.")


class NormStats(Record):
    """Statistics of one gradient-norm series (a component, or the total)."""

    name: str
    series: list[str] = Field(description="Series it was read from (several when parameters were grouped).")
    points: int
    first_step: int | None
    last_step: int | None
    median: float | str | None
    p95: float | str | None
    min: float | str | None
    max: float | str | None
    non_finite: int
    dead_percent: float = Field(description="% of steps with a zero (or negligible) norm.")
    spikes: int = Field(description="Spike events (see gradient_spike).")
    volatility: float | None = Field(description="MAD of step-to-step change of log10 norm (decades).")
    log_slope_per_1k_steps: float | None = Field(description="Least-squares slope of log10 norm per 1000 steps.")
    growth_decades: float | None = Field(description="log10(median of last 10%) - log10(median of first 25%).")
    regime_shifts: list[RegimeShift] = Field(default_factory=list)
    effective_update_median: float | str | None = Field(None, description="Median of norm x learning rate.")
    effective_update_p95: float | str | None = None


class ComponentStats(NormStats):
    share_median: float | None = Field(description="Median over steps of c_i^2 / sum_j c_j^2 (aligned by step).")
    share_early: float | None = Field(description="Median share over the first quarter of the run.")
    share_late: float | None = Field(description="Median share over the last quarter of the run.")
    log10_ratio_to_siblings: float | None = Field(description="Median log10(norm / typical norm of the group).")
    layer_index: int | None = Field(None, description="Position in its layer stack (0 = nearest the input).")
    status: str = Field(
        description="'ok', 'dead', 'starved', 'dominant', 'vanishing' / 'exploding' (front layers of a flagged "
        "stack), 'non_finite'."
    )


class LayerStack(Record):
    layers: list[str]
    front_minus_back_decades: float
    spearman_rho: float
    per_layer_median: list[float | str | None]


class GradNormReport(Record):
    """Gradient health of a run: components, total, clipping, loss correlation, and findings."""

    run: RunInfo
    warnings: list[str]
    findings: list[Finding]
    components: list[ComponentStats]
    total: NormStats | None = Field(description="The total norm (pre-clip when logged; derived when not logged).")
    clipping: ClippingStats | None
    loss_correlation: LossCorrelation | None
    layer_stacks: list[LayerStack] = Field(default_factory=list)
