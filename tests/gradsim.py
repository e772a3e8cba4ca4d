"""Tiny numpy training loops that produce REAL gradient norms, for the gradnorm tests.

Each runs backprop by hand on a small regression task (a random teacher network), so the norms come
from the mechanisms the detectors are meant to see (a detached/zero-gain branch, sigmoid stacks,
large init, clipping), not from curves drawn to match a threshold.
"""

from __future__ import annotations

import numpy as np


def _act(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if name == "sigmoid":
        a = 1.0 / (1.0 + np.exp(-z))
        return a, a * (1 - a)
    if name == "tanh":
        a = np.tanh(z)
        return a, 1 - a**2
    return np.maximum(z, 0), (z > 0).astype(float)


def deep_stack(
    *, depth: int = 10, width: int = 16, act: str = "relu", init_gain: float = 1.0, steps: int = 300,
    lr: float = 1e-2, seed: int = 0, clip: float | None = None,
) -> dict[str, np.ndarray]:
    """Plain MLP stack trained with SGD; returns per-layer grad norms (``layerNN``), loss, pre/post-clip norms."""
    rng = np.random.default_rng(seed)
    teacher = rng.normal(size=(width, 1))
    ws = [rng.normal(size=(width, width)) * init_gain / np.sqrt(width) for _ in range(depth)]
    head = rng.normal(size=(width, 1)) / np.sqrt(width)
    out: dict[str, list[float]] = {f"layer{i:02d}": [] for i in range(depth)}
    out.update(loss=[], total=[], post=[])
    for _ in range(steps):
        x = rng.normal(size=(32, width))
        y = np.tanh(x @ teacher) + 0.1 * rng.normal(size=(32, 1))
        hs, ds = [x], []
        for w in ws:
            with np.errstate(all="ignore"):
                a, d = _act(act, hs[-1] @ w)
            hs.append(a)
            ds.append(d)
        pred = hs[-1] @ head
        err = pred - y
        loss = float(np.mean(err**2))
        g = 2 * err / len(x)
        g_head = hs[-1].T @ g
        gh = g @ head.T
        grads = []
        for i in reversed(range(depth)):
            with np.errstate(all="ignore"):
                gz = gh * ds[i]
                grads.append(hs[i].T @ gz)
                gh = gz @ ws[i].T
        grads = grads[::-1]
        with np.errstate(all="ignore"):
            norms = [float(np.linalg.norm(gw)) for gw in grads]
            total = float(np.sqrt(sum(n**2 for n in norms) + np.linalg.norm(g_head) ** 2))
        scale = min(1.0, clip / (total + 1e-12)) if clip is not None and np.isfinite(total) else 1.0
        for i, n in enumerate(norms):
            out[f"layer{i:02d}"].append(n)
        out["loss"].append(loss)
        out["total"].append(total)
        out["post"].append(total * scale)
        with np.errstate(all="ignore"):
            for w, gw in zip(ws, grads, strict=True):
                w -= lr * scale * gw
            head -= lr * scale * g_head
    return {k: np.asarray(v) for k, v in out.items()}


def two_branch(*, factor: float = 1.0, steps: int = 300, seed: int = 0, width: int = 16) -> dict[str, np.ndarray]:
    """Two ReLU branches concatenated into a linear head; branch_b's output is multiplied by ``factor``
    (0: a detached/zeroed branch, tiny: a mis-set gain). Adam, so the head still learns normally."""
    rng = np.random.default_rng(seed)
    teacher = rng.normal(size=(width, 1))
    params = {
        "branch_a": rng.normal(size=(width, width)) / np.sqrt(width),
        "branch_b": rng.normal(size=(width, width)) / np.sqrt(width),
        "head": rng.normal(size=(2 * width, 1)) / np.sqrt(2 * width),
    }
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v2 = {k: np.zeros_like(v) for k, v in params.items()}
    out: dict[str, list[float]] = {k: [] for k in params}
    out.update(loss=[], total=[])
    for t in range(1, steps + 1):
        x = rng.normal(size=(32, width))
        y = np.tanh(x @ teacher) + 0.1 * rng.normal(size=(32, 1))
        za, zb = x @ params["branch_a"], x @ params["branch_b"]
        a, b = np.maximum(za, 0), np.maximum(zb, 0) * factor
        h = np.concatenate([a, b], axis=1)
        err = h @ params["head"] - y
        g = 2 * err / len(x)
        grads = {"head": h.T @ g}
        gh = g @ params["head"].T
        grads["branch_a"] = x.T @ (gh[:, :width] * (za > 0))
        grads["branch_b"] = x.T @ (gh[:, width:] * factor * (zb > 0))
        for k in params:
            out[k].append(float(np.linalg.norm(grads[k])))
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            v2[k] = 0.999 * v2[k] + 0.001 * grads[k] ** 2
            params[k] -= 1e-3 * (m[k] / (1 - 0.9**t)) / (np.sqrt(v2[k] / (1 - 0.999**t)) + 1e-8)
        out["loss"].append(float(np.mean(err**2)))
        out["total"].append(float(np.sqrt(sum(out[k][-1] ** 2 for k in params))))
    return {k: np.asarray(v) for k, v in out.items()}
