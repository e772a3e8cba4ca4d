"""The ``--text`` rendering of a :class:`ParamReport`: what a person reads in a terminal."""

from __future__ import annotations

from .imbalance import human
from .report import ModuleNode, ParamReport


def _tree_lines(nodes: list[ModuleNode], indent: int = 0, limit: int = 12) -> list[str]:
    lines = []
    for node in nodes[:limit]:
        short = node.name.rsplit(".", 1)[-1] if indent else node.name
        lines.append(f"{'  ' * (indent + 1)}{short:<28} {node.parameters:>14,}  {100 * node.share:5.1f}%")
        lines += _tree_lines(node.children, indent + 1, limit)
    if len(nodes) > limit:
        lines.append(f"{'  ' * (indent + 1)}... {len(nodes) - limit} more")
    return lines


def render(r: ParamReport) -> str:
    c = r.checkpoint
    out = [f"{c.path}  ({c.format}, {len(c.files)} file{'s' if len(c.files) != 1 else ''}, {c.file_bytes:,} bytes)"]
    if c.layout:
        out.append(f"layout: {c.layout}" + (f" (also read: {', '.join(p.rsplit('/', 1)[-1] for p in c.companions[:6])})"
                                            if c.companions else ""))
    if c.state_dict_key:
        out.append(f"weights read from key '{c.state_dict_key}'")
    if c.other_keys:
        out.append("bookkeeping: " + ", ".join(f"{k}={v}" for k, v in list(c.other_keys.items())[:8]))
    if c.hyperparameters:
        shown = list(c.hyperparameters.items())[:12]
        more = len(c.hyperparameters) - len(shown)
        out.append("hyperparameters: " + ", ".join(f"{k}={v}" for k, v in shown) + (f" (+{more} more)" if more else ""))
    if c.recorded_by_name:
        names = list(c.recorded_by_name)
        out.append("recorded by name only (never imported): " + ", ".join(names[:6])
                   + (f" (+{len(names) - 6} more)" if len(names) > 6 else ""))
    out.append(f"\nparameters: {r.total_parameters:,} ({human(r.total_parameters)}), {r.total_bytes:,} bytes")
    out += [f"  {d.dtype:<10} {d.parameters:>14,} params  {d.bytes:>14,} bytes" for d in r.by_dtype]
    if r.buffers.tensors:
        out.append(f"buffers (not counted): {r.buffers.tensors} tensors, {r.buffers.elements:,} elements")
    out.append("\ncategories:")
    out += [f"  {k.category:<12} {k.parameters:>14,}  {100 * k.share:5.1f}%" for k in r.categories if k.parameters]
    out.append(f"\nby module (depth {r.depth}):")
    out += _tree_lines(r.tree)
    if r.tied:
        out.append("\ntied weights:")
        out += [f"  {' = '.join(g.names)}  {g.parameters:,} ({g.how}{', counted once' if g.counted_once else ''})"
                for g in r.tied]
    if r.optimizer:
        o = r.optimizer
        out.append(f"\noptimizer ('{o.key}'): {o.kind}, {o.param_groups} group(s), {o.total_bytes:,} bytes")
        out += [f"  {k:<16} {s.elements:>14,} elements  {s.bytes:>14,} bytes" for k, s in o.slots.items()]
    if r.value_scan:
        v = r.value_scan
        out.append(f"\nvalue scan: {v.scanned_tensors} tensors, {v.scanned_bytes:,} bytes; "
                   f"{len(v.nonfinite)} with NaN/Inf, {len(v.all_zero)} all zero, {len(v.skipped)} skipped")
    if r.findings:
        out.append("\nfindings:")
        for f in r.findings:
            out.append(f"  [{f.severity}] {f.code}: {f.title}")
            out += [f"    {line}" for line in f.message.splitlines()]
    else:
        out.append("\nfindings: none")
    if r.warnings:
        out.append("\nwarnings:")
        out += [f"  - {w}" for w in r.warnings]
    return "\n".join(out)
