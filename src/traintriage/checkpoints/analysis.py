"""Counting, grouping and tie detection over :class:`TensorInfo` records (pure functions).

Every format ends up here, so counts mean the same thing everywhere: parameters are float tensors
that are not buffers, each stored tensor counted once (tied names share one count, credited to
the embedding when an embedding is among them).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from .categories import categorize, is_buffer
from .report import (
    CATEGORIES,
    BufferStats,
    CategoryStats,
    DtypeStats,
    ModuleNode,
    TensorEntry,
    TiedGroup,
)
from .scan import TensorScan
from .tensors import TensorInfo
from .unwrap import _natural

MIN_VALUE_TIE_ELEMENTS = 1024
_HEAD_HINTS = ("lm_head", "head", "output", "embed_out", "decoder", "classifier")


@dataclass
class Counted:
    """The tensors split into parameters (unique), tied duplicates and buffers."""

    params: list[TensorInfo]
    duplicates: dict[str, str]  # duplicate name -> name it is counted under
    buffers: list[TensorInfo]
    tied: list[TiedGroup] = field(default_factory=list)
    category: dict[str, str] = field(default_factory=dict)


def value_tie_candidates(tensors: list[TensorInfo]) -> set[str]:
    """Names worth hashing: large matrices that share dtype and shape with another stored tensor."""
    by_key: dict[tuple, set] = defaultdict(set)
    for t in tensors:
        if len(t.shape) >= 2 and t.numel >= MIN_VALUE_TIE_ELEMENTS and t.location is not None:
            by_key[(t.dtype, t.shape)].add(t.identity)
    names = set()
    for t in tensors:
        key = (t.dtype, t.shape)
        if key in by_key and len(by_key[key]) > 1:
            names.add(t.name)
    return names


def _canonical(names: list[str]) -> list[str]:
    """Order a tie group: the embedding first (it is what the weights are), then natural order."""
    return sorted(names, key=lambda n: (categorize(n) != "embeddings", _natural(n)))


def count(tensors: list[TensorInfo], scans: dict[str, TensorScan], *, values_compared: bool) -> Counted:
    buffers = [t for t in tensors if is_buffer(t.name, t.dtype, len(t.shape))]
    buffer_names = {t.name for t in buffers}
    params = [t for t in tensors if t.name not in buffer_names]
    groups: list[tuple[list[str], str]] = []

    by_identity: dict[tuple, list[str]] = defaultdict(list)
    for t in params:
        if t.identity is not None:
            by_identity[t.identity].append(t.name)
    groups += [(names, "shared_storage") for names in by_identity.values() if len(names) > 1]

    grouped = {n for names, _ in groups for n in names}
    by_digest: dict[tuple, list[str]] = defaultdict(list)
    for t in params:
        s = scans.get(t.name)
        if s is not None and s.digest and s.nonzero and t.name not in grouped:
            by_digest[(t.dtype, t.shape, s.digest)].append(t.name)
    groups += [(names, "identical_values") for names in by_digest.values() if len(names) > 1]

    names_present = {t.name for t in params}
    for t in params:  # known tying from a config (analytic counts)
        if t.tied_to and t.tied_to in names_present:
            groups.append(([t.tied_to, t.name], "config"))

    duplicates: dict[str, str] = {}
    tied: list[TiedGroup] = []
    by_name = {t.name: t for t in params}
    for names, how in groups:
        ordered = _canonical(names)
        for dup in ordered[1:]:
            duplicates[dup] = ordered[0]
        first = by_name[ordered[0]]
        tied.append(TiedGroup(names=ordered, shape=list(first.shape), parameters=first.numel, how=how,
                              counted_once=True))

    if not values_compared:  # head and embedding of one shape, stored separately: maybe tied, unconfirmed
        grouped = {n for g in tied for n in g.names}
        emb = [t for t in params if categorize(t.name) == "embeddings" and len(t.shape) == 2]
        heads = [t for t in params if categorize(t.name) == "output_head" and len(t.shape) == 2]
        for h in heads:
            for e in emb:
                if h.shape == e.shape and h.name not in grouped and e.name not in grouped and h.dtype == e.dtype:
                    tied.append(TiedGroup(names=[e.name, h.name], shape=list(e.shape), parameters=e.numel,
                                          how="name_convention", counted_once=False))

    unique = [t for t in params if t.name not in duplicates]
    return Counted(params=unique, duplicates=duplicates, buffers=buffers, tied=tied,
                   category={t.name: categorize(t.name) for t in tensors})


def buffer_stats(buffers: list[TensorInfo]) -> BufferStats:
    return BufferStats(tensors=len(buffers), elements=sum(t.numel for t in buffers),
                       bytes=sum(t.nbytes for t in buffers), names=[t.name for t in buffers[:20]])


def by_dtype(params: list[TensorInfo]) -> list[DtypeStats]:
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for t in params:
        a = acc[t.dtype]
        a[0] += 1
        a[1] += t.numel
        a[2] += t.nbytes
    return [DtypeStats(dtype=d, tensors=a[0], parameters=a[1], bytes=a[2])
            for d, a in sorted(acc.items(), key=lambda kv: -kv[1][1])]


def _share(n: int, total: int) -> float:
    return round(n / total, 6) if total else 0.0


def categories(params: list[TensorInfo], cat: dict[str, str], total: int) -> list[CategoryStats]:
    counts = {c: [0, 0] for c in CATEGORIES}
    for t in params:
        counts[cat[t.name]][0] += t.numel
        counts[cat[t.name]][1] += 1
    return [CategoryStats(category=c, parameters=n, share=_share(n, total), tensors=k)  # type: ignore[arg-type]
            for c, (n, k) in counts.items()]


def tree(params: list[TensorInfo], total: int, depth: int) -> list[ModuleNode]:
    """Parameters grouped by module prefix, ``depth`` levels deep (``blocks`` -> ``blocks.0`` -> ...)."""
    depth = max(1, depth)
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    parent: dict[str, str | None] = {}
    for t in params:
        parts = t.name.split(".")
        modules = parts[:-1] or parts
        prev = None
        for level in range(1, min(depth, len(modules)) + 1):
            key = ".".join(modules[:level])
            s = stats[key]
            s[0] += t.numel
            s[1] += t.nbytes
            s[2] += 1
            parent.setdefault(key, prev)
            prev = key
    nodes = {k: ModuleNode(name=k, parameters=s[0], bytes=s[1], share=_share(s[0], total), tensors=s[2])
             for k, s in stats.items()}
    roots: list[ModuleNode] = []
    for key in sorted(nodes, key=_natural):
        p = parent[key]
        (nodes[p].children if p else roots).append(nodes[key])
    return roots


def largest(params: list[TensorInfo], cat: dict[str, str], n: int = 10) -> list[TensorEntry]:
    top = sorted(params, key=lambda t: -t.numel)[:n]
    return [TensorEntry(name=t.name, shape=list(t.shape), dtype=t.dtype, parameters=t.numel,
                        category=cat[t.name]) for t in top]  # type: ignore[arg-type]


@dataclass
class BlockGroup:
    """Numbered siblings (``blocks.0``, ``blocks.1``, ...): the repeated units of a model."""

    container: str
    counts: dict[str, int]  # block name -> parameters

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def median(self) -> float:
        return float(statistics.median(self.counts.values()))


def block_groups(params: list[TensorInfo]) -> list[BlockGroup]:
    acc: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for t in params:
        parts = t.name.split(".")
        for i, p in enumerate(parts[:-1]):
            if p.isdigit():
                acc[".".join(parts[:i])][".".join(parts[: i + 1])] += t.numel
    groups = [BlockGroup(c, dict(sorted(b.items(), key=lambda kv: _natural(kv[0])))) for c, b in acc.items()
              if len(b) >= 2]
    return sorted(groups, key=lambda g: -g.total)


def token_embedding(params: list[TensorInfo], cat: dict[str, str]) -> TensorInfo | None:
    """The largest 2-D embedding table: its shape is (vocabulary, d_model)."""
    emb = [t for t in params if cat[t.name] == "embeddings" and len(t.shape) == 2]
    return max(emb, key=lambda t: t.numel) if emb else None


def untied_head(params: list[TensorInfo], cat: dict[str, str], emb: TensorInfo) -> TensorInfo | None:
    """An output projection of the embedding's shape (or its transpose) stored separately."""
    v, d = emb.shape
    for t in params:
        if t.name != emb.name and cat[t.name] == "output_head" and t.shape in ((v, d), (d, v)):
            return t
    return None
