"""The rule packages (``traintriage.rules``): the registry derived from them, and each cause signal
deciding the root cause on the run where it matters.

Signals are checked on committed runs (the bundled demo, the synthetic corpus, fixtures) where one
exists; on a wild-corpus run (skipped when its files are not pulled) where only a wild log shows it;
and on a small run built for the purpose where no logged run does, which the table says.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import numpy as np
import pytest

from traintriage import api
from traintriage.findings import CODES, Finding, FindingCode
from traintriage.rules import ANCHOR_RANK, BY_CODE, RULES, reference_page
from traintriage.sandbox import Sandbox
from traintriage.signals import RunData, Series, infer_roles
from traintriage.triage import attribution
from traintriage.triage import correlate as correlate_run

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "src/traintriage/examples/demo_run"
SYNTHETIC = ROOT / "benchmarks/corpus/runs"
FIXTURES = ROOT / "tests/fixtures"
TIMING = FIXTURES / "timing"
WILD = ROOT / "benchmarks/wild"
OPEN = Sandbox.unrestricted()
SECTIONS = ("## What it detects", "## Why it matters", "## Thresholds", "## How to validate")


def test_registry_is_exactly_the_rule_packages():
    packages = sorted(p.name for p in (ROOT / "src/traintriage/rules").iterdir() if (p / "__init__.py").is_file())
    assert sorted(BY_CODE) == packages
    assert sorted(CODES) == packages
    assert set(FindingCode.__args__) == set(packages)
    assert len(set(ANCHOR_RANK.values())) == len(RULES), "two codes share an anchor rank: naming an issue is ambiguous"


def test_design_md_codes_all_have_rules():
    design = ROOT.parent / "shared" / "DESIGN.md"
    if not design.is_file():
        pytest.skip("../shared/DESIGN.md is not beside the checkout")
    section = design.read_text(encoding="utf-8").split("## Finding codes", 1)[-1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([a-z_]+) \| ", section, flags=re.M)
    table = [code for code in rows if code != "code"]  # the header row
    assert table, "DESIGN.md's finding-code table was not found"
    missing = [code for code in table if code not in BY_CODE]
    # New codes are added to DESIGN.md before their rule lands (the beyond-the-loss issue); the rest must exist.
    planned = {"metric_collapse", "slow_steps", "stall", "input_bound", "mixed_precision_overflow", "log_message",
               "hyperparameter_risk"}
    assert set(missing) <= planned


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_is_complete(rule):
    page = reference_page(rule.code)
    assert page.startswith(f"# {rule.code}\n")
    for section in SECTIONS:
        assert section in page, f"{rule.code}: reference page lacks {section!r}"
    assert rule.detectors
    for ref in rule.detectors:
        module, _, name = ref.partition(":")
        assert callable(getattr(importlib.import_module(module), name)), ref
    for cause in rule.causes:
        for signal in cause.signals:
            assert 0 < signal.weight < 1, f"{rule.code}/{signal.name}: a weight is a probability-like share"
            assert len(signal.why) > 40, f"{rule.code}/{signal.name}: say why the weight is what it is"


def test_same_event_is_symmetric():
    for rule in RULES:
        for other, widen in rule.same_event.items():
            assert BY_CODE[other].same_event.get(rule.code) == widen, (rule.code, other)


def test_make_finding_refuses_a_code_without_a_rule():
    from traintriage.findings import make_finding

    with pytest.raises(ValueError, match="unknown finding code"):
        make_finding("loss_spikes", "warning", "t", "m", confidence=0.5)
    with pytest.raises(ValueError):
        Finding(code="not_a_code", severity="info", title="t", message="m", confidence=0.1)


# --- each signal, on the run where it matters -------------------------------------------------------


def _load(target) -> RunData:
    return api.load(target, sandbox=OPEN)


def _series_run(tags: dict[str, np.ndarray]) -> RunData:
    built = {name: Series.from_arrays(name, np.arange(len(v)), v) for name, v in tags.items()}
    return RunData(Path("/tmp/built"), "test", built, infer_roles(built, None))


def _with_stage_at(run: RunData, step_of) -> RunData:
    """``run`` with a curriculum stage series that changes at ``step_of(run)`` (added, nothing else changed)."""
    loss = run.get(run.roles.train_loss)
    at = step_of(run)
    stage = Series.from_arrays("curriculum/stage", loss.steps, np.where(loss.steps >= at, 2.0, 1.0))
    series = {**run.series, stage.name: stage}
    return RunData(run.path, run.source, series, run.roles.model_copy(update={"stage": stage.name}), run.files)


def _front_heavy_stack() -> RunData:
    """Backward signals growing 2.5x per layer toward the input from the first step (see test_gradnorm)."""
    rng = np.random.default_rng(0)
    base = np.exp(rng.normal(0, 0.2, (12, 300)))
    tags = {f"grad_norm/h.{i}": base[i] * 2.5 ** (12 - i) for i in range(12)}
    return _series_run(tags | {"loss": np.linspace(2, 1, 300)})


def _runaway_growth() -> RunData:
    """A gradient norm that grows 4 decades from step 200 while the loss keeps falling."""
    rng = np.random.default_rng(1)
    n = 400
    noise = np.exp(rng.normal(0, 0.3, n))
    return _series_run({"loss": np.linspace(2, 1, n), "grad_norm": 10 ** (4.0 * np.clip(np.arange(n) - 200, 0, None)
                                                                            / 200) * noise})


def _level_shift() -> RunData:
    rng = np.random.default_rng(9)
    n = 1000
    level = 0.3 + 2.0 * np.exp(-np.arange(n) / 100)
    level[500:] = 0.8
    return _series_run({"loss": level * np.exp(rng.normal(0, 0.02, n))})


def _without(run: RunData, name: str) -> RunData:
    """``run`` with one series left out (nothing else changed)."""
    series = {n: s for n, s in run.series.items() if n != name}
    return RunData(run.path, run.source, series, run.roles, run.files)


def _with_flat_data_time(run: RunData) -> RunData:
    """``run`` with its data-loading time held at its level before the slowdown (built: no logged run has a
    slowdown whose data time stayed flat)."""
    data = run.series["time/data"]
    flat = Series(data.name, data.steps, np.full(len(data), float(np.median(data.values[:100]))), data.wall_times)
    return RunData(run.path, run.source, {**run.series, data.name: flat}, run.roles, run.files)


def _without_lr(run: RunData) -> RunData:
    """``run`` as if its LR had not been logged (the same series otherwise, roles inferred again)."""
    series = {name: s for name, s in run.series.items() if name != run.roles.lr}
    return RunData(run.path, run.source, series, infer_roles(series), run.files)


def _start_of(run: RunData, code: str) -> int:
    report = correlate_run(run, sandbox=OPEN)
    return next(i.step_start for i in report.issues if i.codes[0] == code)


# signal -> (how to get the run, correlate options, the code of the issue it decides)
SIGNAL_RUNS = {
    "lr_jump": (lambda: _load(DEMO), {}, "loss_spike"),
    "grad_spike_alone": (lambda: _load(DEMO), {}, "loss_spike"),
    "lr_ramp": (lambda: _load(SYNTHETIC / "divergence_lr_ramp"), {}, "divergence"),
    "grad_growth": (lambda: _load(SYNTHETIC / "nan_lr_too_high"), {}, "nan_inf"),
    "swinging": (lambda: _load(FIXTURES / "optuna_study/runs/trial_11"), {}, "oscillation"),
    "no_optimizer_signal": (lambda: _load(FIXTURES / "optuna_study/runs/trial_11"), {}, "divergence"),
    "nan_first_in": (lambda: _load(FIXTURES / "events/nan_inf"), {}, "nan_inf"),
    "no_growth_before": (lambda: _load(FIXTURES / "formats/textlogs/hf_stdout"), {}, "nan_inf"),
    "one_component_dominates": (lambda: _load(FIXTURES / "optuna_study/runs/trial_1"), {}, "nan_inf"),
    "lr_constant": (lambda: _load(FIXTURES / "optuna_study/runs/trial_1"), {}, "nan_inf"),
    "lr_zero": (lambda: _load(SYNTHETIC / "stuck_lr_zero"), {}, "stuck_loss"),
    "tiny_peak_lr": (lambda: _load(SYNTHETIC / "plateau_lr_too_low"), {}, "plateau"),
    "plateau_at_chance": (lambda: _load(SYNTHETIC / "plateau_shuffled_labels"), {}, "plateau"),
    "plateau": (lambda: _load(FIXTURES / "optuna_study/runs/trial_10"), {}, "plateau"),
    "val_up_train_down": (lambda: _load(DEMO), {}, "overfitting"),
    "loss_near_zero": (lambda: _load(SYNTHETIC / "zero_loss_label_leak"), {}, "zero_loss"),
    "stage_change_at_regression": (lambda: _load(SYNTHETIC / "curriculum_regression"), {}, "curriculum_regression"),
    "regression_at_transition": (_level_shift, {"transitions": [500]}, "curriculum_regression"),
    "stage_change": (
        lambda: _with_stage_at(_load(FIXTURES / "optuna_study/runs/trial_10"),
                               lambda run: _start_of(run, "plateau")),
        {},
        "plateau",
    ),
    "clipping_rescales_most_updates": (lambda: _load(FIXTURES / "formats/hf_trainer"), {}, "heavy_clipping"),
    "front_far_below_back": (lambda: _load(SYNTHETIC / "vanishing_sigmoid_stack"), {}, "vanishing_gradients"),
    "gradient_below_floor": (lambda: _load(SYNTHETIC / "dead_branch_detached"), {}, "dead_component"),
    "share_far_from_siblings": (lambda: _load(DEMO), {}, "gradient_imbalance"),
    "huge_from_start": (_front_heavy_stack, {}, "exploding_gradients"),
    "grew_during_training": (_runaway_growth, {}, "exploding_gradients"),
    "memory_grows": (lambda: _load(SYNTHETIC / "memory_leak_graph"), {}, "memory_leak"),
    "near_capacity": (lambda: _load(SYNTHETIC / "memory_pressure_autobatch"), {}, "memory_pressure"),
    "data_time_rises": (lambda: _load(TIMING / "slow_pipeline"), {}, "slow_steps"),
    "slowdown_unexplained": (lambda: _without(_load(TIMING / "slow_pipeline"), "time/data"), {}, "slow_steps"),
    "data_time_flat": (lambda: _with_flat_data_time(_load(TIMING / "slow_pipeline")), {}, "slow_steps"),
    "same_process_blocked": (lambda: _load(TIMING / "stall_blocking"), {}, "stall"),
    "job_restarted": (lambda: _load(TIMING / "restart"), {}, "stall"),
    "data_wait_measured": (
        lambda: _load(TIMING / "slow_pipeline"),
        {"memory": TIMING / "input_bound.pt.trace.json.gz"},
        "input_bound",
    ),
    "component_died": (lambda: _without_lr(_load(FIXTURES / "runs/metric_collapse/collapse_one_class")), {},
                       "metric_collapse"),
    "configured_risk": (lambda: _load(FIXTURES / "runs/hyperparameter_risk/adam_lr_too_high"), {}, "plateau"),
    "predicted_failure_shown": (lambda: _load(FIXTURES / "runs/hyperparameter_risk/adam_lr_too_high"), {},
                                "hyperparameter_risk"),
    "parameters_concentrated": (
        lambda: _load(DEMO),
        {"checkpoint": FIXTURES / "checkpoints/embedding_heavy_lm.safetensors"},
        "architecture_imbalance",
    ),
    "dead_weights_read": (
        lambda: _load(DEMO),
        {"checkpoint": FIXTURES / "checkpoint_layouts/unhealthy.safetensors"},
        "dead_component",
    ),
    # messages and the fp16 loss scale: real runs (tests/fixtures/messages, generate.py) and a real public log
    "numerical_message": (lambda: _load(FIXTURES / "messages/var_nan/train.log"), {}, "nan_inf"),
    "loss_scale_fell": (lambda: _load(FIXTURES / "messages/gradscaler_overflow/tb"), {}, "nan_inf"),
    "oom_message": (lambda: _load(FIXTURES / "formats/textlogs/nanogpt_karpathy/train.log"), {}, "log_message"),
    "data_message": (lambda: _load(FIXTURES / "messages/worker_killed/train.log"), {}, "log_message"),
    "distributed_message": (lambda: _load(FIXTURES / "messages/nccl_watchdog/train.log"), {}, "log_message"),
}
# Signals only a wild log shows (the corpus's files are pulled, not committed: skipped when absent).
WILD_SIGNAL_RUNS = {
    "loss_constant_lr_nonzero": ("x-barber0-gradscaler-stuck", "stuck_loss"),
}
# Signals no logged run has shown deciding a cause yet, and why.
NOT_YET_SEEN = {
    "memory_grows_with_it": "a slowdown and a memory leak in one run: the leak fixtures are too short to slow "
    "their steps for 30 s, and no wild log with wall times shows both",
    "oom_in_log": "needs a text log that prints both a memory series near a stated capacity and the OOM that ends "
    "it; the corpus's memory runs are TensorBoard files and the real OOM logs (tests/test_messages.py) print no "
    "memory series, where the OOM is an issue of its own (log_message, cause memory)",
    "routine_clipping": "weighed with a divergence or oscillation while another issue clips most steps; it has "
    "never been the deciding signal on a corpus run (it adds 0.25 to an optimizer cause that already has one)",
}


def _deciding_signals(run: RunData, options: dict, code: str, monkeypatch) -> tuple[str, tuple[str, ...]]:
    """The winning cause's category and fired signal names of the issue ``code`` names."""
    decided: dict[str, tuple[str, tuple[str, ...]]] = {}

    def spy(issue, ctx, all_findings):
        best = attribution.best_supported(attribution.weigh(issue, ctx, all_findings))
        if best is not None:
            decided.setdefault(issue.anchor.code, (best.cause.category, best.fired))
        return attribution.attribute.__wrapped__(issue, ctx, all_findings)

    spy.__wrapped__ = attribution.attribute
    monkeypatch.setattr(attribution, "attribute", spy)
    options = dict(options)
    checkpoint = options.pop("checkpoint", None)
    correlate_run(run, checkpoint=checkpoint, sandbox=Sandbox.of([ROOT]), **options)
    assert code in decided, f"no {code} issue; issues named by {sorted(decided)}"
    return decided[code]


@pytest.mark.parametrize("signal", sorted(SIGNAL_RUNS))
def test_signal_decides_the_cause_on_its_run(signal, monkeypatch):
    make, options, code = SIGNAL_RUNS[signal]
    _, fired = _deciding_signals(make(), options, code, monkeypatch)
    assert signal in fired


@pytest.mark.parametrize("signal", sorted(WILD_SIGNAL_RUNS))
def test_signal_decides_the_cause_on_a_wild_run(signal, monkeypatch):
    import sys

    sys.path.insert(0, str(WILD))
    from corpus import load_cases

    case_id, code = WILD_SIGNAL_RUNS[signal]
    case = next(c for c in load_cases() if c.id == case_id)
    if case.target_path() is None:
        pytest.skip(f"wild case {case_id} is not pulled (benchmarks/wild/pull.py)")
    _, fired = _deciding_signals(_load(case.target_path()), {}, code, monkeypatch)
    assert signal in fired


def test_every_signal_has_a_run_or_a_reason():
    names = {s.name for rule in RULES for cause in rule.causes for s in cause.signals}
    accounted = set(SIGNAL_RUNS) | set(WILD_SIGNAL_RUNS) | set(NOT_YET_SEEN)
    assert names == accounted, f"signals without a run: {sorted(names - accounted)}; stale: {sorted(accounted - names)}"


# --- how causes are weighed ---------------------------------------------------------------------------


def test_agreeing_signals_combine_but_never_reach_certainty():
    assert attribution.combined([0.5, 0.5]) == 0.75  # two moderate independent signals beat one
    assert attribution.combined([0.9, 0.9, 0.9]) == attribution.MAX_CONFIDENCE < 1
    assert attribution.combined([]) == 0


def test_equal_confidence_goes_to_the_cause_the_rule_lists_first(monkeypatch):
    """zero_loss_label_leak with a curriculum stage change added where its first zero-loss issue starts: the
    stage change and the near-zero loss both weigh 0.6; the zero_loss rule lists the stage change first (a
    logged stage change is the more specific story), and it wins."""
    run = _with_stage_at(_load(SYNTHETIC / "zero_loss_label_leak"), lambda run: _start_of(run, "zero_loss"))
    weighed: list = []

    def spy(issue, ctx, all_findings):
        if issue.anchor.code == "zero_loss" and not weighed:
            weighed.extend(attribution.weigh(issue, ctx, all_findings))
        return spy.__wrapped__(issue, ctx, all_findings)

    spy.__wrapped__ = attribution.attribute
    monkeypatch.setattr(attribution, "attribute", spy)
    report = correlate_run(run, sandbox=OPEN)
    assert [(w.cause.category, w.root_cause.confidence) for w in weighed] == [("curriculum", 0.6), ("data", 0.6)]
    first = next(i for i in report.issues if i.codes[0] == "zero_loss")
    assert first.root_cause.category == "curriculum"


def test_an_issue_no_signal_explains_is_unknown_with_a_low_confidence():
    """A huge gradient spike the loss never notices, with no LR or curriculum logged: nothing points at a cause,
    and the report says so instead of guessing one."""
    rng = np.random.default_rng(3)
    n = 400
    norm = np.exp(rng.normal(0, 0.1, n))
    norm[200:203] *= 500
    run = _series_run({"loss": np.linspace(2, 1, n) * np.exp(rng.normal(0, 0.01, n)), "grad_norm": norm})
    report = correlate_run(run, sandbox=OPEN)
    [issue] = report.issues
    assert issue.codes == ["gradient_spike"]
    assert issue.root_cause.category == "unknown"
    assert issue.root_cause.confidence == attribution.NO_SIGNAL_CONFIDENCE
    assert "gradient_spike" in issue.root_cause.explanation
