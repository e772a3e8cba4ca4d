"""Gradient-norm analysis: per-component health, depth profile, clipping, spikes (``analyze_gradnorm``).

Modules: ``components`` (which series, grouping, layer order), ``stats`` (scale-free statistics),
``health`` (dead_component, gradient_imbalance), ``depth`` (exploding/vanishing, nan_inf),
``clipping`` (heavy_clipping), ``spikes`` (gradient_spike), ``correlation`` (loss vs norm),
``report`` (the report record and the orchestration), ``text`` (the ``--text`` rendering).
"""

from .models import ComponentStats, GradNormReport, NormStats


def __getattr__(name: str):
    # The analysis (numpy and the detectors) is imported on first use, not with the models.
    if name == "analyze_gradnorm":
        from .report import analyze_gradnorm

        return analyze_gradnorm
    raise AttributeError(name)


__all__ = ["ComponentStats", "GradNormReport", "NormStats", "analyze_gradnorm"]
