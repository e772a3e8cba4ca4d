"""Which panels a run's plot has, chosen from the roles of its series (no matplotlib here).

One panel per question a person asks of a run, top to bottom, on a shared step axis: is the loss
going down (train and validation), what was the LR doing, how large were the gradients (total, with
the clip threshold), which component got them, and did memory grow. A panel whose series were not
logged is left out rather than drawn empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..signals import RunData, Series

MAX_COMPONENTS = 8
"""Components drawn in the per-component panel (the largest and smallest by median norm first)."""


@dataclass
class Line:
    series: Series
    label: str
    kind: str = "line"  # "line", "smoothed" (raw drawn light, plus a moving mean) or "points"


@dataclass
class Panel:
    key: str
    title: str
    lines: list[Line] = field(default_factory=list)
    hline: tuple[float, str] | None = None  # a threshold drawn across (value, label)
    scale: float = 1.0  # values are divided by this before drawing (bytes -> GiB)
    unit: str = ""


def choose_panels(data: RunData, clip_threshold: float | None = None) -> list[Panel]:
    """The panels for ``data``, in reading order; ``clip_threshold`` when it is known but not logged."""
    roles = data.roles
    panels: list[Panel] = []

    loss = Panel("loss", "loss")
    train = data.get(roles.train_loss)
    if train is not None and len(train):
        loss.lines.append(Line(train, f"train ({train.name})", "smoothed"))
    for name in roles.val_loss:
        s = data.get(name)
        if s is not None and len(s):
            loss.lines.append(Line(s, f"val ({name})", "points"))
    if loss.lines:
        panels.append(loss)

    lr = data.get(roles.lr)
    if lr is not None and len(lr):
        panels.append(Panel("lr", "learning rate", [Line(lr, lr.name)]))

    grad = Panel("grad_total", "total grad norm")
    for role, label in (("grad_preclip", "pre-clip"), ("grad_total", "total"), ("grad_postclip", "post-clip")):
        s = data.get(getattr(roles, role))
        if s is not None and len(s) and all(line.series is not s for line in grad.lines):
            grad.lines.append(Line(s, f"{label} ({s.name})"))
    threshold = _clip_value(data, clip_threshold)
    if threshold is not None:
        grad.hline = (threshold, f"clip threshold {threshold:.3g}")
    if grad.lines:
        panels.append(grad)

    comps = _components(data)
    if comps:
        total = len(data.roles.grad_components)
        shown = "" if len(comps) == total else f" ({len(comps)} of {total}: largest and smallest median)"
        panels.append(Panel("grad_components", "grad norm per component" + shown, comps))

    mem = [data.get(n) for n in roles.memory]
    mem = [s for s in mem if s is not None and len(s)]
    if mem:
        peak = max(float(abs(s.values[s.values == s.values]).max(initial=0.0)) for s in mem)
        scale, unit = (2.0**30, "GiB") if peak > 1e6 else (1.0, "")
        panels.append(Panel("memory", "memory" + (f" ({unit})" if unit else ""),
                            [Line(s, s.name) for s in mem], scale=scale, unit=unit))
    return panels


def _clip_value(data: RunData, given: float | None) -> float | None:
    if given is not None:
        return float(given)
    s = data.get(data.roles.clip_threshold)
    if s is None or not len(s):
        return None
    import numpy as np

    finite = s.values[np.isfinite(s.values)]
    return float(np.median(finite)) if len(finite) else None


def _components(data: RunData) -> list[Line]:
    """Per-component norms; with many components, the extremes (what a finding is about) are kept."""
    import numpy as np

    lines = []
    for comp, name in data.roles.grad_components.items():
        s = data.get(name)
        if s is not None and len(s):
            finite = s.values[np.isfinite(s.values)]
            lines.append((float(np.median(finite)) if len(finite) else 0.0, Line(s, comp)))
    lines.sort(key=lambda t: -t[0])
    if len(lines) > MAX_COMPONENTS:
        half = MAX_COMPONENTS // 2
        lines = lines[:half] + lines[-half:]
    return [line for _, line in lines]
