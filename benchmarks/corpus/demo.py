"""The README quickstart's demo run: one small, realistic run with a few faults worth diagnosing.

Why a separate run: corpus runs hold ONE fault each so that detectors can be scored; a person trying the
tool wants to see several findings joined into one triage report. Written by
``.venv-torch/bin/python benchmarks/corpus/generate.py --demo`` to ``src/traintriage/examples/demo_run``.

What is wrong with it, by construction:
  * at step 450 a manual LR change (7e-4 -> 3e-2 for 3 steps, then back) makes the loss and the
    gradient norm jump at the same step; training recovers;
  * ``aux_encoder``'s output goes through a gain of 1e-3 (a mis-set residual scale): it receives
    ~1/1000 of the gradient of the other components and contributes almost nothing;
  * the training set is 384 noisy examples for a 2x128 MLP, so validation loss bottoms out at
    step ~100 and climbs until the bump while the training loss keeps falling.
"""

from __future__ import annotations

from pathlib import Path

import torch
from generate import Log, Loop, Teacher, TwoBranch, mse, seed_all

STEPS = 700
BUMP = 450


def make_demo(out: Path) -> None:
    g = seed_all(2024)
    teacher = Teacher(16, seed=2024)
    x, y = teacher.sample(384, g, noise=0.6)
    val = teacher.sample(1024, g, noise=0.6)
    model = TwoBranch(16, 128, 1, mode="scale", factor=1e-3)
    opt = torch.optim.AdamW(model.parameters(), lr=7e-4, weight_decay=0.0)

    def get_batch(step: int):
        idx = torch.randint(0, len(x), (32,), generator=g)
        return x[idx], y[idx]

    comps = {"encoder": model.branch_a, "aux_encoder": model.branch_b, "head": model.head}
    log = Log(out, style="plain")
    Loop(model, opt, mse, get_batch, steps=STEPS, lr=lambda s: 3e-2 if BUMP <= s < BUMP + 3 else 7e-4,
         components=comps, val=val, val_every=25).run(log)
    log.close()
    n = sum(len(v) for v in log.record.values())
    print(f"demo run: {n} scalars in {out}")
