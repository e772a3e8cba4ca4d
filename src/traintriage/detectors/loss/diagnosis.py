"""``--diagnose``: likely causes and the first fix for each finding, read from its evidence.

Causes are ordered by how often they are the answer in practice; the first fix is the cheapest
change that tests the first cause. The full discussion lives in the reference pages
(``traintriage explain CODE``).
"""

from __future__ import annotations

from ...findings import Finding

_CAUSES: dict[str, tuple[list[str], str]] = {
    "nan_inf": (
        [
            "learning rate too high (the loss grew before it became non-finite)",
            "fp16 overflow without a loss scaler, or log/sqrt/division of zero in the loss",
            "bad input: NaN/Inf in a batch, or labels out of range",
        ],
        "Lower the peak LR 3-10x and add gradient clipping (torch.nn.utils.clip_grad_norm_(params, 1.0)); "
        "check the batch at the first non-finite step with torch.isfinite.",
    ),
    "loss_spike": (
        [
            "a learning-rate change (bump, restart, resumed scheduler) too large for the current curvature",
            "a bad or mislabelled batch (outliers, a corrupted shard)",
            "Adam second-moment estimate too small for a rare large gradient (eps / beta2 too low)",
        ],
        "Add gradient clipping (max_norm ~1.0) and find the batch logged at the spike step; if the LR changed "
        "there, ramp it instead of jumping.",
    ),
    "divergence": (
        [
            "learning rate too high for this stage of training (or an LR schedule that keeps growing)",
            "no or too loose gradient clipping",
            "numerical instability (fp16 without loss scaling, exploding activations)",
        ],
        "Lower the LR 3-10x from the turn step on (or fix the schedule), and resume from the checkpoint before "
        "the turn.",
    ),
    "plateau": (
        [
            "learning rate far too low (a typo, or decayed too early)",
            "labels carry no signal (shuffled, mis-joined) when the loss sits at chance level",
            "model or features cannot fit the task (too small, frozen, saturated activations)",
        ],
        "Run a short LR range test (10x steps of the LR) and check that a batch of 32 examples can be "
        "overfitted to ~0 loss; if it cannot, check labels and the data pipeline.",
    ),
    "stuck_loss": (
        [
            "learning rate is exactly 0 (scheduler total_steps too small, or warmup never started)",
            "optimizer.step() not called, or parameters frozen (requires_grad=False, not in the optimizer)",
            "the logger writes a stale value (loss.item() of an old tensor)",
        ],
        "Log the LR and the parameter update norm at the stuck steps; fix the scheduler length "
        "(num_training_steps) or the optimizer's param groups.",
    ),
    "oscillation": (
        [
            "learning rate too high for the curvature (alternating sign)",
            "momentum too high (slow waves), e.g. SGD momentum 0.99 or Adam beta1 close to 1",
            "a very small batch combined with a high LR",
        ],
        "Halve the LR (or lower momentum to 0.9) and compare 200 steps.",
    ),
    "overfitting": (
        [
            "too many epochs for the data size (memorization)",
            "too little regularization (weight decay, dropout, augmentation)",
            "a validation set drawn from a different distribution than training",
        ],
        "Keep the checkpoint at the best validation step (early stopping, patience of a few evaluations) and "
        "add weight decay / augmentation.",
    ),
    "zero_loss": (
        [
            "target leaked into the inputs (a feature derived from the label, or future data)",
            "the loss is masked out or reduced wrongly (all positions ignored, sum over an empty tensor)",
            "evaluation on the training set, or duplicated train/val examples",
        ],
        "Shuffle the labels and train 100 steps: if the loss still goes to ~0, the inputs carry the label.",
    ),
    "curriculum_regression": (
        [
            "the new stage's data differs too much from the previous stage (distribution jump)",
            "the LR schedule restarts or stays too high at the transition",
            "the stage change resets state (optimizer state, normalization statistics)",
        ],
        "Blend the stages (mix 10-30 % of the previous stage's data into the new one) and lower the LR at the "
        "transition.",
    ),
}


def annotate(finding: Finding) -> Finding:
    """Add ``details['causes']`` and ``details['first_fix']``, specialised by the finding's evidence."""
    causes, fix = _CAUSES.get(finding.code, ([], ""))
    causes = list(causes)
    d = finding.details
    if finding.code == "loss_spike" and d.get("lr_change"):
        ch = d["lr_change"]
        causes.insert(0, f"the LR change at step {ch['step']} ({ch['before']:.3g} -> {ch['after']:.3g})")
        fix = (
            f"Remove or ramp the LR change at step {ch['step']} (keep the LR near {ch['before']:.3g}, or warm up to "
            "the new value over a few hundred steps); add clipping."
        )
    if finding.code == "divergence" and d.get("lr_ratio"):
        causes.insert(0, f"the LR rose {d['lr_ratio']:.3g}x while the loss climbed: the schedule keeps raising it")
        fix = "Cap the LR at its value at the turn step (or fix the schedule), and resume from before the turn."
    if finding.code == "plateau" and d.get("chance_classes"):
        c = d["chance_classes"]
        causes.insert(0, f"the model predicts the class prior ({c} classes): labels carry no signal about inputs")
        fix = "Check that inputs and labels stay paired (one shuffle for both) and that labels are not constant."
    if finding.code == "overfitting" and d.get("best_step") is not None:
        fix = (
            f"Restore the checkpoint nearest step {d['best_step']} (best validation) and stop there; "
            + fix[0].lower()
            + fix[1:]
        )
    finding.details = {**d, "causes": causes, "first_fix": fix}
    return finding
