"""``hyperparameter_risk``: configured values outside the documented safe range for their optimizer and setting.

Each check names the setting as the run wrote it, its value and where it was read, the documented range and
its source (the table is ``rules/hyperparameter_risk/reference.md``). A risk alone is a note (``info``):
many runs succeed outside a default. ``correlate`` makes it a warning when the run shows the failure it
predicts (:func:`escalate`), and the optimizer causes of those failures weigh it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...findings import Evidence, Finding, make_finding
from ...rules.hyperparameter_risk.thresholds import (
    ADAM_MAX_LR,
    FINETUNE_MAX_LR,
    MUON_DEFAULT_LR,
    MUON_MAX_RATIO,
    NO_WARMUP_LR,
)
from .read import Config

LR_KEYS = ("learning_rate", "lr", "learning rate (lr)", "learning rate", "max_lr", "base_lr", "peak_lr")
OPTIMIZER_KEYS = ("optimizer", "optim", "optimizer_name", "optimizer_type", "opt", "optimizer.name",
                  "optimizer.type", "optimizer._target_", "optimizer.class_path")
MOMENTUM_KEYS = ("momentum", "optimizer.momentum", "sgd_momentum")
WEIGHT_DECAY_KEYS = ("weight_decay", "weight decay", "wd", "optimizer.weight_decay")
WARMUP_KEYS = ("warmup_iters", "warmup_steps", "warmup_ratio", "num_warmup_steps", "warmup", "lr_warmup_steps",
               "warmup_epochs", "warmup iterations", "warmup_updates", "lr_warmup_iters")
BATCH_KEYS = ("batch_size", "per_device_train_batch_size", "train_batch_size", "micro_batch_size",
              "micro batch size", "bs", "batch")
CLIP_KEYS = ("grad_clip", "max_grad_norm", "gradient_clip_val", "clip_grad_norm", "clip", "clip_grad",
             "gradient_clipping", "max_norm", "clip_norm", "grad_clip_norm")
MODEL_KEYS = ("model_type", "arch", "architecture", "architectures", "model", "model_name", "model_name_or_path",
              "_name_or_path", "base_model_name_or_path", "init_from", "cell_type", "rnn_type", "network", "net",
              "backbone", "encoder", "model_class", "model.name", "model._target_", "model.class_path")
PRETRAINED_KEYS = ("model_name_or_path", "_name_or_path", "base_model_name_or_path", "pretrained_model_name_or_path",
                   "init_from", "pretrained", "checkpoint", "base_model")
BATCHNORM_KEYS = ("batch_norm", "batchnorm", "use_bn", "use_batchnorm", "bn", "norm", "norm_layer",
                  "normalization", "norm_type")

TRANSFORMER_WORDS = ("transformer", "gpt", "bert", "t5", "llama", "roberta", "vit", "qwen", "mistral", "bart",
                     "bloom", "deberta", "electra", "xlm", "falcon", "phi", "gemma", "opt-", "mpt", "olmo", "pythia",
                     "deit", "swin", "whisper", "wav2vec", "mixtral", "distilbert", "albert")
RNN_WORDS = ("lstm", "gru", "rnn")
"""Model, cell or architecture names that make a run recurrent (for the clipping check)."""
TRANSFORMER_SHAPE_KEYS = (("n_layer", "n_head"), ("num_attention_heads", "num_hidden_layers"),
                          ("num_heads", "num_layers"), ("nhead", "num_encoder_layers"))
"""Pairs of settings only a transformer's configuration has (nanoGPT, Hugging Face, llm.c, torch.nn)."""


@dataclass(frozen=True)
class Setting:
    """One configured value: the key as the run wrote it, the value, and where it was read."""

    key: str
    value: Any
    source: str


@dataclass(frozen=True)
class Risk:
    """A check that fired: which kind (``adam_lr``, ``finetune_lr``...), on which setting, the documented range
    and its source, and the failures it predicts (codes whose appearance makes it a warning)."""

    kind: str
    setting: Setting
    title: str
    documented: str
    reference: str
    predicts: tuple[str, ...]
    fix: str


LR_FAILURES = ("divergence", "oscillation", "loss_spike", "nan_inf", "plateau")
"""What an LR far above its range causes: the loss climbs, swings, jumps or overflows, or (Adam's bounded steps
keeping the model at a trivial solution) it never leaves the level of the class prior."""


def _leaf(key: str) -> str:
    return key.lower().strip()


def _find(config: Config, names: tuple[str, ...]) -> Setting | None:
    """The first setting whose full key, or last dotted part, is one of ``names`` (in ``names`` order)."""
    by_full = {_leaf(k): k for k in config.values}
    by_last = {}
    for k in config.values:
        by_last.setdefault(_leaf(k).rsplit(".", 1)[-1], k)
    for name in names:
        key = by_full.get(name) or by_last.get(name)
        if key is not None:
            return Setting(key, config.values[key], config.sources[key])
    return None


def _number(setting: Setting | None) -> float | None:
    if setting is None or isinstance(setting.value, bool):
        return None
    if isinstance(setting.value, int | float):
        return float(setting.value)
    try:
        return float(str(setting.value))
    except ValueError:
        return None


def _text(config: Config, names: tuple[str, ...]) -> str:
    """The lower-case text of every setting among ``names`` (model names, optimizer names)."""
    parts = []
    for k, v in config.values.items():
        if _leaf(k) in names or _leaf(k).rsplit(".", 1)[-1] in names:
            parts.append(str(v).lower())
    return " ".join(parts)


def optimizer_of(config: Config) -> tuple[str | None, Setting | None]:
    """``adamw``, ``adam``, ``sgd``, ``muon`` or None, and the setting that says so."""
    setting = _find(config, OPTIMIZER_KEYS)
    text = str(setting.value).lower() if setting is not None else ""
    for name in ("adamw", "muon", "adam", "sgd"):
        if name in text:
            return name, setting
    return None, setting


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9\-]+", text) if w]


def is_transformer(config: Config) -> bool:
    text = _text(config, MODEL_KEYS)
    if any(w.startswith(TRANSFORMER_WORDS) or any(t in w for t in ("transformer", "gpt", "bert", "llama"))
           for w in _words(text)):
        return True
    keys = {_leaf(k).rsplit(".", 1)[-1] for k in config.values}
    return any(set(pair) <= keys for pair in TRANSFORMER_SHAPE_KEYS)


def is_rnn(config: Config) -> bool:
    text = _text(config, MODEL_KEYS)
    return any(w in RNN_WORDS or w.startswith(("lstm", "bilstm", "gru", "rnn")) for w in _words(text))


def is_finetune(config: Config) -> Setting | None:
    """The setting that names a pretrained model the run starts from (a hub id or ``init_from='gpt2'``)."""
    for name in PRETRAINED_KEYS:
        s = _find(config, (name,))
        if s is None or s.value in (None, False, "", "scratch", "resume", "none", "None"):
            continue
        if name == "pretrained" and s.value is not True:
            continue
        text = str(s.value).lower()
        if s.value is True or any(t in text for t in ("gpt", "bert", "t5", "llama", "roberta", "qwen", "mistral",
                                                       "bart", "vit", "deberta", "opt", "bloom", "phi", "gemma")):
            return s
    return None


def _risk(kind: str, setting: Setting, title: str, documented: str, reference: str,
          predicts: tuple[str, ...], fix: str) -> Risk:
    return Risk(kind, setting, title, documented, reference, predicts, fix)


def find_risks(config: Config) -> list[Risk]:
    """Every documented-range check the configuration fails."""
    risks: list[Risk] = []
    optimizer, opt_setting = optimizer_of(config)
    lr_setting = _find(config, LR_KEYS)
    lr = _number(lr_setting)
    transformer = is_transformer(config)
    pretrained = is_finetune(config)
    adam_like = optimizer in ("adam", "adamw") or (optimizer is None and transformer)
    if lr is not None and adam_like and lr > ADAM_MAX_LR:
        risks.append(_risk(
            "adam_lr", lr_setting, f"Adam/AdamW learning rate {lr:g} is above {ADAM_MAX_LR:g}",
            f"Adam/AdamW LR <= {ADAM_MAX_LR:g} (default 1e-3)",
            "Kingma & Ba 2015, Adam (alpha = 0.001); PyTorch torch.optim.Adam / AdamW docs (lr default 1e-3)",
            LR_FAILURES, f"set {lr_setting.key} to 1e-3 or below, then tune upward with a short LR range test"))
    if lr is not None and pretrained is not None and transformer and lr > FINETUNE_MAX_LR:
        risks.append(_risk(
            "finetune_lr", lr_setting,
            f"fine-tuning {pretrained.value} at learning rate {lr:g}, above {FINETUNE_MAX_LR:g}",
            f"fine-tuning LR <= {FINETUNE_MAX_LR:g} (BERT: 2e-5 to 5e-5; LoRA up to ~2e-4)",
            "Devlin et al. 2019, BERT, appendix A.3 (5e-5, 3e-5, 2e-5); Hugging Face TrainingArguments "
            "(learning_rate default 5e-5)",
            LR_FAILURES, f"set {lr_setting.key} to 5e-5 (2e-4 for LoRA adapters)"))
    if optimizer == "sgd" and transformer:
        momentum = _number(_find(config, MOMENTUM_KEYS))
        if not momentum:
            setting = _find(config, MOMENTUM_KEYS) or opt_setting
            risks.append(_risk(
                "sgd_transformer", setting, "plain SGD (no momentum) on a transformer",
                "Adam/AdamW for transformers; SGD at least with momentum 0.9",
                "Zhang et al. 2024, Why Transformers Need Adam: A Hessian Perspective; PyTorch torch.optim.SGD "
                "(momentum default 0)",
                ("plateau", "oscillation", "divergence"), "use AdamW (lr 3e-4 to 1e-3, betas 0.9/0.95)"))
    warmups = [w for w in (_find(config, (key,)) for key in WARMUP_KEYS) if w is not None]
    warmup_setting = warmups[0] if warmups else None
    no_warmup = bool(warmups) and all(_number(w) == 0 for w in warmups)  # HF: warmup_steps 0 and warmup_ratio 0
    if transformer and no_warmup and lr is not None and lr >= NO_WARMUP_LR:
        risks.append(_risk(
            "no_warmup", warmup_setting, f"no warmup for a transformer at learning rate {lr:g}",
            f"a warmup (a few hundred to a few thousand steps) at LR >= {NO_WARMUP_LR:g}",
            "Vaswani et al. 2017 (warmup_steps = 4000); Liu et al. 2020, On the Variance of the Adaptive Learning "
            "Rate and Beyond; Xiong et al. 2020, On Layer Normalization in the Transformer Architecture",
            ("loss_spike", "divergence", "nan_inf"), f"set {warmup_setting.key} to ~1-5 % of the run's steps"))
    wd = _number(_find(config, WEIGHT_DECAY_KEYS))
    if optimizer == "adam" and wd is not None and wd > 0:
        risks.append(_risk(
            "adam_weight_decay", _find(config, WEIGHT_DECAY_KEYS),
            f"weight_decay {wd:g} with plain Adam (an L2 penalty scaled by Adam's step), where AdamW was meant",
            "decoupled weight decay: AdamW(weight_decay=...), or Adam(decoupled_weight_decay=True)",
            "Loshchilov & Hutter 2019, Decoupled Weight Decay Regularization; PyTorch torch.optim.Adam docs "
            "(weight_decay is an L2 penalty) and torch.optim.AdamW",
            ("overfitting",), "use AdamW with the same weight_decay"))
    batch_setting = _find(config, BATCH_KEYS)
    batchnorm = _find(config, BATCHNORM_KEYS)
    uses_bn = batchnorm is not None and (batchnorm.value is True or "batch" in str(batchnorm.value).lower()
                                         or str(batchnorm.value).lower() == "bn")
    if uses_bn and _number(batch_setting) == 1:
        risks.append(_risk(
            "batchnorm_batch1", batch_setting, "batch size 1 with BatchNorm",
            "BatchNorm needs several samples per batch (>= 16 works well); else GroupNorm or LayerNorm",
            "Ioffe & Szegedy 2015, Batch Normalization; Wu & He 2018, Group Normalization (BN degrades at small "
            "batches); PyTorch BatchNorm raises 'Expected more than 1 value per channel when training'",
            ("oscillation", "nan_inf", "plateau"), "use GroupNorm or LayerNorm, or a batch of 16 or more"))
    clip_setting = _find(config, CLIP_KEYS)
    if is_rnn(config) and clip_setting is not None and clip_setting.value in (0, 0.0, None, False, "none", "None"):
        risks.append(_risk(
            "rnn_no_clip", clip_setting, "no gradient clipping on a recurrent network",
            "clip the gradient norm (0.25 to 5) for RNN/LSTM/GRU",
            "Pascanu, Mikolov & Bengio 2013, On the difficulty of training recurrent neural networks; PyTorch "
            "examples word_language_model (--clip 0.25)",
            ("exploding_gradients", "loss_spike", "nan_inf", "divergence"), f"set {clip_setting.key} to 1.0"))
    muon_setting = _find(config, ("muon_lr", "muon.lr", "matrix_lr"))
    if muon_setting is None and optimizer == "muon":
        muon_setting = lr_setting
    muon_lr = _number(muon_setting)
    if muon_lr is not None and muon_lr > MUON_MAX_RATIO * MUON_DEFAULT_LR:
        risks.append(_risk(
            "muon_lr", muon_setting,
            f"Muon learning rate {muon_lr:g} is {muon_lr / MUON_DEFAULT_LR:.3g}x its documented default "
            f"{MUON_DEFAULT_LR:g}",
            f"Muon LR <= {MUON_MAX_RATIO:g} x {MUON_DEFAULT_LR:g} (default 0.02, momentum 0.95)",
            "KellerJordan/Muon README (Muon(..., lr=0.02, momentum=0.95))",
            LR_FAILURES, f"set {muon_setting.key} to {MUON_DEFAULT_LR:g}"))
    return risks


def risk_finding(risk: Risk) -> Finding:
    s = risk.setting
    return make_finding(
        "hyperparameter_risk",
        "info",
        risk.title,
        f"{s.key} = {s.value} ({s.source}) is outside the documented safe range: {risk.documented} "
        f"(source: {risk.reference}). A risk, not a failure: it becomes a warning when the run shows "
        f"{', '.join(risk.predicts)}.",
        confidence=0.6,
        component=s.key,
        evidence=[Evidence(metric=s.key, value=_number(s), expected=risk.documented)],
        details={"kind": risk.kind, "setting": s.key, "value": s.value if _json_scalar(s.value) else str(s.value),
                 "source": s.source, "documented": risk.documented, "reference": risk.reference,
                 "predicts": list(risk.predicts), "fix": risk.fix},
    )


def _json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def escalate(findings: list[Finding]) -> list[Finding]:
    """``hyperparameter_risk`` notes whose predicted failure the run shows (at warning or worse) become warnings
    that name that failure."""
    shown: dict[str, Finding] = {}
    for f in findings:
        if f.code != "hyperparameter_risk" and f.severity != "info":
            shown.setdefault(f.code, f)
    out = []
    for f in findings:
        if f.code == "hyperparameter_risk" and f.severity == "info":
            seen = [shown[c] for c in f.details.get("predicts", []) if c in shown]
            if seen:
                first = min(seen, key=lambda g: g.step_start if g.step_start is not None else 1 << 62)
                at = f" from step {first.step_start}" if first.step_start is not None else ""
                f = f.model_copy(update={
                    "severity": "warning",
                    "confidence": 0.75,
                    "message": f"{f.message} The run shows it: {first.code.replace('_', ' ')}{at}.",
                    "details": {**f.details, "shown_by": first.code},
                })
        out.append(f)
    return out


def detect_hyperparameter_risk(config: Config) -> list[Finding]:
    """One ``info`` finding per configured value outside its documented range."""
    return [risk_finding(r) for r in find_risks(config)]
