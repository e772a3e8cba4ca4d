"""Which gradient-norm series are components, how they group into modules, and how layers are ordered.

``signals.infer_roles`` does the first pass (``roles.grad_components``: component -> series, with the
total, pre-clip and post-clip norms already set aside). This module refines it:

* Lightning's ``grad_norm(self, 2)`` logs one norm per *parameter* (``grad_2.0_norm/encoder.layers.3.attn.q.weight``).
  Dozens of parameter-level series say less than a handful of module-level ones, so parameters are
  grouped to modules by a name prefix and their norms combined as ``sqrt(sum of squares)`` (the norm of
  the concatenated gradient, exactly what the module's own norm would have been).
* Layer order (front = nearest the input) is read from names: ``layer00..layerNN``, ``layers.3``,
  ``h.0``, ``blocks.N``, ``encoder.layer.N``, ``net.0``. Vanishing and exploding gradients are statements
  about how the norm changes *along* that order, so they need it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ...signals import RunData, Series

# Last name parts that mark a parameter (not a module): weight, bias, LayerNorm gamma/beta, ...
PARAM_LEAVES = frozenset(
    {
        "weight",
        "bias",
        "gamma",
        "beta",
        "scale",
        "in_proj_weight",
        "in_proj_bias",
        "weight_g",
        "weight_v",
        "embeddings",
        "embedding",
        "pos_embed",
        "cls_token",
        "freqs",
        "alpha",
    }
)

_INT_RE = re.compile(r"[0-9]+")


def number_order(digits: str) -> tuple[int, str]:
    """A key that orders ASCII digit runs as the numbers they spell (``"2" < "10"``, ``"07"`` as ``"7"``)
    without ``int()``, which refuses runs past 4300 digits: a component name is untrusted text."""
    return len(digits.lstrip("0")), digits.lstrip("0")


def natural_key(name: str) -> list[tuple[int, int, str]]:
    """Sort ``layer2`` before ``layer10``: digit runs compare as numbers, the rest as text."""
    parts = _INT_RE.split(name)
    numbers = _INT_RE.findall(name)
    key = []
    for i, text in enumerate(parts):
        key.append((1, 0, text))
        if i < len(numbers):
            size, digits = number_order(numbers[i])
            key.append((0, size, digits))
    return key


@dataclass(frozen=True)
class Component:
    """One component's gradient norm on its own step grid, and the series it came from."""

    name: str
    steps: np.ndarray
    values: np.ndarray
    sources: tuple[str, ...]


def _tokens(name: str) -> list[str]:
    """Split a parameter path into parts, keeping a numeric index with its container (``layers.3``).

    ``encoder.layer.3.attn.weight`` -> ``[encoder, layer.3, attn, weight]``, so that a prefix of depth d
    never cuts a stack between its name and its index.
    """
    parts = [p for p in re.split(r"[./]", name) if p]
    out: list[str] = []
    for p in parts:
        if p.isdigit() and out:
            out[-1] = f"{out[-1]}.{p}"
        else:
            out.append(p)
    return out


def looks_per_parameter(names: list[str]) -> bool:
    """True when most names end in a parameter leaf (``.weight``, ``.bias``): Lightning-style logs."""
    if not names:
        return False
    hits = sum(1 for n in names if len(_tokens(n)) >= 2 and _tokens(n)[-1].lower() in PARAM_LEAVES)
    return hits >= max(2, len(names) // 2)


def _group_names(names: list[str], depth: int) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for n in names:
        toks = _tokens(n)
        if len(toks) >= 2 and toks[-1].lower() in PARAM_LEAVES:
            toks = toks[:-1]
        key = ".".join(toks[: max(1, depth)]) or n
        groups.setdefault(key, []).append(n)
    return groups


def _expand_stacks(groups: dict[str, list[str]], depth: int) -> dict[str, list[str]]:
    """Split a group whose children are a numbered stack (``encoder`` -> ``encoder.layer.0 .. 11``).

    Why: the smallest prefix that separates modules usually lumps every transformer block into one
    ``encoder`` group, hiding exactly the front-vs-back profile that vanishing/exploding checks need.
    """
    out: dict[str, list[str]] = {}
    for key, members in groups.items():
        children = _group_names(members, depth + 1)
        numbered = [c for c in children if re.search(r"\.\d+$", _tokens(c)[-1])]
        if len(children) >= 2 and len(numbered) == len(children) and depth < 8:
            out.update(_expand_stacks(children, depth + 1))
        else:
            out[key] = members
    return out


def auto_depth(names: list[str]) -> int:
    """The smallest prefix depth at which the parameter names split into at least two modules."""
    max_len = max((len(_tokens(n)) for n in names), default=1)
    for d in range(1, max_len + 1):
        if len(_group_names(names, d)) >= 2:
            return d
    return 1


def group_parameters(names: list[str], depth: int | None = None) -> dict[str, list[str]]:
    """Group parameter-level component names into modules: ``{module: [parameter names]}``.

    ``depth`` is the number of name parts kept (an index stays with its container, so ``layers.3``
    is one part). ``None`` picks the smallest depth giving two or more groups, then splits numbered
    stacks into their layers.
    """
    if depth is not None:
        return _group_names(names, depth)
    d = auto_depth(names)
    return _expand_stacks(_group_names(names, d), d)


def combine_norms(series: list[Series]) -> tuple[np.ndarray, np.ndarray]:
    """sqrt(sum of squares) of several norms, on the steps where all of them were logged."""
    steps = series[0].steps
    for s in series[1:]:
        steps = np.intersect1d(steps, s.steps)
    total = np.zeros(steps.shape, dtype=np.float64)
    for s in series:
        idx = np.searchsorted(s.steps, steps)
        total += s.values[idx] ** 2
    return steps, np.sqrt(total)


def find_components(run: RunData, depth: int | None = None) -> tuple[list[Component], list[str]]:
    """The run's gradient components (grouped to modules when logged per parameter), and notes on how."""
    roles = run.roles
    notes: list[str] = []
    mapping = {c: n for c, n in roles.grad_components.items() if n in run.series and len(run.series[n])}
    names = list(mapping)
    if not names:
        return [], notes
    if depth is not None or looks_per_parameter(names):
        groups = group_parameters(names, depth)
        if any(len(m) > 1 for m in groups.values()) or depth is not None:
            notes.append(
                f"{len(names)} per-parameter gradient norms grouped into {len(groups)} modules "
                f"(sqrt of summed squares; depth={'auto' if depth is None else depth})."
            )
    else:
        groups = {n: [n] for n in names}
    comps = []
    for key, members in groups.items():
        series = [run.series[mapping[m]] for m in members]
        if len(series) == 1:
            steps, values = series[0].steps, series[0].values
        else:
            steps, values = combine_norms(series)
        comps.append(Component(key, steps, values, tuple(mapping[m] for m in members)))
    return comps, notes


def layer_stacks(names: list[str], min_layers: int = 3) -> list[list[str]]:
    """Ordered layer stacks (front = nearest the input) among component names.

    Names that become identical once their integers are masked (``layer00``/``layer07``,
    ``encoder.layer.3``, ``h.11``, ``net.0``) form a stack, ordered by those integers. A stack needs at
    least ``min_layers`` layers: with two, "front vs back" is a single ratio, too easy to fool.
    """
    by_key: dict[str, list[tuple[tuple[int, ...], str]]] = {}
    for n in names:
        ints = tuple(number_order(x) for x in _INT_RE.findall(n))
        if not ints:
            continue
        by_key.setdefault(_INT_RE.sub("#", n), []).append((ints, n))
    stacks = []
    for members in by_key.values():
        if len({i for i, _ in members}) >= min_layers:
            stacks.append([n for _, n in sorted(members)])
    return stacks
