"""Annotated plots of a run: the curves a person looks at first, with the triage drawn on them.

Panels on a shared step axis (see :mod:`.panels`): train/validation loss, LR, total gradient norm with
the clip threshold, per-component gradient norms, memory when logged. On top, the triage's issues as
step spans labelled ``#rank code`` (:mod:`.marks`), and the best validation step. Long series are
downsampled to a min/max envelope per pixel column (:mod:`.envelope`), so a plot of a million points is
fast and still shows every spike.

matplotlib is optional (the ``plot`` extra) and imported only here, only when a plot is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..record import Record

FORMATS = {".png": "png", ".svg": "svg"}
MIME = {"png": "image/png", "svg": "image/svg+xml"}


class PlotWritten(Record):
    """What ``traintriage plot`` prints: where the plot went and what it shows."""

    path: str
    format: str
    bytes: int
    summary: str


@dataclass(frozen=True)
class Plot:
    data: bytes
    fmt: str
    summary: str  # one short paragraph: what is drawn, the issues marked

    @property
    def mime_type(self) -> str:
        return MIME[self.fmt]


def format_for(path: str | Path) -> str:
    """'png' or 'svg' from an output file name, or a clear error."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(f"cannot tell the plot format from {str(path)!r}.", hint="name the file .png or .svg")
    return fmt


def plot_data(data, report=None, *, fmt: str = "png", dpi: int = 100, clip_threshold: float | None = None) -> Plot:
    """Draw a run already read (``RunData``) with a TriageReport's issues marked (``report`` may be None)."""
    from .marks import issue_marks
    from .panels import choose_panels
    from .render import render

    if fmt not in MIME:
        raise InputError(f"unknown plot format {fmt!r}.", hint="use png or svg")
    panels = choose_panels(data, clip_threshold)
    if not panels:
        raise InputError(
            f"nothing to plot in {data.path}: no series has a loss, LR, gradient-norm or memory role.",
            hint="check the roles with `traintriage inspect RUN`, and set them with --role ROLE=SERIES",
        )
    marks = issue_marks(report)
    n_issues = len(marks)
    counts = ", ".join(f"{n} {sev}" for sev in ("critical", "warning", "info")
                       if (n := sum(m.severity == sev for m in marks)))
    title = f"{Path(str(data.path)).name}: " + (
        f"{n_issues} issue{'s' if n_issues != 1 else ''} ({counts})" if report is not None and n_issues
        else "no issues found" if report is not None else "curves"
    )
    body, facts = render(panels, marks, title=title, subtitle=_shown_path(data.path), fmt=fmt, dpi=dpi)
    issues = "; ".join(m.label + _where(m) for m in marks) or "none"
    summary = (
        f"Plot of {data.path} ({fmt.upper()}, {len(body):,} bytes): panels {', '.join(facts['panels'])}. "
        f"Issues marked: {issues}. Smoothing: {facts['smoothing'] or 'none (raw values)'}."
    )
    return Plot(body, fmt, summary)


def plot_run(
    target,
    *,
    sandbox,
    trial: bool = False,
    roles=None,
    fmt: str = "png",
    dpi: int = 100,
    clip_threshold: float | None = None,
    report=None,
) -> Plot:
    """Read ``target`` inside ``sandbox`` (a :class:`~traintriage.sandbox.Sandbox`), triage it (remembered, so a
    report computed just before is reused) and draw it."""
    from .. import api
    from .backend import figure_class

    figure_class()  # a missing matplotlib is said before any reading
    data = api.load(target, sandbox=sandbox, trial=trial, roles=roles)
    if report is None:
        report = api.correlate(target, sandbox=sandbox, trial=trial, roles=roles, clip_threshold=clip_threshold)
    return plot_data(data, report, fmt=fmt, dpi=dpi, clip_threshold=clip_threshold)


def write_plot(path: str | Path, target, **kwargs) -> Plot:
    """``plot_run`` into a file whose suffix picks the format; the parent directory must exist."""
    out = Path(path).expanduser()
    plot = plot_run(target, fmt=format_for(out), **kwargs)
    if not out.parent.is_dir():
        raise InputError(f"cannot write {str(out)!r}: its directory does not exist.")
    out.write_bytes(plot.data)
    return plot


def _shown_path(path) -> str:
    """The run's path, relative to the working directory when under it (shorter, and no home directory
    in a plot that gets shared)."""
    try:
        return str(Path(str(path)).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _where(m) -> str:
    if m.start is None:
        return ""
    return f" @ {m.start}" + (f"-{m.end}" if m.end not in (None, m.start) else "")
