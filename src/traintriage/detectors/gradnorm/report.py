"""``analyze_gradnorm``: per-component gradient health of a run, as one report record.

Orchestration only: it picks the series (components, total, pre/post clip, loss, LR) from the run's
roles, aligns them by step, and hands numpy arrays to the detector modules (``health``, ``depth``,
``clipping``, ``spikes``) and to ``correlation``. Every number in the report is scale-free or comes
with the scale it was judged against.
"""

from __future__ import annotations

import functools

import bottleneck as bn
import numpy as np

from ...errors import InputError
from ...findings import Finding, json_number, sort_findings
from ...parallel import map_each
from ...signals import RunData, Series
from .clipping import clipping_stats, detect_heavy_clipping
from .components import Component, find_components, layer_stacks, natural_key
from .correlation import loss_correlation
from .depth import depth_profile, detect_depth, detect_growth, detect_non_finite, log_growth
from .health import dead_mask, detect_dead, detect_imbalance, log_ratio_to_siblings, sibling_reference
from .howto import HOW_TO_LOG
from .models import ComponentStats, GradNormReport, LayerStack, NormStats, RegimeShift
from .spikes import detect_spikes, spike_events
from .stats import align, log_slope, percent, regime_shifts, safe_log10, volatility


def _num(x: float) -> float | None:
    return round(float(x), 4) if x is not None and np.isfinite(x) else None


def _lr_at(run: RunData, steps: np.ndarray) -> np.ndarray | None:
    lr = run.get(run.roles.lr)
    if lr is None or len(lr) == 0:
        return None
    ok = np.isfinite(lr.values)
    if ok.sum() == 0:
        return None
    # The LR is piecewise constant between logged points: take the last one logged at or before each step.
    idx = np.searchsorted(lr.steps[ok], steps, side="right") - 1
    out = np.where(idx >= 0, lr.values[ok][np.clip(idx, 0, None)], np.nan)
    return out


def _lr_lookup(run: RunData):
    """``_lr_at(run, steps)``, computed once per distinct step grid: components logged together share
    one grid, so a 24-component run looks the LR up once, not 24 times (results are read-only)."""
    done: list[tuple[np.ndarray, np.ndarray | None]] = []

    def lr_at(steps: np.ndarray) -> np.ndarray | None:
        for grid, lr in done:
            if grid is steps or (grid.size == steps.size and np.array_equal(grid, steps)):
                return lr
        lr = _lr_at(run, steps)
        if lr is not None:
            lr.flags.writeable = False
        done.append((steps, lr))
        return lr

    return lr_at


def norm_stats(
    name: str, sources: list[str], steps: np.ndarray, values: np.ndarray, lr: np.ndarray | None, dead_pct: float
) -> dict:
    finite = np.isfinite(values)
    v = values[finite]
    logv = safe_log10(values)
    growth = log_growth(logv[finite])[0] if v.size >= 8 else float("nan")
    eff_med = eff_p95 = None
    if lr is not None:
        eff = values * lr
        eff = eff[np.isfinite(eff)]
        if eff.size:
            eff_med, eff_p95 = json_number(bn.median(eff)), json_number(np.percentile(eff, 95))
    return {
        "name": name,
        "series": sources,
        "points": int(values.size),
        "first_step": int(steps[0]) if steps.size else None,
        "last_step": int(steps[-1]) if steps.size else None,
        "median": json_number(bn.median(v)) if v.size else None,
        "p95": json_number(np.percentile(v, 95)) if v.size else None,
        "min": json_number(v.min()) if v.size else None,
        "max": json_number(v.max()) if v.size else None,
        "non_finite": int((~finite).sum()),
        "dead_percent": round(dead_pct, 2),
        "spikes": len(spike_events(steps, values, logv)),
        "volatility": _num(volatility(logv)),
        "log_slope_per_1k_steps": _num(log_slope(steps, logv)),
        "growth_decades": _num(growth),
        "regime_shifts": [
            RegimeShift(step=s.step, before=json_number(s.before), after=json_number(s.after))
            for s in regime_shifts(steps, logv)
        ],
        "effective_update_median": eff_med,
        "effective_update_p95": eff_p95,
    }


def _no_gradients(run: RunData) -> InputError:
    names = sorted(run.series)
    shown = ", ".join(names[:40]) + (f", ... ({len(names)} in all)" if len(names) > 40 else "")
    return InputError(
        f"{run.path} has no gradient-norm series (looked for gradnorm/<component>, grad_norm, GradNorm/..., "
        f"grad_2.0_norm/..., train/grad_norm). Series in this run: {shown or '(none)'}.",
        hint="If one of these IS a gradient norm, pass --role grad_total=SERIES or "
        "--role grad_component:NAME=SERIES. Otherwise log them:\n" + HOW_TO_LOG,
    )


def _total_series(run: RunData, comps: list[Component]) -> tuple[str, list[str], np.ndarray, np.ndarray, bool] | None:
    """(name, sources, steps, values, derived): the pre-clip norm if logged, else the total, else derived."""
    for role in ("grad_preclip", "grad_total"):
        s: Series | None = run.get(getattr(run.roles, role))
        if s is not None and len(s):
            return s.name, [s.name], s.steps, s.values, False
    if comps:
        steps, mat = align([c.steps for c in comps], [c.values for c in comps])
        if steps.size:
            return "total (derived from components)", [c.name for c in comps], steps, np.sqrt((mat**2).sum(0)), True
    post = run.get(run.roles.grad_postclip)
    if post is not None and len(post):
        return post.name, [post.name], post.steps, post.values, False
    return None


def analyze_gradnorm(run: RunData, *, clip_threshold: float | None = None, depth: int | None = None) -> GradNormReport:
    """Per-component gradient health of ``run``: statistics and findings (see the module docstrings).

    ``clip_threshold``: the max_norm the run clipped at, when it is not logged; ``depth``: name parts kept
    when grouping per-parameter norms into modules (None: automatic).
    """
    if clip_threshold is not None and not (np.isfinite(clip_threshold) and clip_threshold > 0):
        raise InputError(f"clip threshold must be a positive number, got {clip_threshold!r}.")
    if depth is not None and depth < 1:
        raise InputError(f"depth must be >= 1, got {depth!r}.")
    warnings = list(run.warnings)
    comps, notes = find_components(run, depth)
    comps.sort(key=lambda c: natural_key(c.name))
    warnings += notes
    total = _total_series(run, comps)
    if total is None:
        raise _no_gradients(run)
    t_name, t_sources, t_steps, t_values, t_derived = total
    if t_derived:
        warnings.append("no total gradient norm logged; using sqrt(sum of squares) of the components.")
    if not comps:
        warnings.append(
            "only a total gradient norm is logged: per-component checks (dead, imbalance, depth profile) "
            "need one norm per component (see `traintriage explain dead_component`)."
        )
    findings: list[Finding] = []

    # Non-finite norms: the total first; components only when the total does not already say it.
    nf = [] if t_derived else detect_non_finite(t_name, t_steps, t_values, None)
    if not nf:
        firsts = [(int(c.steps[np.argmax(~np.isfinite(c.values))]), c) for c in comps if (~np.isfinite(c.values)).any()]
        if firsts:
            _, c = min(firsts, key=lambda x: x[0])
            nf = detect_non_finite(c.sources[0] if len(c.sources) == 1 else c.name, c.steps, c.values, c.name)
    findings += nf

    # Components, aligned by step.
    names = [c.name for c in comps]
    steps, mat = align([c.steps for c in comps], [c.values for c in comps]) if comps else (np.zeros(0), None)
    if comps and steps.size < 5 and len(comps) > 1:
        warnings.append(
            f"the {len(comps)} components share only {steps.size} logged steps: shares and sibling comparisons skipped."
        )
    comp_rows: dict[str, dict] = {}
    stacks_out: list[LayerStack] = []
    explained: set[str] = set()
    depth_status: dict[str, str] = {}
    if comps and mat is not None and steps.size >= 5:
        ref = sibling_reference(mat)
        share = np.where(np.isfinite(mat), mat, np.nan)  # squared and divided in place: one matrix, not three
        np.square(share, out=share)
        with np.errstate(all="ignore"):
            share /= np.nansum(share, axis=0, keepdims=True)
        # Depth profiles of numbered layer stacks.
        for stack in layer_stacks(names):
            rows = [names.index(n) for n in stack]
            prof = depth_profile(stack, steps, mat[rows])
            if prof is None:
                continue
            stacks_out.append(
                LayerStack(
                    layers=stack,
                    front_minus_back_decades=round(prof["front_minus_back_decades"], 3),
                    spearman_rho=round(prof["rho"], 3),
                    per_layer_median=prof["per_layer_median"],
                )
            )
            f = detect_depth(prof, steps)
            if f is not None:
                findings.append(f)
                explained.update(stack)
                for n in prof["front"]:
                    depth_status[n] = "vanishing" if f.code == "vanishing_gradients" else "exploding"
        stack_pos = {n: i for st in stacks_out for i, n in enumerate(st.layers)}
        n_q = steps.size

        def judge(i: int) -> tuple[dict, Finding | None]:
            """One component against its siblings (pure: reads the shared matrices, writes nothing)."""
            c = comps[i]
            v, r, sh = mat[i], ref[i], share[i]
            series = c.sources[0] if len(c.sources) == 1 else c.name
            status = "non_finite" if (~np.isfinite(c.values)).any() else depth_status.get(c.name, "ok")
            ratio = log_ratio_to_siblings(v, r)
            found = detect_dead(c.name, series, steps, v, r)
            if found is not None and c.name in explained and found.details["exactly_zero_share"] < 0.99:
                found = None  # tiny front-layer norms of a vanishing stack: reported as vanishing_gradients
            if found is not None:
                status = "dead"
            elif c.name not in explained:
                found = detect_imbalance(c.name, series, steps, v, r, sh, len(comps), ratio)
                # Beside a flagged stack, a "dominant" component (the head, next to vanishing layers) is
                # the same fact seen from the other side: keep only starved ones.
                if found is not None and explained and found.details["kind"] == "dominant":
                    found = None
                if found is not None:
                    status = found.details["kind"]
            q = max(1, n_q // 4)
            row = {
                "share_median": _num(bn.nanmedian(sh)) if np.isfinite(sh).any() else None,
                "share_early": _num(bn.nanmedian(sh[:q])) if np.isfinite(sh[:q]).any() else None,
                "share_late": _num(bn.nanmedian(sh[-q:])) if np.isfinite(sh[-q:]).any() else None,
                "log10_ratio_to_siblings": _num(ratio),
                "layer_index": stack_pos.get(c.name),
                "status": status,
                "dead_pct": percent(dead_mask(v, r)),
            }
            return row, found

        for c, (row, found) in zip(comps, map_each(judge, range(len(comps)), points=mat.size), strict=True):
            comp_rows[c.name] = row
            if found is not None:
                findings.append(found)

    # Growth over time, and spikes, on the total (pre-clip when logged: post-clip is capped).
    growth = detect_growth(t_name, t_steps, t_values, None)
    if growth is not None and not any(f.code == "exploding_gradients" and f.step_start == growth.step_start
                                      for f in findings):
        findings.append(growth)
    findings += detect_spikes(t_name, t_steps, t_values)

    # Clipping.
    clip = None
    pre = run.get(run.roles.grad_preclip) or run.get(run.roles.grad_total)
    post = run.get(run.roles.grad_postclip)
    thr_series = run.get(run.roles.clip_threshold)
    if pre is not None and len(pre):
        clip = clipping_stats(
            pre.name,
            pre.steps,
            pre.values,
            post=(post.name, post.steps, post.values) if post is not None and len(post) else None,
            threshold=clip_threshold,
            threshold_series=(thr_series.name, thr_series.steps, thr_series.values) if thr_series else None,
        )
    elif clip_threshold is not None:
        clip = clipping_stats(t_name, t_steps, t_values, threshold=clip_threshold)
    if clip_threshold is not None and clip is None:
        warnings.append("--clip given but no usable gradient norm to compare with it.")
    if clip is not None:
        hc = detect_heavy_clipping(clip)
        if hc is not None:
            findings.append(hc)

    # Loss correlation and per-series statistics: independent of one another, so spread over the cores
    # for a large run (the correlation is one more task beside the statistics).
    lr_at = _lr_lookup(run)

    def stats_of(item: tuple[str, list[str], np.ndarray, np.ndarray, float | None]) -> dict:
        name, sources, c_steps, c_values, dead_pct = item
        if dead_pct is None:
            dead_pct = percent(dead_mask(c_values, np.full(c_values.shape, np.nan)))
        return norm_stats(name, sources, c_steps, c_values, lr_at(c_steps), dead_pct)

    work = [(c.name, list(c.sources), c.steps, c.values,
             comp_rows[c.name]["dead_pct"] if c.name in comp_rows else None) for c in comps]
    work.append((t_name, t_sources, t_steps, t_values, None))
    tasks = [functools.partial(stats_of, item) for item in work]
    loss = run.get(run.roles.train_loss)
    correlate = loss is not None and len(loss) >= 10
    if correlate:
        tasks.insert(0, functools.partial(loss_correlation, loss.name, loss.steps, loss.values, t_name, t_steps,
                                          t_values))
    results = map_each(lambda task: task(), tasks, points=sum(item[3].size for item in work))
    corr = results.pop(0) if correlate else None
    if correlate and corr is None:
        warnings.append(f"loss {loss.name!r} and {t_name!r} overlap on too few steps to correlate.")
    *comp_bases, total_base = results
    comp_stats = []
    for c, base in zip(comps, comp_bases, strict=True):
        extra = comp_rows.get(c.name)
        if extra is None:
            extra = {
                "share_median": None,
                "share_early": None,
                "share_late": None,
                "log10_ratio_to_siblings": None,
                "layer_index": None,
                "status": "dead" if any(f.component == c.name and f.code == "dead_component" for f in findings)
                else "ok",
            }
        extra = {k: v for k, v in extra.items() if k != "dead_pct"}
        comp_stats.append(ComponentStats(**base, **extra))
    total_stats = NormStats(**total_base)

    return GradNormReport(
        run=run.info(),
        warnings=warnings,
        findings=sort_findings(findings),
        components=comp_stats,
        total=total_stats,
        clipping=clip,
        loss_correlation=corr,
        layer_stacks=stacks_out,
    )
