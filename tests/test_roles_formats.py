"""Role inference on the series names the non-TensorBoard readers produce (the keys users logged)."""

from __future__ import annotations

from traintriage.signals import infer_roles


def test_test_loss_sorts_after_validation_losses():
    # PyTorch examples log "valid loss" per epoch and "test loss" once at the end: the first
    # validation loss an analysis looks at must be the per-epoch one.
    roles = infer_roles(["loss", "lr", "test_loss", "valid_loss", "ppl"])
    assert roles.val_loss == ["valid_loss", "test_loss"]
    assert infer_roles(["loss", "eval/loss", "test/loss"]).val_loss == ["eval/loss", "test/loss"]


def test_hf_trainer_keys():
    roles = infer_roles(
        [
            "loss",
            "grad_norm",
            "learning_rate",
            "epoch",
            "eval_loss",
            "eval_runtime",
            "eval_samples_per_second",
            "max_grad_norm",
        ]
    )
    assert (roles.train_loss, roles.val_loss, roles.lr) == ("loss", ["eval_loss"], "learning_rate")
    assert (roles.grad_total, roles.clip_threshold, roles.epoch) == ("grad_norm", "max_grad_norm", "epoch")


def test_lightning_and_keras_csv_keys():
    roles = infer_roles(["epoch", "lr-AdamW", "train_loss_epoch", "train_loss_step", "val_acc", "val_loss"])
    assert (roles.train_loss, roles.val_loss, roles.lr) == ("train_loss_step", ["val_loss"], "lr-AdamW")
    roles = infer_roles(["accuracy", "learning_rate", "loss", "val_accuracy", "val_loss"])
    assert (roles.train_loss, roles.val_loss, roles.lr) == ("loss", ["val_loss"], "learning_rate")
