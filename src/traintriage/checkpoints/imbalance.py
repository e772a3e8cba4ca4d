"""``architecture_imbalance`` and ``nan_inf`` findings over counted parameters (pure functions).

The embedding check works the numbers out the way a person would: the token table is
vocabulary x d_model, an untied output head repeats it, and the body is the repeated blocks; each
rebalancing option is then priced with the same arithmetic so the user sees what it buys.
Thresholds live in ``rules/architecture_imbalance/thresholds.py``, documented in its ``reference.md``.
"""

from __future__ import annotations

from typing import Any

from ..findings import Evidence, Finding, make_finding
from ..rules.architecture_imbalance.thresholds import (
    BLOCK_RATIO_THRESHOLD,
    EMBEDDING_SHARE_THRESHOLD,
    MIN_PARAMS_FOR_DOMINANT,
    MIN_SIBLINGS,
    MIN_TENSORS,
    SINGLE_TENSOR_SHARE,
)
from .analysis import BlockGroup, token_embedding, untied_head
from .report import NonFinite
from .tensors import TensorInfo


def human(n: float) -> str:
    """12,345,678 -> '12.3M' (the way people say model sizes)."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def embedding_imbalance(params: list[TensorInfo], cat: dict[str, str], total: int,
                        groups: list[BlockGroup]) -> tuple[Finding | None, dict[str, Any]]:
    """Embeddings (+ an untied head) above half the parameters, with rebalancing options priced out."""
    emb = token_embedding(params, cat)
    if emb is None or total == 0:
        return None, {}
    vocab, d = emb.shape
    head = untied_head(params, cat, emb)
    emb_total = sum(t.numel for t in params if cat[t.name] == "embeddings")
    heavy = emb_total + (head.numel if head else 0)
    share = heavy / total
    k = 2 if head else 1
    other_emb = emb_total - emb.numel
    body = total - heavy
    main = groups[0] if groups else None
    arch: dict[str, Any] = {"vocab": vocab, "d_model": d, "token_embedding": emb.name,
                            "untied_head": head.name if head else None, "embedding_parameters": emb_total,
                            "embedding_share": round(share, 6)}
    if main:
        arch.update(blocks=main.container, layers=len(main.counts), per_block=int(main.median))
    if share <= EMBEDDING_SHARE_THRESHOLD:
        return None, arch

    options: list[dict[str, Any]] = []
    if head:
        n = total - head.numel
        options.append({
            "option": "tie_output_head", "change": f"tie {head.name} to {emb.name} (weight sharing)",
            "arithmetic": f"{total:,} - {vocab:,} x {d:,} = {n:,}",
            "parameters": n, "embedding_share": round(emb_total / n, 4),
        })
    v50 = (body - other_emb) // (k * d) if body > other_emb else 0
    v50 = v50 - v50 % 64 if v50 >= 128 else v50
    for v_new in sorted({vocab // 2 - (vocab // 2) % 64 or vocab // 2, v50}, reverse=True):
        if 0 < v_new < vocab:
            n = total - k * (vocab - v_new) * d
            options.append({
                "option": "smaller_vocabulary", "change": f"vocabulary {vocab:,} -> {v_new:,}",
                "arithmetic": f"{k} x {v_new:,} x {d:,} = {k * v_new * d:,} in embedding{'s + head' if head else ''};"
                              f" total {n:,}",
                "parameters": n, "embedding_share": round((k * v_new * d + other_emb) / n, 4),
                "note": "below any practical tokenizer" if v_new < 1000 else None,
            })
    if main and main.median > 0:
        layers, per_block = len(main.counts), main.median
        rest = body - main.total
        for d_new in sorted({max(8, (d // 2) - (d // 2) % 8), max(8, (3 * d // 4) - (3 * d // 4) % 8)}):
            if d_new >= d:
                continue
            r = d_new / d
            emb_new = k * vocab * d_new + round(other_emb * r)
            block_new = per_block * r * r
            rest_new = round(rest * r)
            layers_new = int((total - emb_new - rest_new) // block_new) if block_new else 0
            if layers_new <= layers:
                continue
            n = emb_new + round(layers_new * block_new) + rest_new
            options.append({
                "option": "smaller_d_model_more_layers",
                "change": f"d_model {d} -> {d_new}, layers {layers} -> {layers_new} (same budget)",
                "arithmetic": f"embeddings {k} x {vocab:,} x {d_new} = {k * vocab * d_new:,}; a block scales with "
                              f"d_model^2: {human(per_block)} x ({d_new}/{d})^2 = {human(block_new)}; "
                              f"{layers_new} blocks = {human(layers_new * block_new)}; total {n:,}",
                "parameters": n, "embedding_share": round(emb_new / n, 4),
            })

    head_txt = (f", and the untied output head {head.name} repeats it ({vocab:,} x {d:,} = {head.numel:,})"
                if head else "")
    body_txt = (f" The {len(main.counts)} blocks under '{main.container}' hold {human(main.total)} "
                f"({human(main.median)} each)." if main else "")
    lines = [f"- {o['change']}: {human(o['parameters'])} parameters, embeddings {_pct(o['embedding_share'])}"
             + (f" ({o['note']})" if o.get("note") else "") for o in options]
    message = (
        f"Embeddings{' and output head' if head else ''} hold {human(heavy)} of {human(total)} parameters "
        f"({_pct(share)}): the token embedding {emb.name} is {vocab:,} x {d:,} = {emb.numel:,}{head_txt}."
        f"{body_txt} Most of the model is a lookup table rather than computation. Options:\n" + "\n".join(lines)
    )
    finding = make_finding(
        "architecture_imbalance", "warning",
        f"embeddings hold {_pct(share)} of the parameters (vocab {vocab:,} x d_model {d:,})",
        message,
        confidence=min(0.95, 0.6 + (share - EMBEDDING_SHARE_THRESHOLD)),
        component=emb.name,
        evidence=[
            Evidence(metric="params/embedding_share", value=round(share, 6),
                     expected=f"<= {EMBEDDING_SHARE_THRESHOLD} (embeddings + untied head at most half the model)"),
            Evidence(metric=f"params/{emb.name}", value=emb.numel, expected=f"vocab {vocab:,} x d_model {d:,}"),
            Evidence(metric="params/total", value=total),
        ] + ([Evidence(metric=f"params/{head.name}", value=head.numel, expected="0 extra if tied to the embedding")]
             if head else []),
        details={"kind": "embedding_heavy", **arch, "options": options},
    )
    return finding, arch


def block_outliers(groups: list[BlockGroup]) -> list[Finding]:
    """A numbered block far larger than its siblings (a wrong width, a stray expert, a bad config)."""
    out = []
    for g in groups:
        if len(g.counts) < MIN_SIBLINGS or g.median <= 0:
            continue
        for block, n in g.counts.items():
            ratio = n / g.median
            if ratio > BLOCK_RATIO_THRESHOLD:
                out.append(make_finding(
                    "architecture_imbalance", "warning",
                    f"{block} holds {ratio:.1f}x the parameters of its siblings",
                    f"{block} has {n:,} parameters while the median of the {len(g.counts)} blocks under "
                    f"'{g.container}' is {g.median:,.0f}. Repeated blocks are normally identical; check the "
                    "width or expansion factor passed to this one.",
                    confidence=0.8, component=block,
                    evidence=[Evidence(metric=f"params/{block}", value=n,
                                       expected=f"<= {BLOCK_RATIO_THRESHOLD * g.median:,.0f} "
                                                f"({BLOCK_RATIO_THRESHOLD}x median of '{g.container}' blocks)")],
                    details={"kind": "block_outlier", "container": g.container, "blocks": g.counts},
                ))
    return out


def dominant_tensor(params: list[TensorInfo], cat: dict[str, str], total: int) -> Finding | None:
    """One non-embedding matrix with most of the parameters (e.g. a Linear after a flatten)."""
    if len(params) < MIN_TENSORS or total < MIN_PARAMS_FOR_DOMINANT:
        return None
    t = max(params, key=lambda t: t.numel)
    share = t.numel / total
    if cat[t.name] == "embeddings" or share <= SINGLE_TENSOR_SHARE:
        return None
    dims = " x ".join(f"{s:,}" for s in t.shape)
    return make_finding(
        "architecture_imbalance", "warning", f"{t.name} alone holds {_pct(share)} of the parameters",
        f"{t.name} is {dims} = {t.numel:,} of {total:,} parameters. A single layer this large usually "
        "means a wide input was flattened into a Linear (use global pooling first) or an over-wide projection.",
        confidence=0.6, component=t.name,
        evidence=[Evidence(metric=f"params/{t.name}", value=t.numel,
                           expected=f"<= {SINGLE_TENSOR_SHARE} of {total:,} parameters")],
        details={"kind": "dominant_tensor", "shape": list(t.shape), "share": round(share, 6)},
    )


def nonfinite_finding(bad: list[NonFinite]) -> Finding | None:
    if not bad:
        return None
    names = ", ".join(b.name for b in bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
    total = sum(b.nan + b.inf for b in bad)
    return make_finding(
        "nan_inf", "critical", f"{len(bad)} tensor{'s' if len(bad) > 1 else ''} hold NaN/Inf weights",
        f"Non-finite values in {names} ({total:,} elements). A model with NaN weights outputs NaN: the run "
        "diverged before this checkpoint was saved; resume from an earlier checkpoint.",
        confidence=1.0, component=bad[0].name,
        evidence=[Evidence(metric=f"weights/{b.name}", value=b.nan + b.inf,
                           expected=f"0 non-finite of {b.elements:,} (nan {b.nan:,}, inf {b.inf:,})")
                  for b in bad[:10]],
        details={"tensors": [b.model_dump() for b in bad[:50]]},
    )
