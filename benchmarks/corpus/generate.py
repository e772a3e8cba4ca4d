"""Generate the labelled corpus: small, real PyTorch training runs on the CPU, each with ONE known fault.

Why: a diagnosis tool is only as good as its record on runs whose truth is known. Curves drawn by hand
test a detector against its author's imagination; these runs are real training (seeded, deterministic
data and init, one thread), and the fault is injected through the mechanism users actually hit: a bad
learning rate or schedule, broken labels, a detached branch, saturating activations, a clip threshold
set far too low, a curriculum stage the schedule cannot absorb, a leak that keeps autograd graphs alive.

Usage (torch lives in its own venv; the main package does not need it)::

    .venv-torch/bin/python benchmarks/corpus/generate.py              # every case
    .venv-torch/bin/python benchmarks/corpus/generate.py --case NAME  # one case
    .venv-torch/bin/python benchmarks/corpus/generate.py --list
    .venv-torch/bin/python benchmarks/corpus/generate.py --demo       # src/traintriage/examples/demo_run

Every case writes ``runs/<case>/`` (TensorBoard event files) and a one-line summary of what it logged,
so the labels can be checked against the numbers. ``labels.json`` is rewritten from ``CASES`` each time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

HERE = Path(__file__).resolve().parent
RUNS = HERE / "runs"
LABELS = HERE / "labels.json"
DEMO_DIR = HERE.parents[1] / "src" / "traintriage" / "examples" / "demo_run"

# Every warning-or-critical code a log can show; a healthy run must report none of them.
LOGGABLE_CODES = (
    "nan_inf", "divergence", "loss_spike", "plateau", "stuck_loss", "oscillation", "overfitting",
    "zero_loss", "exploding_gradients", "vanishing_gradients", "dead_component", "gradient_imbalance",
    "heavy_clipping", "gradient_spike", "curriculum_regression", "memory_leak", "memory_pressure",
    "slow_steps", "stall", "mixed_precision_overflow",
)

# Tag conventions seen in the wild. ``{}`` is the component name.
STYLES: dict[str, dict[str, str | None]] = {
    # plain SummaryWriter code, as in the PyTorch tutorials
    "plain": {"loss": "Loss/train", "val": "Loss/val", "lr": "LR", "grad_total": "gradnorm/total",
              "grad_comp": "gradnorm/{}", "preclip": None, "postclip": None},
    # Hugging Face Trainer (report_to="tensorboard")
    "hf": {"loss": "train/loss", "val": "eval/loss", "lr": "train/learning_rate",
           "grad_total": "train/grad_norm", "grad_comp": None, "preclip": None, "postclip": None},
    # PyTorch Lightning: self.log(..., on_step=True) + LearningRateMonitor + grad_norm(self, 2)
    "lightning": {"loss": "train_loss_step", "val": "val_loss", "lr": "lr-AdamW",
                  "grad_total": "grad_2.0_norm_total", "grad_comp": "grad_2.0_norm/{}",
                  "preclip": None, "postclip": None},
    # EpiForecaster: clip_grad_norm_ return value logged before and after clipping, per component
    "epi": {"loss": "Loss/Train_step", "val": "Loss/Val", "lr": "Learning_Rate/step",
            "grad_total": None, "grad_comp": "GradNorm/{}",
            "preclip": "GradNorm/Total_PreClip", "postclip": "GradNorm/Clipped_Total"},
}


# ----------------------------------------------------------------------------------------------
# Logging
# ----------------------------------------------------------------------------------------------


class Log:
    """A SummaryWriter that speaks one tag convention and remembers what it wrote (for the summary).

    ``new_style=True`` writes tensor-encoded scalars (what TF2 and Keras write) instead of
    ``simple_value`` ones, so readers are exercised on both encodings.
    """

    def __init__(self, run_dir: Path, style: str = "plain", new_style: bool = False, purge: bool = True):
        if purge and run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        self.dir = run_dir
        self.tags = STYLES[style]
        self.new_style = new_style
        self.writer = SummaryWriter(str(run_dir), flush_secs=600)
        self.record: dict[str, list[tuple[int, float]]] = {}

    def scalar(self, tag: str, value: float, step: int) -> None:
        value = float(value)
        self.writer.add_scalar(tag, value, step, new_style=self.new_style)
        self.record.setdefault(tag, []).append((step, value))

    def _role(self, role: str, value: float | None, step: int) -> None:
        tag = self.tags.get(role)
        if tag and value is not None:
            self.scalar(tag, value, step)

    def step(self, step: int, loss: float, lr: float | None = None, total: float | None = None,
             comps: dict[str, float] | None = None, postclip: float | None = None) -> None:
        """Log one optimizer step: loss, LR, gradient norms (total goes to pre-clip in the epi style)."""
        self._role("loss", loss, step)
        self._role("lr", lr, step)
        if self.tags["preclip"]:
            self._role("preclip", total, step)
            self._role("postclip", postclip, step)
        else:
            self._role("grad_total", total, step)
        if comps and self.tags["grad_comp"]:
            for name, value in comps.items():
                self.scalar(str(self.tags["grad_comp"]).format(name), value, step)

    def val(self, step: int, value: float) -> None:
        self._role("val", value, step)

    def close(self) -> None:
        self.writer.close()


class KerasLog:
    """Keras ``TensorBoard`` callback layout: ``train/`` and ``validation/`` run dirs, one point per
    epoch, tags ``epoch_loss`` / ``epoch_learning_rate``, tensor-encoded float32 scalars, files ending
    in ``.v2``. Written with tensorboard's own event writer, as TF's summary ops would write it."""

    def __init__(self, run_dir: Path):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        if run_dir.exists():
            shutil.rmtree(run_dir)
        self.dir = run_dir
        self.writers = {
            sub: EventFileWriter(str(run_dir / sub), flush_secs=600, filename_suffix=".v2")
            for sub in ("train", "validation")
        }
        self.record: dict[str, list[tuple[int, float]]] = {}

    def scalar(self, sub: str, tag: str, value: float, step: int) -> None:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.util import tensor_util

        meta = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
        )
        tensor = tensor_util.make_tensor_proto(np.float32(value))
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=meta)])
        self.writers[sub].add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))
        self.record.setdefault(f"{sub}/{tag}", []).append((step, float(value)))

    def close(self) -> None:
        for w in self.writers.values():
            w.close()


# ----------------------------------------------------------------------------------------------
# Data, models, measurements
# ----------------------------------------------------------------------------------------------


def seed_all(seed: int) -> torch.Generator:
    """Seed torch and return a generator for the data stream, so data and init are reproducible apart."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed + 1000)


class Teacher:
    """A fixed random tanh network: y = f(x) + noise. Learnable, not trivial, and infinitely sampled."""

    def __init__(self, d_in: int, d_out: int = 1, hidden: int = 32, seed: int = 0, scale: float = 1.0):
        g = torch.Generator().manual_seed(seed)
        self.w1 = torch.randn(d_in, hidden, generator=g) * scale / math.sqrt(d_in)
        self.w2 = torch.randn(hidden, d_out, generator=g) / math.sqrt(hidden)
        self.d_in = d_in

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ self.w1) @ self.w2 * 2.0

    def sample(self, n: int, g: torch.Generator, noise: float = 0.1, shift: float = 0.0):
        x = torch.randn(n, self.d_in, generator=g) + shift
        y = self(x) + noise * torch.randn(n, self.w2.shape[1], generator=g)
        return x, y

    def sample_classes(self, n: int, g: torch.Generator):
        x = torch.randn(n, self.d_in, generator=g)
        return x, self(x).argmax(dim=1)


def mlp(d_in: int, hidden: int, d_out: int, depth: int = 2, act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = d_in
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), act()]
        d = hidden
    layers.append(nn.Linear(d, d_out))
    return nn.Sequential(*layers)


def grad_norm(params) -> float:
    """L2 norm of the gradients of ``params``; a parameter with no gradient counts as zero (as loggers do)."""
    sq = 0.0
    for p in params:
        if p.grad is not None:
            sq += float(p.grad.detach().pow(2).sum())
    return math.sqrt(sq)


def component_norms(components: dict[str, nn.Module]) -> dict[str, float]:
    return {name: grad_norm(m.parameters()) for name, m in components.items()}


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/statm (what psutil reports as rss)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn) -> float:
    model.eval()
    out = float(loss_fn(model(x), y))
    model.train()
    return out


def warmup_cosine(step: int, total: int, warmup: int, peak: float, floor: float = 0.0) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["lr"] = lr


# ----------------------------------------------------------------------------------------------
# The generic loop most cases share
# ----------------------------------------------------------------------------------------------


@dataclass
class Loop:
    """One supervised training loop, with hooks where a case injects its fault.

    ``batch(step)`` returns (x, y); ``lr(step)`` the learning rate; ``clip`` a max_norm or None;
    ``after_backward(step)`` runs between backward and the optimizer step (e.g. to keep a graph).
    """

    model: nn.Module
    opt: torch.optim.Optimizer
    loss_fn: Callable
    batch: Callable[[int], tuple[torch.Tensor, torch.Tensor]]
    steps: int
    lr: Callable[[int], float] | None = None
    components: dict[str, nn.Module] = field(default_factory=dict)
    clip: float | None = None
    val: tuple[torch.Tensor, torch.Tensor] | None = None
    val_every: int = 25
    extra: Callable[[int, Log], None] | None = None
    forward: Callable | None = None  # (model, x) -> prediction, when not model(x)
    stop_on_nonfinite: bool = False  # a trainer's NaN guard: stop before logging a non-finite loss

    def run(self, log: Log, first_step: int = 0) -> None:
        for step in range(first_step, self.steps):
            if self.lr is not None:
                set_lr(self.opt, self.lr(step))
            x, y = self.batch(step)
            pred = self.forward(self.model, x) if self.forward else self.model(x)
            loss = self.loss_fn(pred, y)
            if self.stop_on_nonfinite and not torch.isfinite(loss):
                print(f"  {log.dir.name}: loss is {float(loss)} at step {step}, stopping (NaN guard)")
                break
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            comps = component_norms(self.components)
            if self.clip is not None:
                total = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip))
                post = grad_norm(self.model.parameters())
            else:
                total, post = grad_norm(self.model.parameters()), None
            self.opt.step()
            log.step(step, float(loss.detach()), self.opt.param_groups[0]["lr"], total, comps, post)
            if self.val is not None and (step % self.val_every == 0 or step == self.steps - 1):
                log.val(step, evaluate(self.model, *self.val, self.loss_fn))
            if self.extra is not None:
                self.extra(step, log)


class TwoBranch(nn.Module):
    """Two encoders whose features are concatenated into a head; ``mode`` injects a branch fault.

    ``detach``: branch_b's output is detached (a leftover from a frozen-feature experiment), so no
    gradient reaches it. ``scale``: branch_b's output is multiplied by ``factor`` (a mis-set residual
    gain), so it receives a gradient ``factor`` times smaller than it should.
    """

    def __init__(self, d_in: int, hidden: int, d_out: int, mode: str = "ok", factor: float = 1.0):
        super().__init__()
        self.branch_a = mlp(d_in, hidden, hidden, depth=1)
        self.branch_b = mlp(d_in, hidden, hidden, depth=1)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(2 * hidden, d_out))
        self.mode, self.factor = mode, factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.branch_a(x), self.branch_b(x)
        if self.mode == "detach":
            b = b.detach()
        elif self.mode == "scale":
            b = b * self.factor
        return self.head(torch.cat([a, b], dim=1))

    def components(self) -> dict[str, nn.Module]:
        return {"branch_a": self.branch_a, "branch_b": self.branch_b, "head": self.head}


def stream(teacher: Teacher, g: torch.Generator, batch: int, noise: float = 0.1):
    """Fresh samples every step: an effectively infinite training set (no overfitting possible)."""
    return lambda step: teacher.sample(batch, g, noise)


def mse(pred, y):
    return nn.functional.mse_loss(pred, y)


def xent(pred, y):
    return nn.functional.cross_entropy(pred, y)


# ----------------------------------------------------------------------------------------------
# Fault cases
# ----------------------------------------------------------------------------------------------

D_IN = 16


def case_nan_lr_too_high(out: Path) -> None:
    """SGD with warmup to a peak LR ten times what the model can take: the loss blows up to Inf, then NaN."""
    g = seed_all(1)
    teacher = Teacher(D_IN, seed=1)
    model = mlp(D_IN, 64, 1, depth=2)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    log = Log(out)
    Loop(model, opt, mse, stream(teacher, g, 64), steps=400,
         lr=lambda s: warmup_cosine(s, 400, 100, peak=2.0),
         components={"layer0": model[0], "layer1": model[2], "head": model[4]},
         val=teacher.sample(512, g), val_every=20).run(log)
    log.close()
    return log


def case_divergence_lr_ramp(out: Path) -> None:
    """An LR range test left in the schedule: Adam's LR grows exponentially 1e-3 -> 0.3 over the run,
    so after a good start the loss climbs for hundreds of steps (finite: Adam bounds each update)."""
    g = seed_all(2)
    teacher = Teacher(D_IN, seed=2)
    model = mlp(D_IN, 64, 1, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    log = Log(out)
    steps = 1000
    Loop(model, opt, mse, stream(teacher, g, 64), steps=steps,
         lr=lambda s: 1e-3 * (300.0 ** (s / steps)),
         components={"layer0": model[0], "layer1": model[2], "head": model[4]},
         val=teacher.sample(512, g)).run(log)
    log.close()
    return log


def case_loss_spike_lr_bump(out: Path) -> None:
    """A manual LR change mid-run (1e-3 -> 3e-2 for 3 steps at step 600, then back): the loss and the
    gradient norm jump at the same step; training recovers within tens of steps."""
    g = seed_all(3)
    teacher = Teacher(D_IN, seed=3)
    model = mlp(D_IN, 64, 1, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    log = Log(out)
    Loop(model, opt, mse, stream(teacher, g, 64), steps=1200,
         lr=lambda s: 3e-2 if 600 <= s < 603 else 1e-3,
         components={"layer0": model[0], "layer1": model[2], "head": model[4]},
         val=teacher.sample(512, g)).run(log)
    log.close()
    return log


def case_stuck_lr_zero(out: Path) -> None:
    """Linear decay configured for 100 steps (``total_steps`` of a different config) in an 800-step
    full-batch run: from step 100 the LR is exactly 0, Adam makes no update and the loss repeats."""
    g = seed_all(4)
    teacher = Teacher(D_IN, seed=4)
    x, y = teacher.sample(512, g)
    model = mlp(D_IN, 64, 1, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    log = Log(out)
    Loop(model, opt, mse, lambda s: (x, y), steps=800,
         lr=lambda s: 3e-3 * max(0.0, 1.0 - s / 100),
         components={"layer0": model[0], "layer1": model[2], "head": model[4]},
         val=teacher.sample(512, g)).run(log)
    log.close()
    return log


def case_plateau_lr_too_low(out: Path) -> None:
    """Adam at lr=1e-6 (a typo for 1e-3): minibatch noise, but the loss barely moves in 1500 steps."""
    g = seed_all(5)
    teacher = Teacher(D_IN, seed=5)
    model = mlp(D_IN, 64, 1, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-6)
    log = Log(out)
    Loop(model, opt, mse, stream(teacher, g, 64), steps=1500,
         components={"layer0": model[0], "layer1": model[2], "head": model[4]},
         val=teacher.sample(512, g), val_every=50).run(log)
    log.close()
    return log


def case_plateau_shuffled_labels(out: Path) -> None:
    """A dataloader that shuffles inputs and labels with different permutations each epoch: labels carry
    no information about inputs, so the loss learns the class prior within tens of steps and stays there."""
    g = seed_all(6)
    teacher = Teacher(D_IN, d_out=5, seed=6, scale=2.0)
    x, y = teacher.sample_classes(4096, g)
    val = teacher.sample_classes(1024, g)
    model = mlp(D_IN, 64, 5, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = 64
    per_epoch = len(x) // batch
    state: dict[str, torch.Tensor] = {}

    def get_batch(step: int):
        if step % per_epoch == 0:
            state["px"] = torch.randperm(len(x), generator=g)
            state["py"] = torch.randperm(len(x), generator=g)  # the bug: a second, independent permutation
        i = (step % per_epoch) * batch
        return x[state["px"][i:i + batch]], y[state["py"][i:i + batch]]

    log = Log(out)
    Loop(model, opt, xent, get_batch, steps=1500,
         components={"layer0": model[0], "layer1": model[2], "head": model[4]},
         val=val, val_every=50).run(log)
    log.close()
    return log


def case_oscillation_momentum(out: Path) -> None:
    """SGD at lr=1.0 with momentum 0.9 (a recipe tuned for a much smaller model, copied over): every
    step overshoots, the loss swings between ~2 and ~5 (chance is 1.6) for 800 steps with no net progress."""
    g = seed_all(7)
    teacher = Teacher(D_IN, d_out=5, seed=7, scale=2.0)
    x, y = teacher.sample_classes(2048, g)
    val = teacher.sample_classes(512, g)
    model = mlp(D_IN, 64, 5, depth=2, act=nn.Tanh)
    opt = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)

    def get_batch(step: int):
        idx = torch.randint(0, len(x), (64,), generator=g)
        return x[idx], y[idx]

    log = Log(out)
    Loop(model, opt, xent, get_batch, steps=800,
         components={"layer0": model[0], "layer1": model[2], "head": model[4]},
         val=val).run(log)
    log.close()
    return log


def case_overfitting_small_data(out: Path) -> None:
    """64 noisy training examples (noise std 1.0) and a 2x256 MLP, Adam 1e-4, minibatches of 32 for 1000
    steps: validation loss bottoms out early and then climbs while the training loss keeps falling
    (memorising the noise, eventually to ~0)."""
    g = seed_all(8)
    teacher = Teacher(D_IN, seed=8)
    x, y = teacher.sample(64, g, noise=1.0)
    val = teacher.sample(1024, g, noise=1.0)
    model = mlp(D_IN, 256, 1, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def get_batch(step: int):
        idx = torch.randint(0, len(x), (32,), generator=g)
        return x[idx], y[idx]

    log = Log(out, style="plain")
    Loop(model, opt, mse, get_batch, steps=1000,
         components={"layer0": model[0], "layer1": model[2], "head": model[4]},
         val=val, val_every=20).run(log)
    log.close()
    return log


def case_overfitting_shifted_train_data(out: Path) -> None:
    """At step 500 the training pipeline starts reading features with a stale normaliser (every feature
    shifted by +1.5 and scaled by 2), while validation keeps the right one: the model adapts to the
    shifted inputs, training loss keeps falling, validation loss (the distribution that matters) rises."""
    g = seed_all(9)
    teacher = Teacher(D_IN, seed=9)
    val = teacher.sample(1024, g)
    model = mlp(D_IN, 64, 1, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def get_batch(step: int):
        x, y = teacher.sample(64, g)
        return (x * 2.0 + 1.5 if step >= 500 else x), y

    log = Log(out, style="plain")
    Loop(model, opt, mse, get_batch, steps=1500,
         components={"layer0": model[0], "layer1": model[2], "head": model[4]},
         val=val, val_every=20).run(log)
    log.close()
    return log


def case_zero_loss_label_leak(out: Path) -> None:
    """The label is left in the feature matrix (one-hot columns appended to the inputs): the model reads
    the answer and the cross-entropy falls to ~1e-4 within a few hundred steps."""
    g = seed_all(10)
    teacher = Teacher(D_IN, d_out=5, seed=10, scale=2.0)

    def leak(x: torch.Tensor, y: torch.Tensor):
        return torch.cat([x, nn.functional.one_hot(y, 5).float()], dim=1), y

    val = leak(*teacher.sample_classes(1024, g))
    model = mlp(D_IN + 5, 64, 5, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    log = Log(out, style="hf")
    Loop(model, opt, xent, lambda s: leak(*teacher.sample_classes(64, g)), steps=1000,
         val=val, val_every=50).run(log)
    log.close()
    return log


def case_dead_branch_detached(out: Path) -> None:
    """Branch B's features are ``.detach()``-ed before the head (left over from a frozen-feature
    experiment): its gradient norm is exactly 0 on every step while the rest trains normally."""
    g = seed_all(11)
    teacher = Teacher(D_IN, seed=11)
    model = TwoBranch(D_IN, 64, 1, mode="detach")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    log = Log(out)
    Loop(model, opt, mse, stream(teacher, g, 64), steps=800, components=model.components(),
         val=teacher.sample(512, g)).run(log)
    log.close()
    return log


def case_imbalance_scaled_branch(out: Path) -> None:
    """Branch B's output is multiplied by 1e-4 (a residual gain initialised for a 1000-layer model):
    it learns, but receives ~1e-4 of the gradient the other components get."""
    g = seed_all(12)
    teacher = Teacher(D_IN, seed=12)
    model = TwoBranch(D_IN, 64, 1, mode="scale", factor=1e-4)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    log = Log(out)
    Loop(model, opt, mse, stream(teacher, g, 64), steps=800, components=model.components(),
         val=teacher.sample(512, g)).run(log)
    log.close()
    return log


def case_vanishing_sigmoid_stack(out: Path) -> None:
    """Ten sigmoid layers, no normalisation, no residuals: each layer multiplies the backward signal by
    at most 0.25, so the first layers get gradients orders of magnitude below the last ones."""
    g = seed_all(13)
    teacher = Teacher(D_IN, seed=13)
    model = mlp(D_IN, 64, 1, depth=10, act=nn.Sigmoid)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    comps = {f"layer{i}": m for i, m in enumerate(linears[:-1])} | {"head": linears[-1]}
    log = Log(out)
    Loop(model, opt, mse, stream(teacher, g, 64), steps=800, components=comps,
         val=teacher.sample(512, g)).run(log)
    log.close()
    return log


class WideAndDeep(nn.Module):
    """A linear model on raw features plus an MLP on standardised ones (the 'wide & deep' pattern)."""

    def __init__(self, d_in: int):
        super().__init__()
        self.wide = nn.Linear(d_in, 1)
        self.deep = mlp(d_in, 64, 1, depth=2)

    def forward(self, x: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        raw, standardised = x
        return self.wide(raw) + self.deep(standardised)


def case_exploding_unscaled_feature(out: Path) -> None:
    """The wide (linear) part reads a raw feature with scale 30 (a count that was never standardised):
    its curvature is ~900x the others', and full-batch SGD at an LR 3% past the stability edge for that one
    direction (2/lambda_max, ~1.1e-3) makes the gradient norm grow ~6% per step, by many orders of magnitude,
    until the trainer's NaN guard stops the run (the non-finite step itself is never logged)."""
    g = seed_all(14)
    teacher = Teacher(D_IN, seed=14)
    x, y = teacher.sample(1024, g)
    raw = x.clone()
    raw[:, 0] *= 30.0
    vx, vy = teacher.sample(512, g)
    vraw = vx.clone()
    vraw[:, 0] *= 30.0
    model = WideAndDeep(D_IN)
    # Curvature of the MSE w.r.t. the wide weights (with bias) is (2/n) X^T X; stable iff lr < 2/lambda_max.
    xb = torch.cat([raw, torch.ones(len(raw), 1)], dim=1)
    lam = float(torch.linalg.eigvalsh(2.0 / len(raw) * xb.T @ xb).max())
    opt = torch.optim.SGD(model.parameters(), lr=1.03 * 2.0 / lam)
    log = Log(out)
    Loop(model, opt, mse, lambda s: ((raw, x), y), steps=800,
         components={"wide": model.wide, "deep": model.deep},
         val=((vraw, vx), vy), stop_on_nonfinite=True).run(log)
    log.close()
    return log


class EpiLike(nn.Module):
    """A toy of EpiForecaster's layout: a graph-ish mixing encoder, a temporal encoder, a forecast head."""

    def __init__(self, d_in: int, hidden: int = 64):
        super().__init__()
        self.MobilityGNN = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU())
        self.TemporalEncoder = nn.GRU(d_in, hidden, batch_first=True)
        self.ForecastHead = nn.Linear(2 * hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = self.MobilityGNN(x.mean(dim=1))
        temporal = self.TemporalEncoder(x)[0][:, -1]
        return self.ForecastHead(torch.cat([spatial, temporal], dim=1))

    def components(self) -> dict[str, nn.Module]:
        return {"MobilityGNN": self.MobilityGNN, "TemporalEncoder": self.TemporalEncoder,
                "ForecastHead": self.ForecastHead}


def sequence_stream(g: torch.Generator, batch: int, length: int = 12, d_in: int = 8, shift: float = 0.0):
    """Sequences whose target is a weighted sum of the last steps of two channels: needs memory."""
    def sample(step: int):
        x = torch.randn(batch, length, d_in, generator=g) + shift
        y = (x[:, -3:, 0].sum(1) - 0.5 * x[:, -6:, 1].mean(1) + 0.3 * x[:, :, 2].mean(1)).unsqueeze(1)
        return x, y
    return sample


def case_heavy_clipping_epi(out: Path) -> None:
    """``clip_grad_norm_(max_norm=0.05)`` where the gradient norm is ~1 (a value meant for a per-parameter
    clip): every step is clipped 10-40x, SGD crawls. Logged EpiForecaster-style, pre- and post-clip."""
    g = seed_all(15)
    model = EpiLike(8)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    val = sequence_stream(g, 512)(0)
    log = Log(out, style="epi")
    Loop(model, opt, mse, sequence_stream(g, 32), steps=800, clip=0.05, components=model.components(),
         val=val).run(log)
    log.close()
    return log


def case_curriculum_regression(out: Path) -> None:
    """Two-stage curriculum: stage 0 (steps 0-599) short, clean sequences; stage 1 (600-1199) longer,
    noisier, shifted sequences. The cosine schedule was sized for stage 0 only and sits at ~1e-6 when
    stage 1 starts, so the loss jumps at the transition and never comes back down."""
    g = seed_all(16)
    model = EpiLike(8)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    easy = sequence_stream(g, 32, length=8)
    hard = sequence_stream(g, 32, length=24, shift=0.7)
    val = sequence_stream(g, 512, length=24, shift=0.7)(0)

    def stage(step: int) -> int:
        return 0 if step < 600 else 1

    def extra(step: int, log: Log) -> None:
        log.scalar("curriculum/stage", stage(step), step)

    log = Log(out, style="plain")
    Loop(model, opt, mse, lambda s: easy(s) if stage(s) == 0 else hard(s), steps=1200,
         lr=lambda s: warmup_cosine(s, 600, 50, peak=3e-3, floor=1e-6),
         components=model.components(), val=val, extra=extra).run(log)
    log.close()
    return log


def case_memory_leak_graph(out: Path) -> None:
    """``losses.append(loss)`` instead of ``loss.item()``: each kept loss keeps its whole autograd graph
    (and the activations saved for backward) alive, so resident memory grows linearly with steps.
    Logs the process RSS from /proc/self/statm and the activation bytes saved for backward so far."""
    g = seed_all(17)
    teacher = Teacher(D_IN, seed=17)
    model = mlp(D_IN, 256, 1, depth=3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    kept: list[torch.Tensor] = []
    held = {"bytes": 0}
    weight_storage = {p.untyped_storage().data_ptr() for p in model.parameters()}

    def forward(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        def pack(t: torch.Tensor) -> torch.Tensor:
            if t.untyped_storage().data_ptr() not in weight_storage:  # activations, not the shared weights
                held["bytes"] += t.numel() * t.element_size()
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            return m(x)

    def extra(step: int, log: Log) -> None:
        if step % 5 == 0:
            log.scalar("memory/rss_bytes", rss_bytes(), step)
            log.scalar("memory/activation_bytes_held", held["bytes"], step)

    def loss_fn(pred, y):
        loss = mse(pred, y)
        kept.append(loss)  # the bug: should be loss.item()
        return loss

    log = Log(out, style="plain")
    loop = Loop(model, opt, loss_fn, stream(teacher, g, 128), steps=600,
                components={"layer0": model[0], "layer1": model[2], "layer2": model[4], "head": model[6]},
                val=teacher.sample(512, g), val_every=50, extra=extra, forward=forward)
    # backward() frees saved tensors of the graph it ran through, so keep the graph: retain_graph is what
    # such code ends up adding after "Trying to backward through the graph a second time".
    orig_backward = torch.Tensor.backward
    torch.Tensor.backward = lambda self, *a, **k: orig_backward(self, *a, **{**k, "retain_graph": True})
    try:
        loop.run(log)
    finally:
        torch.Tensor.backward = orig_backward
    log.close()
    kept.clear()
    return log


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def case_fp16_overflow_raw_targets(out: Path) -> None:
    """fp16 autocast with a dynamic loss scaler (``torch.amp.GradScaler("cpu")``) on a regression whose target
    was never standardised (raw units, x1000) and an LR too high for it: the scaled gradients overflow fp16
    step after step, the scaler halves its scale on every overflow (skipping the step) until it is tiny, and
    the loss runs off to Inf. Logs the loss, the LR and the scale (``train/loss_scale``) every step."""
    g = seed_all(19)
    teacher = Teacher(D_IN, seed=19)
    model = mlp(D_IN, 64, 1, depth=2)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu")
    log = Log(out, style="hf")
    data = stream(teacher, g, 64)
    for step in range(300):
        x, y = data(step)
        with torch.autocast("cpu", dtype=torch.float16):
            loss = mse(model(x).float(), 1000.0 * y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        log.step(step, float(loss.detach()), opt.param_groups[0]["lr"])
        log.scalar("train/loss_scale", scaler.get_scale(), step)
    log.close()
    return log


def case_memory_pressure_autobatch(out: Path) -> None:
    """A batch-size finder that leaves no headroom: given a stated 12 MiB accelerator budget, the batch is
    the largest whose measured footprint (weights + grads + Adam state + activations saved for backward)
    fits in 97% of it, so every step peaks right under capacity. Logs the measured peak and the capacity."""
    g = seed_all(18)
    teacher = Teacher(D_IN, seed=18)
    model = mlp(D_IN, 256, 1, depth=3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    capacity = 12 * 2**20
    params = list(model.parameters())
    saved = {"bytes": 0}
    weight_storage = {p.untyped_storage().data_ptr() for p in params}

    def forward(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
        saved["bytes"] = 0

        def pack(t: torch.Tensor) -> torch.Tensor:
            if t.untyped_storage().data_ptr() not in weight_storage:  # activations, not weights (or views)
                saved["bytes"] += t.numel() * t.element_size()
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            return m(x)

    forward(model, torch.zeros(64, D_IN))  # probe: activation bytes per sample
    per_sample = saved["bytes"] / 64
    static = 4 * tensor_bytes(params)  # weights, grads, exp_avg, exp_avg_sq
    batch = int((0.97 * capacity - static) // per_sample)

    def extra(step: int, log: Log) -> None:
        state = [v for st in opt.state.values() for v in st.values() if torch.is_tensor(v)]
        peak = tensor_bytes(params) + tensor_bytes(p.grad for p in params) + tensor_bytes(state) + saved["bytes"]
        log.scalar("memory/peak_allocated_bytes", peak, step)
        log.scalar("memory/capacity_bytes", capacity, step)

    log = Log(out, style="plain")
    Loop(model, opt, mse, stream(teacher, g, batch), steps=200,
         components={"layer0": model[0], "layer1": model[2], "layer2": model[4], "head": model[6]},
         val=teacher.sample(512, g), val_every=25, extra=extra, forward=forward).run(log)
    log.close()
    return log


# ----------------------------------------------------------------------------------------------
# Healthy runs: they must stay quiet
# ----------------------------------------------------------------------------------------------


def case_healthy_hf_cosine(out: Path) -> None:
    """HF Trainer tags, AdamW with 100 warmup steps and cosine decay to 0: the decayed tail is flat because
    the LR is ~0, not because training stalled (a plateau detector must not fire on it)."""
    g = seed_all(101)
    teacher = Teacher(D_IN, seed=101)
    model = mlp(D_IN, 128, 1, depth=2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.0, weight_decay=0.01)
    log = Log(out, style="hf")
    Loop(model, opt, mse, stream(teacher, g, 64), steps=1500,
         lr=lambda s: warmup_cosine(s, 1500, 100, peak=2e-3),
         val=teacher.sample(1024, g), val_every=100).run(log)
    log.close()
    return log


def case_healthy_lightning(out: Path) -> None:
    """Lightning tags: ``train_loss_step``, ``val_loss``, ``lr-AdamW`` and ``grad_2.0_norm/<param>`` per
    parameter tensor (what ``lightning.pytorch.utilities.grad_norm`` logs) plus ``grad_2.0_norm_total``.
    AdamW with warmup and cosine decay to 5% of the peak."""
    g = seed_all(102)
    teacher = Teacher(D_IN, seed=102)
    model = mlp(D_IN, 96, 1, depth=2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.0)
    comps = {f"model.{name}": nn.ParameterList([p]) for name, p in model.named_parameters()}
    log = Log(out, style="lightning")
    Loop(model, opt, mse, stream(teacher, g, 32), steps=1200, components=comps,
         lr=lambda s: warmup_cosine(s, 1200, 60, peak=2e-3, floor=1e-4),
         val=teacher.sample(1024, g), val_every=50).run(log)
    log.close()
    return log


def case_healthy_keras_epochs(out: Path) -> None:
    """Keras layout: ``train/`` + ``validation/`` dirs, tensor-encoded ``epoch_loss`` once per epoch
    (60 epochs of 32 batches), ``epoch_learning_rate`` with exponential decay. Epoch-level logging only."""
    g = seed_all(103)
    teacher = Teacher(D_IN, seed=103)
    x, y = teacher.sample(2048, g)
    vx, vy = teacher.sample(512, g)
    model = mlp(D_IN, 64, 1, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    log = KerasLog(out)
    for epoch in range(60):
        lr = 1e-3 * 0.97 ** epoch
        set_lr(opt, lr)
        perm = torch.randperm(len(x), generator=g)
        total = 0.0
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            loss = mse(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        log.scalar("train", "epoch_loss", total / len(x), epoch)
        log.scalar("train", "epoch_learning_rate", lr, epoch)
        log.scalar("validation", "epoch_loss", evaluate(model, vx, vy, mse), epoch)
    log.close()
    return log


def case_healthy_small_batch_noisy(out: Path) -> None:
    """Batch 8 with noisy targets (noise std 0.5), Adam with cosine decay: the per-step loss is very noisy
    (single batches several times the median) but the trend is clean. Also logs process RSS (flat)."""
    g = seed_all(104)
    teacher = Teacher(D_IN, seed=104)
    model = mlp(D_IN, 64, 1, depth=2)
    opt = torch.optim.Adam(model.parameters(), lr=0.0)

    def extra(step: int, log: Log) -> None:
        if step % 10 == 0:
            log.scalar("memory/rss_bytes", rss_bytes(), step)

    log = Log(out, style="plain")
    Loop(model, opt, mse, stream(teacher, g, 8, noise=0.5), steps=2000,
         lr=lambda s: warmup_cosine(s, 2000, 50, peak=1e-3, floor=5e-5),
         components={"layer0": model[0], "layer1": model[2], "head": model[4]},
         val=teacher.sample(1024, g, noise=0.5), val_every=50, extra=extra).run(log)
    log.close()
    return log


def case_healthy_epi_clipping(out: Path) -> None:
    """EpiForecaster layout with a sensible clip (max_norm=2.0): clipping bites on ~5% of steps, all
    before step 260. MobilityGNN gets ~1/20 of TemporalEncoder's gradient norm because its input (a time average) is
    less informative, not because it is broken. Warmup then linear decay."""
    g = seed_all(105)
    model = EpiLike(8)
    opt = torch.optim.AdamW(model.parameters(), lr=0.0)
    val = sequence_stream(g, 512)(0)
    log = Log(out, style="epi")
    Loop(model, opt, mse, sequence_stream(g, 32), steps=1000, clip=2.0, components=model.components(),
         lr=lambda s: 2e-3 * min((s + 1) / 50, max(0.05, (1000 - s) / 950)),
         val=val).run(log)
    log.close()
    return log


def case_healthy_resumed(out: Path) -> None:
    """Crash and resume: the first process trains to step 700 (checkpoint every 250 steps) and dies; the
    second loads the step-500 checkpoint, opens a NEW SummaryWriter in the same dir and re-logs 500-700
    before going on to 1200. The repeated steps must not look like a regression or a spike."""
    g = seed_all(106)
    teacher = Teacher(D_IN, seed=106)
    val = teacher.sample(512, g)

    def build():
        model = mlp(D_IN, 64, 1, depth=2)
        return model, torch.optim.Adam(model.parameters(), lr=1e-3)

    model, opt = build()
    comps = {"layer0": model[0], "layer1": model[2], "head": model[4]}
    ckpt: dict[str, dict] = {}

    def extra(step: int, log: Log) -> None:
        if (step + 1) % 250 == 0:
            ckpt[f"{step + 1}"] = {"model": {k: v.clone() for k, v in model.state_dict().items()},
                                   "opt": opt.state_dict()}

    log = Log(out, style="plain")
    Loop(model, opt, mse, stream(teacher, g, 64), steps=700, components=comps, val=val, extra=extra).run(log)
    log.close()  # the process dies here

    model2, opt2 = build()
    model2.load_state_dict(ckpt["500"]["model"])
    opt2.load_state_dict(ckpt["500"]["opt"])
    time.sleep(1.1)  # a later process: its event file gets a later timestamp in its name
    log2 = Log(out, style="plain", purge=False)
    Loop(model2, opt2, mse, stream(teacher, g, 64), steps=1200,
         components={"layer0": model2[0], "layer1": model2[2], "head": model2[4]}, val=val).run(log2, first_step=500)
    log2.close()
    for tag, pts in log2.record.items():
        log.record.setdefault(tag, []).extend(pts)
    return log


class LSTMModel(nn.Module):
    def __init__(self, d_in: int = 8, hidden: int = 48):
        super().__init__()
        self.embed = nn.Linear(d_in, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(torch.relu(self.embed(x)))[0][:, -1])


def case_healthy_lstm(out: Path) -> None:
    """An LSTM on the sequence task, Adam with step decay (x0.3 at step 700): the loss DROPS at the decay
    step. Plain SummaryWriter tags, tensor-encoded (``new_style=True``)."""
    g = seed_all(107)
    model = LSTMModel()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    log = Log(out, style="plain", new_style=True)
    Loop(model, opt, mse, sequence_stream(g, 32, length=16), steps=1000,
         lr=lambda s: 3e-3 * (0.3 if s >= 700 else 1.0),
         components={"embed": model.embed, "lstm": model.lstm, "head": model.head},
         val=sequence_stream(g, 512, length=16)(0)).run(log)
    log.close()
    return log


def case_healthy_curriculum(out: Path) -> None:
    """A curriculum done right: sequence length 8 -> 16 -> 24 at steps 400 and 800, the LR schedule spans
    the whole run. Each stage starts slightly higher and is absorbed within a few dozen steps."""
    g = seed_all(108)
    model = EpiLike(8)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    streams = [sequence_stream(g, 32, length=n) for n in (8, 16, 24)]
    val = sequence_stream(g, 512, length=24)(0)

    def stage(step: int) -> int:
        return min(2, step // 400)

    def extra(step: int, log: Log) -> None:
        log.scalar("curriculum/stage", stage(step), step)

    log = Log(out, style="plain")
    Loop(model, opt, mse, lambda s: streams[stage(s)](s), steps=1200,
         lr=lambda s: warmup_cosine(s, 1200, 50, peak=2e-3, floor=1e-4),
         components=model.components(), val=val, extra=extra).run(log)
    log.close()
    return log


# ----------------------------------------------------------------------------------------------
# Registry: what each case is, and what a correct diagnosis must and must not say
# ----------------------------------------------------------------------------------------------

HEALTHY_MUST_NOT = list(LOGGABLE_CODES)


@dataclass(frozen=True)
class Case:
    """One corpus run and its label. ``fault_step`` is where the fault was injected (0: from the start)."""

    name: str
    fn: Callable[[Path], object]
    must: tuple[str, ...]
    must_not: tuple[str, ...]
    root_cause: str | None
    fault_step: int | None
    fault: str
    convention: str
    tool_kwargs: tuple[tuple[str, object], ...] = ()  # what a user would tell the tool (a stated capacity)

    @property
    def healthy(self) -> bool:
        return not self.must

    def label(self) -> dict:
        doc = (self.fn.__doc__ or "").strip()
        return {
            "case": self.name, "healthy": self.healthy, "must": list(self.must),
            "must_not": HEALTHY_MUST_NOT if self.healthy else list(self.must_not),
            "root_cause": self.root_cause, "fault_step": self.fault_step, "fault": self.fault,
            "convention": self.convention, "description": " ".join(doc.split()),
            "tool_kwargs": dict(self.tool_kwargs),
        }


_LOSS_ALARMS = ("nan_inf", "zero_loss", "stuck_loss")
CASES: tuple[Case, ...] = (
    Case("nan_lr_too_high", case_nan_lr_too_high, ("nan_inf",), ("zero_loss", "stuck_loss", "overfitting"),
         "optimizer", 0, "SGD warmup to peak LR 2.0", "plain"),
    Case("divergence_lr_ramp", case_divergence_lr_ramp, ("divergence",),
         ("nan_inf", "zero_loss", "stuck_loss", "overfitting", "dead_component"),
         "optimizer", 0, "LR range test left on: exponential LR ramp", "plain"),
    Case("loss_spike_lr_bump", case_loss_spike_lr_bump, ("loss_spike", "gradient_spike"),
         ("nan_inf", "divergence", "stuck_loss", "zero_loss", "plateau", "dead_component", "overfitting"),
         "optimizer", 600, "LR x30 for 3 steps at step 600", "plain"),
    Case("stuck_lr_zero", case_stuck_lr_zero, ("stuck_loss",),
         ("nan_inf", "divergence", "loss_spike", "oscillation", "zero_loss"),
         "optimizer", 100, "linear decay sized for 100 steps: LR exactly 0 afterwards", "plain"),
    Case("plateau_lr_too_low", case_plateau_lr_too_low, ("plateau",),
         ("nan_inf", "divergence", "zero_loss", "overfitting", "dead_component"),
         "optimizer", 0, "Adam lr 1e-6 instead of 1e-3", "plain"),
    Case("plateau_shuffled_labels", case_plateau_shuffled_labels, ("plateau",),
         ("nan_inf", "divergence", "zero_loss", "dead_component"),
         "data", 0, "inputs and labels shuffled with independent permutations", "plain"),
    Case("oscillation_momentum", case_oscillation_momentum, ("oscillation",),
         ("nan_inf", "zero_loss", "stuck_loss", "overfitting", "dead_component"),
         "optimizer", 0, "SGD lr 1.0 with momentum 0.9", "plain"),
    Case("overfitting_small_data", case_overfitting_small_data, ("overfitting",),
         ("nan_inf", "divergence", "loss_spike", "stuck_loss", "dead_component"),
         "data", 0, "64 noisy examples, 2x256 MLP, 1000 steps", "plain"),
    Case("overfitting_shifted_train_data", case_overfitting_shifted_train_data, ("overfitting",),
         ("nan_inf", "divergence", "stuck_loss", "zero_loss", "dead_component"),
         "data", 500, "training features re-normalised wrongly from step 500; validation not", "plain"),
    Case("zero_loss_label_leak", case_zero_loss_label_leak, ("zero_loss",),
         ("nan_inf", "divergence", "loss_spike", "overfitting"),
         "data", 0, "one-hot label appended to the inputs", "hf"),
    Case("dead_branch_detached", case_dead_branch_detached, ("dead_component",),
         ("nan_inf", "divergence", "loss_spike", "stuck_loss", "zero_loss", "exploding_gradients"),
         "architecture", 0, "branch_b output .detach()-ed", "plain"),
    Case("imbalance_scaled_branch", case_imbalance_scaled_branch, ("gradient_imbalance",),
         ("nan_inf", "divergence", "stuck_loss", "zero_loss", "exploding_gradients"),
         "architecture", 0, "branch_b output multiplied by 1e-4", "plain"),
    Case("vanishing_sigmoid_stack", case_vanishing_sigmoid_stack, ("vanishing_gradients",),
         ("nan_inf", "zero_loss", "exploding_gradients", "overfitting"),
         "architecture", 0, "10 sigmoid layers, no normalisation or residuals", "plain"),
    Case("exploding_unscaled_feature", case_exploding_unscaled_feature, ("exploding_gradients",),
         ("zero_loss", "stuck_loss", "vanishing_gradients", "dead_component", "overfitting"),
         "data", 0, "one raw feature with scale 30 in the linear part; LR 3% past its stability edge", "plain"),
    Case("heavy_clipping_epi", case_heavy_clipping_epi, ("heavy_clipping",),
         ("nan_inf", "divergence", "zero_loss", "stuck_loss", "exploding_gradients"),
         "optimizer", 0, "clip_grad_norm_ max_norm 0.05 with typical norm ~1", "epi"),
    Case("curriculum_regression", case_curriculum_regression, ("curriculum_regression",),
         ("nan_inf", "zero_loss", "stuck_loss", "dead_component"),
         "curriculum", 600, "harder stage at step 600 after the LR schedule already ended", "plain"),
    Case("memory_leak_graph", case_memory_leak_graph, ("memory_leak",),
         ("nan_inf", "divergence", "loss_spike", "stuck_loss", "zero_loss", "memory_pressure"),
         "memory", 0, "losses.append(loss) keeping every autograd graph", "plain"),
    Case("memory_pressure_autobatch", case_memory_pressure_autobatch, ("memory_pressure",),
         ("nan_inf", "divergence", "stuck_loss", "zero_loss", "memory_leak"),
         "memory", 0, "auto batch size filling 97% of a stated 12 MiB budget", "plain",
         (("capacity", 12 * 2**20),)),
    Case("fp16_overflow_raw_targets", case_fp16_overflow_raw_targets, ("mixed_precision_overflow",),
         ("stuck_loss", "zero_loss", "overfitting", "memory_leak"),
         "numerics", 0, "fp16 + GradScaler on targets in raw units (x1000), SGD lr 1e-3", "hf"),
    Case("healthy_hf_cosine", case_healthy_hf_cosine, (), (), None, None, "none", "hf"),
    Case("healthy_lightning", case_healthy_lightning, (), (), None, None, "none", "lightning"),
    Case("healthy_keras_epochs", case_healthy_keras_epochs, (), (), None, None, "none", "keras"),
    Case("healthy_small_batch_noisy", case_healthy_small_batch_noisy, (), (), None, None, "none", "plain"),
    Case("healthy_epi_clipping", case_healthy_epi_clipping, (), (), None, None, "none", "epi"),
    Case("healthy_resumed", case_healthy_resumed, (), (), None, None, "none", "plain"),
    Case("healthy_lstm", case_healthy_lstm, (), (), None, None, "none", "plain (tensor scalars)"),
    Case("healthy_curriculum", case_healthy_curriculum, (), (), None, None, "none", "plain"),
)
BY_NAME = {c.name: c for c in CASES}


def summarize(record: dict[str, list[tuple[int, float]]]) -> str:
    """A few numbers per tag, so a label can be checked against what was actually logged."""
    lines = []
    for tag, pts in sorted(record.items()):
        v = np.array([p[1] for p in pts])
        fin = v[np.isfinite(v)]
        q = (np.percentile(fin, [0, 50, 100]) if fin.size else [math.nan] * 3)
        lines.append(f"    {tag:36s} n={len(v):5d} nonfinite={len(v) - fin.size:4d} first={v[0]:.3g} "
                     f"last={v[-1]:.3g} min={q[0]:.3g} median={q[1]:.3g} max={q[2]:.3g}")
    return "\n".join(lines)


def generate(case: Case, root: Path = RUNS, verbose: bool = True) -> None:
    t0 = time.time()
    log = case.fn(root / case.name)
    if verbose:
        print(f"{case.name} ({time.time() - t0:.1f}s)")
        print(summarize(log.record))


def write_labels() -> None:
    labels = {"version": 1, "loggable_codes": list(LOGGABLE_CODES), "runs": [c.label() for c in CASES]}
    LABELS.write_text(json.dumps(labels, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", action="append", help="regenerate only this case (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--demo", action="store_true", help="write the README quickstart demo run")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--labels-only", action="store_true", help="rewrite labels.json, train nothing")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.list:
        for c in CASES:
            print(f"{c.name:34s} {'healthy' if c.healthy else ','.join(c.must)}")
        return 0
    if args.demo:
        from demo import make_demo  # kept separate: it is not a corpus case

        make_demo(DEMO_DIR)
        return 0
    unknown = [n for n in args.case or [] if n not in BY_NAME]
    if unknown:
        print(f"unknown case(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    for case in [] if args.labels_only else [BY_NAME[n] for n in args.case] if args.case else CASES:
        generate(case, verbose=not args.quiet)
    write_labels()
    print(f"wrote {LABELS.relative_to(HERE.parents[1])} ({len(CASES)} runs) on {socket.gethostname()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
