"""Thresholds of ``hyperparameter_risk`` (stated in ``reference.md``, checked by ``tests/test_rules.py``).

Each is the edge of a documented safe range; ``reference.md`` holds the table with the sources.
"""

ADAM_MAX_LR = 1e-2
"""Adam/AdamW above this LR is ten times the default of the paper and of PyTorch (``lr=1e-3``): Adam's step is
about the LR in every coordinate, so 1e-2 already moves each weight by 1 % of a unit-scale value per step."""

FINETUNE_MAX_LR = 1e-3
"""Fine-tuning a pretrained transformer above this LR is 20x the top of BERT's recommended range (2e-5 to
5e-5) and of the Hugging Face Trainer's default (5e-5): it erases what pretraining learned (LoRA adapters,
trained from zero, use up to 2e-4 to 1e-3, so the edge is set there)."""

NO_WARMUP_LR = 5e-4
"""A transformer trained from its first step at or above this LR with no warmup: Adam's early second-moment
estimates are noisy and post-LN transformers diverge without a ramp (GPT-2 small's 6e-4 and GPT-3's peaks were
reached through a warmup)."""

MUON_DEFAULT_LR = 0.02
"""Muon's documented default LR (the reference implementation's README: ``lr=0.02``, momentum 0.95)."""

MUON_MAX_RATIO = 2.0
"""A Muon LR more than twice its documented default: Muon's orthogonalised update has a fixed size, so the
LR sets each step's size directly and there is no adaptive shrinking to absorb a larger one."""
