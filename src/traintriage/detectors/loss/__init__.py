"""Loss-curve critic: detectors over a loss series (one concern per module) and the ``analyze_loss`` report.

Modules: ``numeric`` (nan_inf, zero_loss, stuck_loss), ``spike`` (loss_spike), ``trend`` (divergence,
plateau), ``oscillation``, ``overfitting``, ``curriculum`` (curriculum_regression), ``schedule`` (what
the LR explains), ``robust`` (shared statistics), ``statistics`` and ``report`` (the result),
``diagnosis`` (causes and first fixes), ``analyze`` (orchestration).
"""

from __future__ import annotations

from .analyze import analyze_loss
from .report import LossReport, LossStatistics

__all__ = ["LossReport", "LossStatistics", "analyze_loss"]
