"""Detectors over a run's configuration (the files beside its logs, the headers its text logs print): see
:mod:`.read` and :mod:`.risks`."""

from .read import Config, read_config
from .risks import detect_hyperparameter_risk, escalate

__all__ = ["Config", "detect_hyperparameter_risk", "escalate", "read_config"]
