"""Role inference over the tag conventions users have, and user overrides."""

from __future__ import annotations

import pytest

from traintriage.errors import InputError
from traintriage.signals import infer_roles, parse_role_overrides


def test_plain_summarywriter() -> None:
    roles = infer_roles(["Loss/train", "loss/val", "gradnorm/Encoder", "gradnorm/Decoder", "lr"])
    assert roles.train_loss == "Loss/train"
    assert roles.val_loss == ["loss/val"]
    assert roles.lr == "lr"
    assert roles.grad_components == {"Encoder": "gradnorm/Encoder", "Decoder": "gradnorm/Decoder"}


def test_hf_trainer() -> None:
    roles = infer_roles(["train/loss", "train/grad_norm", "train/learning_rate", "eval/loss", "train/epoch"])
    assert (roles.train_loss, roles.grad_total, roles.lr) == ("train/loss", "train/grad_norm", "train/learning_rate")
    assert roles.val_loss == ["eval/loss"]
    assert roles.epoch == "train/epoch"


def test_lightning() -> None:
    roles = infer_roles(
        ["train_loss_step", "train_loss_epoch", "val_loss", "lr-AdamW", "grad_2.0_norm/encoder.0.weight",
         "grad_2.0_norm_total", "epoch"]
    )
    assert roles.train_loss == "train_loss_step"  # per-step beats the epoch aggregate
    assert roles.val_loss == ["val_loss"]
    assert roles.lr == "lr-AdamW"
    assert roles.grad_total == "grad_2.0_norm_total"
    assert "encoder.0.weight" in roles.grad_components


def test_keras_layout() -> None:
    roles = infer_roles(["train/epoch_loss", "validation/epoch_loss", "train/epoch_learning_rate"])
    assert roles.train_loss == "train/epoch_loss"
    assert roles.val_loss == ["validation/epoch_loss"]
    assert roles.lr == "train/epoch_learning_rate"


def test_epiforecaster() -> None:
    roles = infer_roles(
        ["Loss/Train_step", "Loss/Val", "Learning_Rate/step", "GradNorm/Total_PreClip", "GradNorm/Clipped_Total",
         "GradNorm/MobilityGNN", "GradNorm/Encoder"]
    )
    assert roles.train_loss == "Loss/Train_step"
    assert roles.lr == "Learning_Rate/step"
    assert roles.grad_preclip == "GradNorm/Total_PreClip"
    assert roles.grad_postclip == "GradNorm/Clipped_Total"
    assert set(roles.grad_components) == {"MobilityGNN", "Encoder"}


def test_several_validation_sets_and_memory_and_stage() -> None:
    roles = infer_roles(["loss", "eval_squad_loss", "eval_mnli_loss", "memory/allocated", "curriculum/stage"])
    assert roles.train_loss == "loss"
    assert set(roles.val_loss) == {"eval_squad_loss", "eval_mnli_loss"}
    assert roles.memory == ["memory/allocated"]
    assert roles.stage == "curriculum/stage"


def test_override_wins_and_unknown_series_lists_what_exists() -> None:
    roles = infer_roles(["loss/total", "loss/recon"], parse_role_overrides(["train_loss=loss/recon"]))
    assert roles.train_loss == "loss/recon"
    with pytest.raises(InputError) as err:
        infer_roles(["loss/total"], {"train_loss": "nope"})
    assert "loss/total" in (err.value.hint or "")
    with pytest.raises(InputError):
        infer_roles(["loss/total"], {"bogus_role": "loss/total"})
    with pytest.raises(InputError):
        parse_role_overrides(["train_loss"])


def test_loss_scale_is_not_a_loss() -> None:
    roles = infer_roles(["train/loss", "amp/loss_scale"])
    assert roles.train_loss == "train/loss"
