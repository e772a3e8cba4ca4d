"""Detectors over the metrics a run logs besides its losses and gradients (entropy, prediction spread,
accuracy): see :mod:`.collapse`."""

from .collapse import detect_metric_collapse

__all__ = ["detect_metric_collapse"]
