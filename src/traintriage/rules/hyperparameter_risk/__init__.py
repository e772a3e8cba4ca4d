"""``hyperparameter_risk``: a configured hyperparameter outside the documented safe range for its optimizer
and setting.

Detector: :func:`traintriage.detectors.config.risks.detect_hyperparameter_risk` over the configuration
:func:`traintriage.detectors.config.read.read_config` finds (thresholds in ``thresholds.py``, the table of
ranges and sources in ``reference.md``). A risk alone is ``info``; ``correlate`` makes it a warning when the
run shows the failure it predicts, and the optimizer causes of those failures weigh it
(:data:`traintriage.rules.common.CONFIGURED_RISK`).
"""

from __future__ import annotations

from ..base import Cause, Diagnosis, Rule, Signal, Step


def _shown(s) -> str | None:
    shown = s.anchor.details.get("shown_by")
    return f"the run shows the predicted {shown.replace('_', ' ')}" if shown else None


OUT_OF_RANGE = Cause(
    "optimizer",
    lambda s, fired: (
        f"{s.anchor.details.get('setting')} = {s.anchor.details.get('value')} "
        f"({s.anchor.details.get('source')}) is outside the documented range ({s.anchor.details.get('documented')}; "
        f"{s.anchor.details.get('reference')}), and the run shows the failure that predicts."
    ),
    (
        Signal(
            "predicted_failure_shown",
            0.6,
            "A value outside its documented range together with the failure it is known to cause is a likely "
            "explanation; not certain, because the run may fail for another reason with the value in range.",
            _shown,
        ),
    ),
)


def config_step(details: dict) -> Step:
    """The change a risk finding asks for: the configured value, the documented range and its source."""
    return Step(
        f"{details.get('fix')}: {details.get('setting')} = {details.get('value')} (configured in "
        f"{details.get('source')}) is outside the documented range {details.get('documented')} "
        f"({details.get('reference')})",
        "the run trains inside the range its optimizer is documented for",
        "low",
        str(details.get("setting")),
        f"inside {details.get('documented')}; none of {', '.join(details.get('predicts', []))} on the next run",
    )


RULE = Rule(
    code="hyperparameter_risk",
    meaning="a configured hyperparameter outside the documented safe range for its optimizer and setting",
    area="config",
    default_severity="info",
    anchor_rank=185,
    detectors=("traintriage.detectors.config.risks:detect_hyperparameter_risk",),
    causes=(OUT_OF_RANGE,),
    plan=lambda s: [config_step(s.anchor.details)],
    diagnosis=Diagnosis(
        causes=(
            "a learning rate copied from another optimizer or setting (an SGD LR given to Adam, a pretraining LR "
            "used to fine-tune)",
            "a default that does not fit the model (no warmup for a transformer, no clipping for an RNN)",
            "plain Adam with weight decay where AdamW was meant",
        ),
        first_fix="Bring the value inside the documented range in the finding (its source is cited), then rerun "
        "a short stretch to compare.",
    ),
)
