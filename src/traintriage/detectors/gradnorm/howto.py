"""How to log gradient norms, shown when a run has none (and repeated in the reference pages)."""

HOW_TO_LOG = """\
Log the total gradient norm and one norm per component (a top-level module, a branch, a layer):

PyTorch (after loss.backward(), before optimizer.step()):
    total = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)   # returns the PRE-clip norm
    writer.add_scalar("GradNorm/Total_PreClip", total, step)
    for name, module in model.named_children():
        grads = [p.grad.norm() for p in module.parameters() if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack(grads)) if grads else torch.tensor(0.0)
        writer.add_scalar(f"gradnorm/{name}", norm, step)

Hugging Face Trainer: recent versions log `grad_norm` (pre-clip, every `logging_steps`) by default:
    TrainingArguments(..., logging_steps=10, report_to="tensorboard", max_grad_norm=1.0)

PyTorch Lightning (per-parameter norms, grouped by traintriage into modules):
    from lightning.pytorch.utilities import grad_norm
    def on_before_optimizer_step(self, optimizer):
        self.log_dict(grad_norm(self, norm_type=2))
"""
