"""Weight health from the streamed value scan: dead tensors, collapsed norm gains, norm outliers, stale rows.

Why: a checkpoint shows damage the loss curve hides. A weight matrix that is all zero passes nothing
on (a layer that never trained, or was zeroed by a bad load); a LayerNorm/RMSNorm gain collapsed
toward 0 silences its block; one layer's weights orders of magnitude larger or smaller than its
siblings' (the same tensor in the other numbered blocks) points at a bad init, a missed weight decay
group or a blow-up in that layer; embedding rows that are all zero, or exact copies of each other,
were almost surely never updated (tokens never seen: identical to a seeded init cannot be known, so
zero or equal rows are what we can see).

Pure functions over the scan results; thresholds are the owning rules' constants
(``rules/dead_component/thresholds.py``, ``rules/architecture_imbalance/thresholds.py``), stated on their
reference pages. Codes: ``dead_component`` for dead tensors,
collapsed gains and stale rows; ``architecture_imbalance`` for a weight norm far from its siblings.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict

from ..findings import Evidence, Finding, make_finding
from ..rules.architecture_imbalance.thresholds import NORM_MIN_SIBLINGS, NORM_RATIO
from ..rules.dead_component.thresholds import COLLAPSED_GAIN, MIN_STALE_ROWS, STALE_ROW_SHARE
from .scan import TensorScan
from .tensors import FLOAT_DTYPES, TensorInfo

_GAIN_NAMES = ("weight", "scale", "gamma", "g", "gain")
_NUMBER = re.compile(r"(?<=\.)\d+(?=\.)")


def dead_tensors(params: list[TensorInfo], all_zero: list[str]) -> Finding | None:
    """Weight matrices (2-D and up) whose every element is zero."""
    ndim = {t.name: len(t.shape) for t in params}
    dead = [n for n in all_zero if ndim.get(n, 0) >= 2]
    if not dead:
        return None
    names = ", ".join(dead[:10]) + (f" and {len(dead) - 10} more" if len(dead) > 10 else "")
    return make_finding(
        "dead_component", "warning", f"{len(dead)} weight matri{'ces are' if len(dead) > 1 else 'x is'} all zero",
        f"Every element of {names} is exactly 0: such a layer passes no signal and gets no gradient through "
        "its input. Untrained (zero-initialised and never updated), zeroed by a failed load or a pruning "
        "mask, or the checkpoint was saved before the weights were copied in.",
        confidence=0.85, component=dead[0],
        evidence=[Evidence(metric=f"weights/{n}", value=0.0, expected="some nonzero element") for n in dead[:10]],
        details={"kind": "all_zero", "tensors": dead[:50]},
    )


def _is_gain(t: TensorInfo, category: str) -> bool:
    return (category == "norms" and len(t.shape) == 1 and t.dtype in FLOAT_DTYPES
            and t.name.rsplit(".", 1)[-1] in _GAIN_NAMES)


def collapsed_gains(params: list[TensorInfo], cat: dict[str, str], scans: dict[str, TensorScan]) -> Finding | None:
    """LayerNorm / RMSNorm gains whose mean magnitude fell below :data:`COLLAPSED_GAIN`."""
    bad: list[tuple[str, float, int]] = []
    for t in params:
        s = scans.get(t.name)
        if s is None or not _is_gain(t, cat.get(t.name, "")) or t.numel == 0 or s.nan or s.inf:
            continue
        mean_abs = s.abs_sum / t.numel
        if mean_abs < COLLAPSED_GAIN:
            bad.append((t.name, mean_abs, s.near_zero))
    if not bad:
        return None
    names = ", ".join(n for n, _, _ in bad[:10])
    return make_finding(
        "dead_component", "warning", f"{len(bad)} normalisation gain{'s' if len(bad) > 1 else ''} collapsed toward 0",
        f"The gains of {names} average below {COLLAPSED_GAIN} (they start at 1.0): the normalised output is "
        "scaled to almost nothing, so the block behind it is silenced. Common causes: weight decay applied to "
        "norm gains (exclude norms and biases from decay), a too-high learning rate, or a bad load.",
        confidence=0.8, component=bad[0][0],
        evidence=[Evidence(metric=f"weights/{n}/mean_abs", value=round(v, 8),
                           expected=f">= {COLLAPSED_GAIN} (gains start at 1.0); {z:,} elements below 1e-3")
                  for n, v, z in bad[:10]],
        details={"kind": "collapsed_norm_gain", "tensors": [n for n, _, _ in bad[:50]]},
    )


def norm_outliers(params: list[TensorInfo], scans: dict[str, TensorScan]) -> list[Finding]:
    """A tensor whose RMS is :data:`NORM_RATIO` times above or below the median of its siblings (the same
    name in the other numbered blocks: ``blocks.*.attn.qkv.weight``)."""
    groups: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for t in params:
        s = scans.get(t.name)
        if (s is None or t.numel == 0 or s.nan or s.inf or not s.nonzero or t.dtype not in FLOAT_DTYPES
                or len(t.shape) < 2):  # all-zero tensors are reported as dead, not as outliers
            continue
        pattern = _NUMBER.sub("*", t.name)
        if pattern != t.name:
            groups[pattern].append((t.name, math.sqrt(s.sumsq / t.numel)))
    out = []
    for pattern, members in groups.items():
        if len(members) < NORM_MIN_SIBLINGS:
            continue
        # A plain median of a handful of RMS values: detectors.robust_stats has rolling medians and MAD
        # scales over series (numpy), nothing for one small sample, so the standard library's is used.
        median = statistics.median(r for _, r in members)
        if median <= 0:
            continue
        for name, rms in members:
            ratio = rms / median
            if ratio >= NORM_RATIO or ratio <= 1 / NORM_RATIO:
                word = "above" if ratio > 1 else "below"
                factor = ratio if ratio > 1 else (1 / ratio if ratio > 0 else math.inf)
                out.append(make_finding(
                    "architecture_imbalance", "warning",
                    f"{name}: weights {factor:,.0f}x {word} its siblings'",
                    f"The RMS of {name} is {rms:.3g}; the median over the {len(members)} tensors matching "
                    f"'{pattern}' is {median:.3g}. Repeated layers normally have weights of one scale: a bad "
                    "initialisation of this layer, a parameter group without weight decay, or a blow-up that "
                    "started here.",
                    confidence=0.7, component=name,
                    evidence=[Evidence(metric=f"weights/{name}/rms", value=round(rms, 8),
                                       expected=f"within {NORM_RATIO:.0f}x of {median:.3g} (median of '{pattern}')")],
                    details={"kind": "weight_norm_outlier", "pattern": pattern, "ratio": round(ratio, 6),
                             "first_fix": _norm_outlier_fix(name, pattern, factor, word)},
                ))
    return out


def _norm_outlier_fix(name: str, pattern: str, factor: float, word: str) -> str:
    """The first thing to check for a weight tensor far from its siblings' scale (the plan's step)."""
    if word == "above":
        return (f"find why {name} is {factor:,.0f}x its siblings' scale: compare its initialisation and its "
                f"parameter group's weight decay with the other '{pattern}' tensors', and log its gradient norm "
                "to see whether a blow-up started there")
    return (f"find why {name} is {factor:,.0f}x below its siblings' scale: check that it is in the optimizer and "
            f"not frozen, and that its parameter group's weight decay matches the other '{pattern}' tensors'")


def stale_embedding_rows(params: list[TensorInfo], scans: dict[str, TensorScan]) -> list[Finding]:
    """Embedding tables with many rows all zero, or identical to another row: rows never updated."""
    out = []
    for t in params:
        s = scans.get(t.name)
        if s is None or s.zero_rows is None or s.duplicate_rows is None or not s.rows_seen:
            continue
        stale = s.zero_rows + s.duplicate_rows
        share = stale / s.rows_seen
        if stale < MIN_STALE_ROWS or share < STALE_ROW_SHARE:
            continue
        out.append(make_finding(
            "dead_component", "warning", f"{t.name}: {stale:,} of {s.rows_seen:,} rows look never updated",
            f"{s.zero_rows:,} rows of {t.name} are all zero and {s.duplicate_rows:,} are exact copies of another "
            "row. Trained rows differ from each other; zero or equal rows are tokens that never reached a "
            "gradient (never seen in the data, or masked), a vocabulary larger than the tokenizer's, or an "
            "init that was never trained.",
            confidence=0.7, component=t.name,
            evidence=[Evidence(metric=f"weights/{t.name}/zero_rows", value=s.zero_rows,
                               expected=f"<= 1 (a padding row) of {s.rows_seen:,}"),
                      Evidence(metric=f"weights/{t.name}/duplicate_rows", value=s.duplicate_rows,
                               expected="0 (trained rows differ)")],
            details={"kind": "stale_embedding_rows", "share": round(share, 6)},
        ))
    return out


def embedding_tables(params: list[TensorInfo], cat: dict[str, str]) -> set[str]:
    """Names whose rows the scan should check: 2-D float tables in the embeddings category."""
    return {t.name for t in params if cat.get(t.name) == "embeddings" and len(t.shape) == 2
            and t.dtype in FLOAT_DTYPES and t.shape[0] > 1}
