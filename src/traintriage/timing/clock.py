"""The run's step clock: seconds per step, from the wall times its logger stamped on each point.

TensorBoard stamps every scalar with the wall time of the ``add_scalar`` call, W&B JSONL with
``_timestamp``, some CSV loggers with a ``wall_time`` column. The clock is the series that carries the
most of them (the training loss when it does: it is logged on the training loop's own rhythm), and one
*interval* is the time between two consecutive logged points divided by the steps between them.

Intervals are what the detectors judge (:mod:`.walltime`): a wall time that goes backwards (a clock
reset, a file of a resumed run logged out of order) makes no interval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..signals import EARLIER_RUN_PREFIX, RunData, Series

MIN_CLOCK_POINTS = 8
"""A series with fewer wall-stamped points than this cannot give a step clock."""

_EVENT_FILE_TS = re.compile(r"\.tfevents\.(\d{9,11})(?:\.|$)")


@dataclass(frozen=True)
class StepClock:
    """Per-interval timing of one series: ``start``/``end`` steps, seconds ``dt``, and seconds per step."""

    series: str
    start: np.ndarray
    end: np.ndarray
    wall_start: np.ndarray
    dt: np.ndarray

    @property
    def steps(self) -> np.ndarray:
        """Steps per interval (at least 1)."""
        return np.maximum(self.end - self.start, 1)

    @property
    def per_step(self) -> np.ndarray:
        return self.dt / self.steps

    def __len__(self) -> int:
        return int(self.dt.size)

    @property
    def seconds(self) -> float:
        return float(self.dt.sum())


def _stamped(s: Series) -> int:
    return int(np.isfinite(s.wall_times).sum())


def clock_series(run: RunData) -> Series | None:
    """The series to clock the run by: the training loss when it carries wall times, else the series with
    the most wall-stamped points (an earlier run in the same file never)."""
    train = run.get(run.roles.train_loss)
    if train is not None and _stamped(train) >= MIN_CLOCK_POINTS:
        return train
    candidates = [s for name, s in run.series.items() if not name.startswith(EARLIER_RUN_PREFIX)]
    best = max(candidates, key=lambda s: (_stamped(s), s.name), default=None)
    return best if best is not None and _stamped(best) >= MIN_CLOCK_POINTS else None


def step_clock(series: Series) -> StepClock:
    """Intervals between consecutive wall-stamped points of ``series`` whose clock moved forward."""
    keep = np.isfinite(series.wall_times)
    steps, walls = series.steps[keep], series.wall_times[keep]
    dt = np.diff(walls)
    forward = dt >= 0
    return StepClock(
        series=series.name,
        start=steps[:-1][forward],
        end=steps[1:][forward],
        wall_start=walls[:-1][forward],
        dt=dt[forward],
    )


def process_starts(files: list[Path]) -> list[float]:
    """When each writer process started, from TensorBoard event-file names (``events.out.tfevents.<unix
    time>.<host>...``): a new file inside a gap means the job was restarted there."""
    out = []
    for f in files:
        match = _EVENT_FILE_TS.search(f.name)
        if match:
            out.append(float(match.group(1)))
    return sorted(out)
