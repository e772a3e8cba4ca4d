"""count_parameters: what a checkpoint holds, read safely.

Counts come from metadata only (the safetensors JSON header, the torch pickle read with a
restricted unpickler), so they are instant whatever the file size and nothing in the file is ever
executed. An optional streamed pass over the tensor bytes finds NaN/Inf and all-zero tensors and
confirms tied weights by content. ``torch`` is never imported.

Public API::

    count_parameters(path, *, sandbox, depth=2, scan_values=None, max_scan_bytes=8 GiB, progress=None) -> ParamReport

The value scan is on by default for checkpoints whose tensors hold at most ``AUTO_SCAN_BYTES``
(2 GiB) and opt-in above (``scan_values=True``; ``traintriage params --scan``): counting a 10 GB
checkpoint then reads headers and metadata only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import TargetNotFoundError
from ..findings import sort_findings
from ..sandbox import Sandbox
from .report import CheckpointInfo, NonFinite, ParamReport, ValueScan

# The readers and the analysis (numpy) are imported by count_parameters() itself: the MCP server
# imports this package for ParamReport at start-up and must not pay for numpy there.

DEFAULT_MAX_SCAN_BYTES = 8 * 1024**3
AUTO_SCAN_BYTES = 2 * 1024**3

__all__ = ["AUTO_SCAN_BYTES", "DEFAULT_MAX_SCAN_BYTES", "ParamReport", "count_parameters"]


def _expand(path: str | Path) -> Path:
    if "\0" in str(path):
        raise TargetNotFoundError("the checkpoint path holds a NUL byte, which no path can.",
                                  hint="Give a checkpoint file or a model directory.")
    try:
        return Path(path).expanduser()
    except RuntimeError:  # ~user of a user that does not exist: the name as it is
        return Path(path)


def count_parameters(
    path: str | Path,
    *,
    depth: int = 2,
    scan_values: bool | None = None,
    max_scan_bytes: int | None = DEFAULT_MAX_SCAN_BYTES,
    sandbox: Sandbox,
    progress: Callable[[int, int], None] | None = None,
) -> ParamReport:
    """Count and locate the parameters of a checkpoint (file or model directory).

    ``depth`` is how many module levels the tree shows. ``scan_values`` streams tensor bytes to
    find NaN/Inf, all-zero tensors and value-identical (tied) copies; at most ``max_scan_bytes``
    are read (None: no limit), tensors past it are listed as skipped. ``scan_values=None`` (the
    default) scans when the tensors hold at most :data:`AUTO_SCAN_BYTES`, and says how to ask for
    the scan when they hold more. Raises
    ``TargetNotFoundError``, ``InputError`` or ``UnsafeArtifactError`` (a pickle naming a global
    outside the tensor-rebuild allowlist; nothing in it runs). ``sandbox`` (the MCP server's roots)
    confines the target, every shard and every file read beside it; a relative path is looked up under
    each root. ``progress(bytes_scanned, bytes_planned)`` is called after each tensor of the value scan.

    With the scan, the weights' health is checked too (:mod:`.health`): all-zero matrices, collapsed
    norm gains and stale embedding rows (``dead_component``), a layer's weight norm orders of magnitude
    from its siblings' (``architecture_imbalance``), NaN/Inf (``nan_inf``).
    """
    from . import analysis, health
    from .categories import categorize
    from .imbalance import block_outliers, dominant_tensor, embedding_imbalance, nonfinite_finding
    from .loader import load, within
    from .scan import scan_tensors

    loaded = load(within(_expand(path), sandbox), sandbox=sandbox)
    warnings = list(loaded.warnings)
    tensors = loaded.tensors

    scans: dict = {}
    value_scan = None
    if scan_values is None:
        stored = sum(t.nbytes for t in tensors if t.location is not None)
        scan_values = stored <= AUTO_SCAN_BYTES
        if not scan_values:
            warnings.append(f"value scan not run: the tensors hold {stored / 1e9:.1f} GB, over the "
                            f"{AUTO_SCAN_BYTES / 1e9:.1f} GB read by default; ask for it with scan_values=true "
                            "(traintriage params --scan) to check NaN/Inf, dead and tied weights.")
    if scan_values and loaded.locate is not None:  # DCP: where the bytes are is looked up only to scan them
        tensors = [loaded.locate(t) for t in tensors]
        unlocated = [t.name for t in tensors if t.location is None]
        if unlocated:
            warnings.append(f"{len(unlocated)} tensors of the distributed checkpoint are counted, not scanned "
                            f"(e.g. {unlocated[0]}): sharded into several chunks, unreadable, or their .distcp "
                            "file lies outside the roots.")
    can_scan = scan_values and any(t.location is not None for t in tensors)
    if can_scan:
        digest = analysis.value_tie_candidates(tensors)
        unique: dict = {}
        for t in tensors:  # shared storages are scanned once, under their first name
            unique.setdefault(t.identity or t.name, t)
        tables = health.embedding_tables(tensors, {t.name: categorize(t.name) for t in tensors})
        scans, skipped, read = scan_tensors(list(unique.values()), budget_bytes=max_scan_bytes, digest_names=digest,
                                            row_names=tables, progress=progress)
        for t in tensors:
            first = unique.get(t.identity or t.name)
            if first is not None and first.name in scans and t.name not in scans:
                scans[t.name] = scans[first.name]
        nonfinite = [NonFinite(name=t.name, nan=s.nan, inf=s.inf, elements=t.numel)
                     for t in tensors if (s := scans.get(t.name)) and (s.nan or s.inf)]
        all_zero = [t.name for t in tensors if (s := scans.get(t.name)) and not s.nonzero and t.numel > 0]
        value_scan = ValueScan(scanned_tensors=len(scans), scanned_bytes=read, skipped=skipped,
                               nonfinite=nonfinite, all_zero=all_zero)
        if skipped:
            warnings.append(f"{len(skipped)} tensors not scanned for NaN/Inf (e.g. {skipped[0]}).")
        ndim = {t.name: len(t.shape) for t in tensors}  # a lookup per name was quadratic: minutes at 100k tensors
        zero_mats = [n for n in all_zero if ndim[n] >= 2]
        if zero_mats:
            warnings.append(f"all-zero weight matrices: {', '.join(zero_mats[:10])} (untrained or dead layers?).")

    counted = analysis.count(tensors, scans, values_compared=bool(scans))
    params = counted.params
    total = sum(t.numel for t in params)
    cat = counted.category
    groups = analysis.block_groups(params)

    findings = []
    emb_finding, arch = embedding_imbalance(params, cat, total, groups)
    if emb_finding:
        findings.append(emb_finding)
    findings += block_outliers(groups)
    if (dom := dominant_tensor(params, cat, total)) is not None:
        findings.append(dom)
    if value_scan and (nf := nonfinite_finding(value_scan.nonfinite)) is not None:
        findings.append(nf)
    if value_scan:
        findings += [f for f in (health.dead_tensors(params, value_scan.all_zero),
                                 health.collapsed_gains(params, cat, scans)) if f is not None]
        findings += health.norm_outliers(params, scans)
        findings += health.stale_embedding_rows(params, scans)
    if not arch and groups:
        arch = {"blocks": groups[0].container, "layers": len(groups[0].counts), "per_block": int(groups[0].median)}
    if any(g.how == "name_convention" for g in counted.tied):
        warnings.append("an output head and an embedding have the same shape but their values were not compared "
                        "(scan off or skipped); both are counted.")

    files = [str(f) for f in loaded.files]
    return ParamReport(
        checkpoint=CheckpointInfo(
            path=str(loaded.path), format=loaded.format, files=files[:50],  # type: ignore[arg-type]
            file_bytes=sum(f.stat().st_size for f in loaded.files if f.exists()),
            state_dict_key=loaded.state_dict_key, prefixes_stripped=loaded.prefixes_stripped,
            other_keys=loaded.other_keys, metadata=loaded.metadata, layout=loaded.layout,  # type: ignore[arg-type]
            hyperparameters=loaded.hyperparameters, recorded_by_name=dict(loaded.recorded_by_name.most_common(50)),
            companions=[str(p) for p in loaded.companions[:50]],
        ),
        warnings=warnings,
        findings=sort_findings(findings),
        total_parameters=total,
        total_bytes=sum(t.nbytes for t in params),
        tensors=len(tensors),
        by_dtype=analysis.by_dtype(params),
        categories=analysis.categories(params, cat, total),
        depth=depth,
        tree=analysis.tree(params, total, depth),
        largest_tensors=analysis.largest(params, cat),
        tied=counted.tied,
        buffers=analysis.buffer_stats(counted.buffers),
        optimizer=loaded.optimizer,
        value_scan=value_scan,
        architecture=arch,
    )
