"""What a target resolves to and what it holds: the first thing to check when a diagnosis looks wrong.

``describe_run`` reads a run and summarises every series with its role, without analysing anything,
so a person or an agent can see whether the right run, the right files and the right roles were used.
"""

from __future__ import annotations

from .findings import json_number
from .record import Field, Record
from .signals import RunData, RunInfo


class SeriesSummary(Record):
    name: str
    role: str | None
    points: int
    first_step: int | None
    last_step: int | None
    first: float | str | None = Field(description="First value logged.")
    last: float | str | None = Field(description="Last value logged.")
    min: float | str | None = Field(description="Smallest finite value.")
    max: float | str | None = Field(description="Largest finite value.")
    non_finite: int = Field(description="How many values are NaN or Inf.")


class RunDescription(Record):
    """A run as read: resolution, files, roles and a one-line summary of every series."""

    run: RunInfo
    warnings: list[str]
    series: list[SeriesSummary]


def summarize(data: RunData) -> RunDescription:
    import numpy as np  # here, not at module top: the server imports this module's models at start-up

    summaries = []
    for name, s in sorted(data.series.items()):
        finite = s.values[np.isfinite(s.values)]
        summaries.append(
            SeriesSummary(
                name=name,
                role=data.roles.role_of(name),
                points=len(s),
                first_step=int(s.steps[0]) if len(s) else None,
                last_step=int(s.steps[-1]) if len(s) else None,
                first=json_number(s.values[0]) if len(s) else None,
                last=json_number(s.values[-1]) if len(s) else None,
                min=json_number(finite.min()) if finite.size else None,
                max=json_number(finite.max()) if finite.size else None,
                non_finite=int(s.values.size - finite.size),
            )
        )
    return RunDescription(run=data.info(), warnings=data.warnings, series=summaries)
