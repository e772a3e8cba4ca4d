"""Loss-curve critic: detectors over a loss series (one concern per module) and the ``analyze_loss`` report.

Modules: ``numeric`` (nan_inf, zero_loss, stuck_loss), ``spike`` (loss_spike), ``trend`` (divergence,
plateau), ``oscillation``, ``overfitting``, ``curriculum`` (curriculum_regression), ``schedule`` (what
the LR explains), ``robust`` (shared statistics), ``statistics`` and ``report`` (the result),
``diagnosis`` (causes and first fixes), ``analyze`` (orchestration).
"""

from __future__ import annotations

from .report import LossReport, LossStatistics

__all__ = ["LossReport", "LossStatistics", "analyze_loss"]


def __getattr__(name: str):
    # The detectors load on first use: the MCP server imports only the report model at startup.
    if name == "analyze_loss":
        from .analyze import analyze_loss

        return analyze_loss
    raise AttributeError(name)
