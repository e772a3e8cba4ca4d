"""The peer tools on the wild corpus: what runmedic, losslint and trainspotter say about each case, in
traintriage's codes, so that ``benchmarks/accuracy.py`` scores them side by side with traintriage.

    .venv/bin/python benchmarks/wild/peers.py                          # every peer, every case
    .venv/bin/python benchmarks/wild/peers.py --peer losslint --case j-muon-lora-diverge
    .venv/bin/python benchmarks/wild/peers.py --mapping                # also print the mapping tables

From Python: ``run_peers(cases, peers) -> {peer: {case_id: PeerResult}}`` and ``peer_versions()``.

**Install.** Each peer is installed on first use into its own venv, ``benchmarks/_venvs/<peer>``
(gitignored), pinned to the version whose source the mapping below was written from (``PEERS``), with the
optional extra that lets it read TensorBoard event files (losslint ``[tb]``, trainspotter ``[tensorboard]``;
runmedic parses them itself). A peer that cannot be installed reads no case, and every case says why. Only
the standard library is imported at module level; traintriage is imported lazily, for the CSV conversion.

**How each peer is run.** In a subprocess of its venv's interpreter, 60 s at most per run, through the same
code path as its CLI (``runmedic diagnose``, ``losslint check``, ``trainspotter analyze``: the child
scripts below call the functions the CLI's ``main`` calls, in the same order, with the CLI's defaults),
reporting every finding with its severity and which series the peer took as its train/validation loss.
A crash, a refusal or a timeout is a result ("not read", with the error), never a crash of this harness.

**Input: native first.** Each peer gets the case's target as a user would give it: the file, or the
case's directory for a multi-file run. trainspotter, which has a ``--format`` option, is tried with
auto-detection first and then, if that did not read the file, with the reader the case's format calls for
(``FORMAT_HINT``: detectron2/mmdetection JSON-lines, a Keras CSV named ``*.log``). A native run *reads*
the case when the peer found a loss series in it (its own train- or validation-loss role); a run that
found none analysed nothing, and "no problem found" from it would be a free pass on every healthy case.
When no native run reads the case (the peer refuses the format, crashes on it, or finds no loss in it), the
peer gets a **converted CSV**: ``step`` plus one column per series that traintriage reads from the case
(``traintriage.api.load``), under the series' own names, at the steps as logged, NaN/Inf written as
``nan``/``inf``. What traintriage adds is left out, so the conversion gives no advantage: a loss total it
derives from components is dropped, the run-directory prefix it puts before TensorBoard tags is removed,
and runs it split out of one appended file (``earlier-run-<k>/``) are written back one after another
under one name, as the file logged them. ``PeerResult.input`` says which input was used and
``PeerResult.native_error`` why the native one was not. A timeout is final (no conversion after it).

**Findings -> codes.** ``MAPPING`` maps each peer finding name onto a traintriage code, with a comment
for each judgement call; a finding mapped to ``None`` has no traintriage counterpart and is ignored (it
is listed in ``PeerResult.ignored``; one the table does not know is listed in ``PeerResult.unknown``).
A case's codes are the worst severity per code over all the peer's findings (all its runs, for a
directory the peer splits into several).

**Severities.** All three peers grade on three levels, mapped level for level onto traintriage's
``critical`` / ``warning`` / ``info``: runmedic uses the same words; losslint and trainspotter call the top
level ``error`` (losslint's default ``--fail-severity``; trainspotter's "training has broken"), which is
``critical``. Nothing is promoted or demoted: a peer that reports overfitting or a plateau only as ``info``
(losslint, trainspotter's plateau) never counts as having raised it, exactly as traintriage's own info notes
do not (``corpus.judge`` counts warning and critical).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from traintriage.sandbox import Sandbox

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
from corpus import Case, judge, load_cases  # noqa: E402  (stdlib-only module beside this one)

VENVS = HERE.parent / "_venvs"
TIMEOUT_S = 60.0
INSTALL_TIMEOUT_S = 900

PEERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # peer: (pip requirement, version studied, modules its extra brings, probed to see the extra is there)
    "runmedic": ("runmedic==0.1.1", "0.1.1", ()),
    "losslint": ("losslint[tb]==0.4.1", "0.4.1", ("tensorboard",)),
    "trainspotter": ("trainspotter[tensorboard]==0.2.6", "0.2.6", ("tbparse",)),
}
"""Pinned to the versions whose source ``MAPPING`` was written from; a new version needs its checks re-read."""

SEVERITY: dict[str, dict[str, str]] = {
    "runmedic": {"critical": "critical", "warning": "warning", "info": "info"},
    "losslint": {"error": "critical", "warning": "warning", "info": "info"},
    "trainspotter": {"error": "critical", "warning": "warning", "info": "info"},
}
RANK = {"critical": 0, "warning": 1, "info": 2}

MAPPING: dict[str, dict[str, str | None]] = {
    # runmedic 0.1.1 (runmedic/checks.py, runmedic/logpatterns.py); its names are Finding.check.
    "runmedic": {
        "non_finite": "nan_inf",  # NaN/inf in the train loss, val loss or grad norm (critical)
        # smoothed train loss lost > 50% of the progress it had made, after its best (critical when >= 100%)
        "divergence": "divergence",
        "loss_spikes": "loss_spike",  # robust-z > 8 jumps of the train loss above its EMA trend
        # Judgement: train loss improved < 2% over the whole run, i.e. it never learned. That is traintriage's
        # warning-level plateau ("never learned"), not stuck_loss (which needs the same value step after step).
        "no_learning": "plateau",
        "overfitting": "overfitting",  # val loss >=5% above its best (warning >=15%) while the train loss fell
        "val_below_train": None,  # val loss consistently below train (info): no traintriage code
        "grad_spikes": "gradient_spike",  # grad norm > 10x its median on some steps
        # Judgement: a constant-LR run whose loss stopped improving in its last 30% (info): a late plateau.
        "constant_lr_plateau": "plateau",
        "input_bound": None,  # GPU utilisation / data-loading time: no traintriage code
        "slow_steps": None,  # step time: no traintriage code
        "slowdown": None,  # throughput falling: no traintriage code
        "memory_growth": "memory_leak",  # GPU or host memory rising steadily
        # Log-line patterns (``log:<id>``), from error messages in a text log.
        "log:anomaly_nan": "nan_inf",  # "loss is nan", "returned nan", anomaly-detection lines (critical)
        # Judgement: a CUDA out-of-memory error is memory exhausted, the extreme of traintriage's memory_pressure.
        "log:cuda_oom": "memory_pressure",
        # Judgement: the fp16 loss scaler skipping steps on overflowed gradients is routine in mixed-precision
        # runs and says nothing about the logged loss or grad norm being NaN/Inf; no traintriage code.
        "log:amp_overflow": None,
        "log:dataloader_killed": None,
        "log:nccl_timeout": None,
        "log:device_mismatch": None,
        "log:backward_twice": None,
        "log:inplace_grad": None,
        "log:unused_params": None,
    },
    # losslint 0.4.1 (losslint/checks.py); its names are Finding.check.
    "losslint": {
        # Judgement: losslint flags a NaN/Inf in *any* numeric series (an eval metric too), not only the loss
        # or grad norm; it is its NaN alarm all the same, so it maps to nan_inf (error -> critical).
        "nan_inf": "nan_inf",
        "loss_spike": "loss_spike",  # train loss > 10x its local rolling median
        "divergence": "divergence",  # last-decile median of the train loss > 1.25x the first decile's (error)
        "overfit_onset": "overfitting",  # eval loss worse for >= 3 evals in a row while train improves (info only)
        "stagnation": "plateau",  # < 1% improvement over the last quarter (info only)
        "step_backtrack": None,  # step counter going backwards (a logging/resume bug): no traintriage code
        "parse": None,  # a malformed log line skipped: about the file, not the run
    },
    # trainspotter 0.2.6 (trainspotter/detectors/*.py); its names are "<detector>: <title>", because its
    # divergence and grad_norm detectors each report two different things under one detector name.
    "trainspotter": {
        "divergence: Diverged (non-finite values)": "nan_inf",  # a NaN/Inf in train/eval loss (error)
        # Judgement: an OLS-significant climb of the train *or eval* loss over the last 25%, ending >=1.5x its
        # minimum. On an eval loss that is how trainspotter names a rising validation loss; it is still its
        # divergence alarm (and it demotes its own overfitting finding to info when the two overlap).
        "divergence: Diverged (sustained growth)": "divergence",
        "spikes: Loss spike": "loss_spike",  # robust z > 6 on train/eval loss (error when z > 10.8)
        "plateau: Plateau": "plateau",  # flat windows not explained by convergence or LR decay (info only)
        "overfitting: Overfitting onset": "overfitting",  # eval loss rising significantly after its minimum
        # Judgement: train loss < 0.05 and < 5% of its first value within the first 10% of the run, flagged as
        # possible leakage (info only): traintriage's zero_loss ("a leak, or memorisation").
        "loss_floor: Suspiciously low loss early (heuristic)": "zero_loss",
        # Judgement: despite the title, the algorithm is a robust z > 10 on single steps of grad_norm, i.e. a
        # spike detector: gradient_spike, not exploding_gradients (growth by orders of magnitude).
        "grad_norm: Gradient-norm explosion": "gradient_spike",
        "grad_norm: Gradient clipping likely saturated": "heavy_clipping",  # norm pinned at one ceiling (info)
        "lr_schedule: No LR warmup detected": None,  # LR schedule advice: no traintriage code
        "lr_schedule: LR increased after its peak": None,
        "lr_schedule: LR discontinuity": None,
        "eval_noise: Eval metric too noisy to rank checkpoints": None,  # about the eval set's noise, not the run
        "throughput: Throughput regression": None,  # speed: no traintriage code
    },
}

FORMAT_HINT = {
    "tensorboard": "tensorboard", "lightning-csv": "lightning", "keras-csv": "csv", "ultralytics-csv": "csv",
    "csv-other": "csv", "detectron2-json": "jsonl", "mmdet-json": "jsonl", "mmengine-json": "jsonl",
    "llamafactory-jsonl": "jsonl", "jsonl-other": "jsonl", "hf-trainer-state": "hf",
}
"""trainspotter's reader (``--format``) for a corpus format it has one for, tried when auto-detection fails."""

# ----------------------------------------------------------------------------------------------
# Child scripts: run by each peer's venv interpreter as ``python -c SCRIPT TARGET [FORMAT]``. Each prints
# one JSON object: {"error": why} for a refusal the CLI reports (it would exit non-zero with that message),
# else {"read_as", "loss": {series: points}, "findings": [[name, severity], ...]}. Anything else the peer
# raises ends the child with a traceback, as it would end the CLI.
# ----------------------------------------------------------------------------------------------

CHILD: dict[str, str] = {
    # runmedic.cli.main, ``diagnose PATH``: loaders.load, then per run roles.detect and run_checks.
    "runmedic": r"""
import json, sys
from runmedic import loaders, roles
from runmedic.checks import run_checks
path = sys.argv[1]
try:
    runs = loaders.load(path)
except FileNotFoundError:
    print(json.dumps({"error": f"runmedic: no such file or directory: {path}"})); sys.exit()
if not runs:
    print(json.dumps({"error": f"runmedic: no training metrics or logs found in {path}"})); sys.exit()
loss, findings = {}, []
for run in runs:
    run_roles = roles.detect(run)
    for role in ("train_loss", "val_loss"):
        for name in run_roles.get(role, []):
            loss[f"{run.name}: {name}"] = len(run.series[name])
    findings += [[f.check, f.severity] for f in run_checks(run, run_roles)]
print(json.dumps({"read_as": ", ".join(sorted({r.source for r in runs})), "loss": loss, "findings": findings,
                  "series": sorted({n for r in runs for n in r.series})[:40]}))
""",
    # losslint.cli.main, ``check PATH``: _expand_inputs, then per file load_run and run_all_checks; a file
    # that does not load ends the whole command (exit 2), as in the CLI.
    "losslint": r"""
import json, sys
from pathlib import Path
from losslint.checks import CheckOptions, find_series, run_all_checks
from losslint.cli import _expand_inputs
from losslint.parsing import ColumnOverrides, load_run, sniff_format
path = sys.argv[1]
files = _expand_inputs([path])
if not files:
    print(json.dumps({"error": "losslint: no log files found in the given path(s)"})); sys.exit()
loss, findings, kinds, series = {}, [], set(), set()
for file in files:
    try:
        run = load_run(file, ColumnOverrides())
    except (FileNotFoundError, ValueError) as err:
        print(json.dumps({"error": f"losslint: {err}"})); sys.exit()
    kinds.add(sniff_format(Path(file)))
    series.update(run.series)
    for role in ("train", "eval"):
        entry = find_series(run, role)
        if entry is not None:
            loss[f"{Path(file).name}: {entry[0]}"] = sum(v is not None for v in entry[1])
    findings += [[f.check, f.severity] for f in run_all_checks(run, CheckOptions())]
print(json.dumps({"read_as": ", ".join(sorted(kinds)), "loss": loss, "findings": findings,
                  "series": sorted(series)[:40]}))
""",
    # trainspotter.cli.cmd_analyze, ``analyze PATH [--format F]``: load_run, the no-metrics refusal, run_all.
    "trainspotter": r"""
import json, sys
from trainspotter.detectors import run_all
from trainspotter.readers import load_run
path, fmt = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "") or None
try:
    run = load_run(path, fmt=fmt, run_name=None)
    if not run.metric_names():
        raise ValueError(f"no numeric metrics found in {path} (read as {run.source_format}).")
except (OSError, ValueError) as exc:
    print(json.dumps({"error": f"trainspotter: {exc}"})); sys.exit()
findings = run_all(run)
loss = {m: len(run.metrics[m]) for m in ("train/loss", "eval/loss") if m in run.metrics}
print(json.dumps({"read_as": run.source_format, "loss": loss,
                  "findings": [[f"{f.detector}: {f.title}", f.severity] for f in findings],
                  "series": run.metric_names()[:40]}))
""",
}


@dataclass
class PeerResult:
    """What one peer said about one case."""

    codes: dict[str, str] | None  # traintriage code -> worst severity; None when the peer read nothing
    error: str = ""  # why it read nothing (and, after a conversion, why the native input failed)
    input: str = ""  # "native" | "converted CSV" | "" (never run)
    seconds: float = 0.0  # wall time of the peer's runs on this case (not the CSV conversion)
    how: str = ""  # the command the result came from
    native_error: str = ""  # why the native input was not used (with input == "converted CSV")
    findings: list[tuple[str, str]] = field(default_factory=list)  # the peer's own (name, severity), distinct
    ignored: list[str] = field(default_factory=list)  # findings with no traintriage code
    unknown: list[str] = field(default_factory=list)  # findings MAPPING does not list (a new version?)
    loss: dict[str, int] = field(default_factory=dict)  # the series the peer took as its loss -> points

    @property
    def read(self) -> bool:
        return self.codes is not None


# ----------------------------------------------------------------------------------------------
# Install
# ----------------------------------------------------------------------------------------------

_VERSIONS: dict[str, str] = {}
_BROKEN: dict[str, str] = {}


def _python(peer: str) -> Path:
    return VENVS / peer / "bin" / "python"


def _probe(peer: str) -> tuple[str | None, str]:
    """(installed version, "") when the pinned version and its extra import; else (None, why)."""
    _, _, extra = PEERS[peer]
    code = (f"import importlib.metadata as m, {', '.join((peer, *extra))}; "
            f"print(m.version({peer!r}))")
    try:
        probe = subprocess.run([str(_python(peer)), "-c", code], capture_output=True, text=True, timeout=120,
                               check=False)
    except (OSError, subprocess.SubprocessError) as err:
        return None, str(err)
    if probe.returncode:
        return None, (probe.stderr.strip().splitlines() or ["import failed"])[-1]
    return probe.stdout.strip(), ""


def ensure_peer(peer: str) -> tuple[str | None, str]:
    """The peer's version, installing it into ``benchmarks/_venvs/<peer>`` first if needed; or (None, why)."""
    if peer in _VERSIONS:
        return _VERSIONS[peer], ""
    if peer in _BROKEN:
        return None, _BROKEN[peer]
    spec, pinned, _ = PEERS[peer]
    version, why = (_probe(peer) if _python(peer).exists() else (None, "no venv"))
    if version != pinned:
        try:
            if not _python(peer).exists():
                subprocess.run([sys.executable, "-m", "venv", str(VENVS / peer)], check=True,
                               capture_output=True, text=True, timeout=300)
            pip = subprocess.run([str(_python(peer)), "-m", "pip", "install", "--quiet", spec],
                                 capture_output=True, text=True, check=False, timeout=INSTALL_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as err:
            _BROKEN[peer] = f"could not install {spec}: {err}"
            return None, _BROKEN[peer]
        if pip.returncode:
            lines = [ln for ln in pip.stderr.strip().splitlines() if "is ignored" not in ln] or ["pip failed"]
            _BROKEN[peer] = f"could not install {spec}: {lines[-1]}"
            return None, _BROKEN[peer]
        version, why = _probe(peer)
        if version is None:
            _BROKEN[peer] = f"{spec} installed but does not import: {why}"
            return None, _BROKEN[peer]
    _VERSIONS[peer] = version
    return version, ""


def peer_versions(peers: tuple[str, ...] = tuple(PEERS), install: bool = True) -> dict[str, str]:
    """peer -> the version used (installed on demand unless ``install`` is False), or why there is none."""
    out = {}
    for peer in peers:
        if install:
            version, why = ensure_peer(peer)
        else:
            version, why = _probe(peer) if _python(peer).exists() else (None, "not installed")
        out[peer] = version or f"unavailable ({why})"
    return out


# ----------------------------------------------------------------------------------------------
# The converted CSV
# ----------------------------------------------------------------------------------------------

_EARLIER = re.compile(r"^earlier-run-(\d+)/(.+)$")


def _cell(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(float(value))


def write_converted_csv(target: Path, dest: Path) -> Path:
    """``dest``: ``step`` plus one column per series traintriage reads from ``target`` (see the module
    docstring for what is left out so that the CSV holds what the log holds, no more)."""
    from traintriage import api

    data = api.load(str(target), sandbox=Sandbox.unrestricted())
    derived = {w.split(" is the sum of ", 1)[0] for w in data.warnings if " is the sum of " in w}
    series = {name: s for name, s in data.series.items() if name not in derived}
    prefix = ""
    event_dirs = {f.parent for f in data.files if f.name.startswith("events.out.tfevents")}
    if data.source == "tensorboard" and len(event_dirs) == 1:
        # traintriage names a tag by its run's directory (``version_3/loss``); the log's own tag is ``loss``
        parts = next(iter(event_dirs)).as_posix().split("/")
        for k in range(len(parts), 0, -1):
            candidate = "/".join(parts[-k:]) + "/"
            if all(name.startswith(candidate) for name in series):
                prefix = candidate
                break
    segments: dict[float, dict[str, object]] = {}  # earlier runs 1..k, then the analysed run (inf)
    columns: dict[str, None] = {}
    for name, s in series.items():
        m = _EARLIER.match(name)
        order, base = (float(m.group(1)), m.group(2)) if m else (math.inf, name)
        base = base[len(prefix):] if prefix and base.startswith(prefix) else base
        segments.setdefault(order, {})[base] = s
        columns[base] = None
    step_col = "step"
    while step_col in columns:
        step_col = "_" + step_col
    names = list(columns)
    with dest.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow([step_col, *names])
        for order in sorted(segments):
            seg = segments[order]
            points = {base: dict(zip(s.steps.tolist(), s.values.tolist(), strict=True)) for base, s in seg.items()}
            for step in sorted({st for pts in points.values() for st in pts}):
                out.writerow([step, *(_cell(points[n][step]) if n in points and step in points[n] else ""
                                      for n in names)])
    return dest


# ----------------------------------------------------------------------------------------------
# Running a peer on a case
# ----------------------------------------------------------------------------------------------


@dataclass
class _Run:
    ok: bool  # the child finished and printed its JSON
    why: str = ""  # refusal, crash or timeout; or what it read when it found no loss
    out: dict = field(default_factory=dict)
    seconds: float = 0.0
    timed_out: bool = False

    @property
    def read(self) -> bool:
        return self.ok and any(n > 0 for n in self.out.get("loss", {}).values())


def _run_child(peer: str, target: Path, fmt: str = "", cwd: str | None = None) -> _Run:
    argv = [str(_python(peer)), "-c", CHILD[peer], str(target), *([fmt] if fmt else [])]
    env = {**os.environ, "NO_COLOR": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False, cwd=cwd,
                              env=env)
    except subprocess.TimeoutExpired:
        return _Run(False, f"timed out after {TIMEOUT_S:g} s", seconds=time.perf_counter() - t0, timed_out=True)
    seconds = time.perf_counter() - t0
    lines = proc.stdout.strip().splitlines()
    try:
        out = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        out = None
    if proc.returncode or not isinstance(out, dict):
        tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        return _Run(False, "crashed: " + (tail[-1][:300] if tail else f"exit {proc.returncode}"), seconds=seconds)
    if "error" in out:
        return _Run(False, str(out["error"])[:400], out, seconds)
    run = _Run(True, "", out, seconds)
    if not run.read:
        seen = ", ".join(out.get("series", [])[:12]) or "none"
        run.why = f"read as {out.get('read_as') or '?'} but found no loss series in it (series: {seen})"
    return run


def _codes(peer: str, findings: list[list[str]]) -> tuple[dict[str, str], list[str], list[str]]:
    codes: dict[str, str] = {}
    ignored, unknown = [], []
    for name, severity in findings:
        if name not in MAPPING[peer]:
            unknown.append(name)
            continue
        code = MAPPING[peer][name]
        if code is None:
            ignored.append(name)
            continue
        sev = SEVERITY[peer].get(severity, "info")
        if code not in codes or RANK[sev] < RANK[codes[code]]:
            codes[code] = sev
    return codes, sorted(set(ignored)), sorted(set(unknown))


def _command(peer: str, fmt: str = "") -> str:
    return {"runmedic": "runmedic diagnose", "losslint": "losslint check",
            "trainspotter": "trainspotter analyze" + (f" --format {fmt}" if fmt else "")}[peer]


def _result(peer: str, run: _Run, inp: str, how: str, seconds: float, native_error: str = "") -> PeerResult:
    codes, ignored, unknown = _codes(peer, run.out.get("findings", []))
    return PeerResult(codes=codes, input=inp, seconds=seconds, how=how, native_error=native_error,
                      findings=sorted({(n, s) for n, s in run.out.get("findings", [])}), ignored=ignored,
                      unknown=unknown, loss=dict(run.out.get("loss", {})))


def run_case(case: Case, peers: tuple[str, ...]) -> dict[str, PeerResult]:
    """Every peer in ``peers`` (already installed) on one case; the converted CSV is made once, if needed."""
    target = case.target_path()
    if target is None:
        return {p: PeerResult(codes=None, error="files not pulled (benchmarks/wild/pull.py)") for p in peers}
    results: dict[str, PeerResult] = {}
    with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
        converted: tuple[Path | None, str] | None = None
        for peer in peers:
            version, why = ensure_peer(peer)
            if version is None:
                results[peer] = PeerResult(codes=None, error=f"{peer} unavailable: {why}")
                continue
            spent, tried = 0.0, []
            attempts = [""]
            if peer == "trainspotter" and FORMAT_HINT.get(case.format):
                attempts.append(FORMAT_HINT[case.format])
            final: PeerResult | None = None
            for fmt in attempts:
                if fmt and tried and tried[-1][2].get("read_as") == fmt:
                    continue  # auto-detection already used that reader
                run = _run_child(peer, target, fmt, cwd=tmp)
                spent += run.seconds
                tried.append((_command(peer, fmt), run.why, run.out))
                if run.read:
                    final = _result(peer, run, "native", _command(peer, fmt), spent)
                    break
                if run.timed_out:
                    final = PeerResult(codes=None, error=run.why, input="native", seconds=spent,
                                       how=_command(peer, fmt))
                    break
            if final is None:
                native_error = "; ".join(f"{cmd}: {why}" for cmd, why, _ in tried)
                if converted is None:
                    try:
                        converted = (write_converted_csv(target, Path(tmp) / "converted.csv"), "")
                    except Exception as err:  # traintriage could not read it either: the peer reads nothing
                        converted = (None, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
                csv_path, csv_why = converted
                if csv_path is None:
                    final = PeerResult(codes=None, input="converted CSV", seconds=spent, native_error=native_error,
                                       error=f"native: {native_error}; no converted CSV (traintriage: {csv_why})")
                else:
                    run = _run_child(peer, csv_path, "", cwd=tmp)
                    spent += run.seconds
                    how = _command(peer) + " converted.csv"
                    if run.read:
                        final = _result(peer, run, "converted CSV", how, spent, native_error)
                    else:
                        final = PeerResult(codes=None, input="converted CSV", seconds=spent, how=how,
                                           native_error=native_error,
                                           error=f"native: {native_error}; converted CSV: {run.why}")
            results[peer] = final
    return results


def _run_case_job(args: tuple[Case, tuple[str, ...]]) -> tuple[str, dict[str, PeerResult]]:
    case, peers = args
    try:
        return case.id, run_case(case, peers)
    except Exception as err:  # a bug here must not lose the other cases' results
        why = f"harness error: {type(err).__name__}: {err}"
        return case.id, {p: PeerResult(codes=None, error=why) for p in peers}


def run_peers(cases: list[Case], peers: tuple[str, ...] = tuple(PEERS), jobs: int | None = None,
              progress: bool = False) -> dict[str, dict[str, PeerResult]]:
    """peer -> case id -> :class:`PeerResult`, for every case in ``cases`` (cases run in parallel)."""
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        raise ValueError(f"unknown peer(s) {unknown}; known: {', '.join(PEERS)}")
    for peer in peers:  # install before forking, so each is installed once
        ensure_peer(peer)
    jobs = jobs or min(4, os.cpu_count() or 1)
    by_case: dict[str, dict[str, PeerResult]] = {}
    work = [(case, peers) for case in cases]
    if jobs <= 1 or len(work) <= 1:
        done = map(_run_case_job, work)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=jobs)
        done = pool.map(_run_case_job, work)
    try:
        for i, (case_id, res) in enumerate(done, 1):
            by_case[case_id] = res
            if progress:
                print(f"\r# {i}/{len(work)} cases", end="", file=sys.stderr, flush=True)
    finally:
        if pool is not None:
            pool.shutdown()
    if progress:
        print(file=sys.stderr)
    return {peer: {c.id: by_case[c.id][peer] for c in cases} for peer in peers}


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


def _cell_text(case: Case, res: PeerResult, width: int) -> str:
    if not res.read:
        return ("- not read: " + res.error)[:width]
    verdict = judge(case, res.codes)
    codes = ",".join(f"{c}{'!' if s == 'critical' else ''}" for c, s in sorted(res.codes.items())
                     if s in ("critical", "warning")) or "-"
    tag = "N" if res.input == "native" else "C"
    return f"{'ok' if verdict.right else 'XX'} {tag} {codes}"[:width]


def summary(cases: list[Case], results: dict[str, dict[str, PeerResult]]) -> dict[str, dict]:
    """Per peer: cases read (native / converted), right, and healthy cases with a warning-or-worse alarm."""
    out = {}
    present = [c for c in cases if c.target_path() is not None]
    for peer, by_case in results.items():
        verdicts = {c.id: judge(c, by_case[c.id].codes, by_case[c.id].error) for c in present}
        healthy = [c for c in present if c.healthy]
        alarms: dict[str, int] = {}
        for c in healthy:
            for code in verdicts[c.id].alarms:
                alarms[code] = alarms.get(code, 0) + 1
        out[peer] = {
            "cases": len(present),
            "read": sum(v.read for v in verdicts.values()),
            "native": sum(by_case[c.id].read and by_case[c.id].input == "native" for c in present),
            "converted": sum(by_case[c.id].read and by_case[c.id].input == "converted CSV" for c in present),
            "right": sum(v.right for v in verdicts.values()),
            "healthy": len(healthy),
            "healthy_false_alarm": sum(bool(verdicts[c.id].alarms) for c in healthy),
            "healthy_alarm_codes": alarms,
            "seconds": round(sum(by_case[c.id].seconds for c in present), 2),
        }
    return out


def print_report(cases: list[Case], results: dict[str, dict[str, PeerResult]], versions: dict[str, str],
                 mapping: bool = False) -> None:
    peers = list(results)
    width = 34
    idw = max([len(c.id) for c in cases] + [4])
    print("Cells: ok/XX = right or not by corpus.judge; N = native input, C = converted CSV; codes at warning "
          "or worse (! = critical).\n")
    print(f"{'case':<{idw}}  H  " + "  ".join(f"{p} {versions.get(p, '')}"[:width].ljust(width) for p in peers))
    for c in cases:
        cells = "  ".join(_cell_text(c, results[p][c.id], width).ljust(width) for p in peers)
        print(f"{c.id:<{idw}}  {'H' if c.healthy else ' '}  {cells}")
    print()
    for peer, s in summary(cases, results).items():
        alarms = ", ".join(f"{k} {v}" for k, v in sorted(s["healthy_alarm_codes"].items(), key=lambda kv: -kv[1]))
        print(f"{peer} {versions.get(peer, '')}: read {s['read']}/{s['cases']} (native {s['native']}, converted "
              f"CSV {s['converted']}), right {s['right']}/{s['cases']}, healthy cases with a warning-or-worse "
              f"false alarm {s['healthy_false_alarm']}/{s['healthy']}" + (f" ({alarms})" if alarms else "")
              + f"; {s['seconds']:.1f} s")
    print("\nNative input not used (why), or not read at all:")
    listed = 0
    for peer in peers:
        for c in cases:
            r = results[peer][c.id]
            if r.input == "converted CSV" or not r.read:
                state = "converted CSV" if r.read else "NOT READ"
                print(f"  {peer:<12} {c.id:<{idw}} {state:<13} {(r.native_error if r.read else r.error)[:240]}")
                listed += 1
    if not listed:
        print("  none: every case was read on its native input")
    unknown = {(p, n) for p in peers for r in results[p].values() for n in r.unknown}
    ignored: dict[tuple[str, str], int] = {}
    for p in peers:
        for r in results[p].values():
            for n in r.ignored:
                ignored[(p, n)] = ignored.get((p, n), 0) + 1
    if ignored:
        print("\nFindings with no traintriage code (ignored): " +
              ", ".join(f"{p} {n!r} on {k} case(s)" for (p, n), k in sorted(ignored.items())))
    if unknown:
        print("\nFindings the mapping does not know (ignored; a new peer version?): " +
              ", ".join(f"{p} {n}" for p, n in sorted(unknown)))
    if mapping:
        print("\nMapping (peer finding -> traintriage code; '-' = no counterpart, ignored):")
        for peer in peers:
            print(f"  {peer} (severities: {', '.join(f'{k}->{v}' for k, v in SEVERITY[peer].items())})")
            for name, code in MAPPING[peer].items():
                print(f"    {name:<58} {code or '-'}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--peer", action="append", choices=list(PEERS), help="only this peer (repeatable)")
    ap.add_argument("--case", action="append", help="only this case id (repeatable)")
    ap.add_argument("--jobs", type=int, default=None, help="cases run in parallel (default: min(4, CPUs))")
    ap.add_argument("--mapping", action="store_true", help="also print the finding -> code tables")
    ap.add_argument("--json", type=Path, help="also write every result here")
    args = ap.parse_args(argv)
    cases = load_cases()
    if args.case:
        missing = set(args.case) - {c.id for c in cases}
        if missing:
            ap.error(f"no such case: {', '.join(sorted(missing))}")
        cases = [c for c in cases if c.id in args.case]
    peers = tuple(args.peer or PEERS)
    absent = [c.id for c in cases if c.target_path() is None]
    if absent:
        print(f"# {len(absent)} case(s) without files (python benchmarks/wild/pull.py): skipped", file=sys.stderr)
        cases = [c for c in cases if c.target_path() is not None]
    t0 = time.perf_counter()
    results = run_peers(cases, peers, jobs=args.jobs, progress=sys.stderr.isatty())
    versions = peer_versions(peers)
    print_report(cases, results, versions, mapping=args.mapping)
    print(f"\n{len(cases)} cases x {len(peers)} peers in {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "versions": versions, "summary": summary(cases, results),
            "results": {p: {cid: asdict(r) for cid, r in by.items()} for p, by in results.items()},
        }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
