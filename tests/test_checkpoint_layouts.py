"""count_parameters on checkpoints as frameworks lay them out (see fixtures/checkpoint_layouts/generate_layouts.py).

Lightning, the research-code ``torch.save({...})``, HF Trainer and torch.distributed.checkpoint files
are written by the real libraries; the DeepSpeed directory is written with torch.save following
DeepSpeed's documented layout (see the generator). Expected numbers come from ``expected.json``,
computed by the generator from the live torch objects.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from traintriage.checkpoints import count_parameters
from traintriage.checkpoints.loader import checkpoint_file
from traintriage.sandbox import Sandbox

FIX = Path(__file__).parent / "fixtures" / "checkpoint_layouts"
EXPECTED = json.loads((FIX / "expected.json").read_text())
ANYWHERE = Sandbox.unrestricted()  # the command line; confinement is tested with Sandbox.of(...)


def test_lightning_ckpt_weights_hyperparameters_and_optimizer():
    exp = EXPECTED["lightning"]
    r = count_parameters(FIX / exp["file"], sandbox=ANYWHERE)
    c = r.checkpoint
    assert c.layout == "lightning" and c.state_dict_key == "state_dict"
    assert r.total_parameters == exp["parameters"] and r.tensors == exp["tensors"]
    assert c.hyperparameters == exp["hyperparameters"]
    assert c.other_keys["epoch"] == exp["epoch"] and c.other_keys["global_step"] == exp["global_step"]
    assert r.optimizer is not None and r.optimizer.key == "optimizer_states"
    assert r.optimizer.params_with_state == exp["optimizer_params_with_state"]
    assert all(t.name.startswith("net.") for t in r.largest_tensors)
    # A callback keeps numpy values in its state (torch.load(weights_only=True) refuses the file for them):
    # decoded from their bytes, recorded by name, the file read.
    assert "numpy._core.multiarray.scalar" in c.recorded_by_name


def test_research_checkpoint_with_namespace_and_numpy_values():
    exp = EXPECTED["research.pt"]
    r = count_parameters(FIX / "research.pt", sandbox=ANYWHERE)
    c = r.checkpoint
    assert r.total_parameters == exp["parameters"] and c.state_dict_key == "model"
    assert c.hyperparameters == exp["hyperparameters"]  # lr=3e-4, batch_size=32, ... from argparse.Namespace
    assert c.other_keys["best_acc"] == exp["best_acc"] and c.other_keys["best_epoch"] == exp["best_epoch"]
    assert c.other_keys["epoch"] == exp["epoch"]
    assert c.other_keys["acc_history"] == pytest.approx(exp["acc_history"])
    rng = c.other_keys["rng_state"]  # np.random.get_state(): ('MT19937', uint32[624], pos, has_gauss, cached)
    assert rng[0] == exp["rng_key"] and rng[1]["dtype"] == "uint32" and rng[1]["shape"] == [exp["rng_words"]]
    assert c.recorded_by_name["argparse.Namespace"] == 1
    assert any(name.startswith("numpy") for name in c.recorded_by_name)
    assert r.optimizer is not None and r.optimizer.kind == "Adam/AdamW"


def test_hf_output_dir_reads_the_newest_checkpoint_and_what_lies_beside_it():
    exp = EXPECTED["hf_output"]
    assert checkpoint_file(FIX / "hf_output") == FIX / "hf_output" / exp["checkpoint"] / "model.safetensors"
    before = set(sys.modules)
    r = count_parameters(FIX / "hf_output", sandbox=ANYWHERE)
    c = r.checkpoint
    assert c.layout == "hf_trainer" and c.format == "safetensors"
    assert r.total_parameters == exp["parameters"]
    assert r.optimizer is not None and r.optimizer.key == "optimizer.pt"
    assert r.optimizer.params_with_state == exp["optimizer_params_with_state"]
    assert c.hyperparameters["learning_rate"] == exp["learning_rate"]
    assert c.hyperparameters["max_steps"] == exp["max_steps"]
    assert c.hyperparameters["lr_scheduler_type"] == "linear"  # an Enum stand-in's value
    assert c.hyperparameters["scheduler.base_lrs"] == [exp["learning_rate"]] * 2
    assert c.other_keys["global_step"] == exp["max_steps"]
    assert c.recorded_by_name["transformers.training_args.TrainingArguments"] == 1
    assert {Path(p).name for p in c.companions} == {"optimizer.pt", "scheduler.pt", "training_args.bin",
                                                    "trainer_state.json"}
    assert not any(m.split(".")[0] in ("transformers", "accelerate", "torch") for m in set(sys.modules) - before)


def test_deepspeed_dir_follows_latest_and_counts_zero_shards():
    exp = EXPECTED["deepspeed"]
    states = FIX / "deepspeed" / exp["global_step_dir"] / "mp_rank_00_model_states.pt"
    assert checkpoint_file(FIX / "deepspeed") == states
    for target in (FIX / "deepspeed", FIX / "deepspeed" / exp["global_step_dir"], states):
        r = count_parameters(target, sandbox=ANYWHERE)
        assert r.checkpoint.layout == "deepspeed" and r.checkpoint.state_dict_key == "module"
        assert r.total_parameters == exp["parameters"] and r.tensors == exp["tensors"]
        opt = r.optimizer
        assert opt is not None and opt.zero_stage == exp["zero_stage"] and len(opt.files) == exp["zero_shards"]
        assert opt.slots["exp_avg"].elements + opt.slots["exp_avg_sq"].elements == exp["optimizer_slot_elements"]
        assert opt.slots["fp32_master_partition"].elements == exp["fp32_partition_elements"]
        assert r.checkpoint.hyperparameters["zero_optimization.stage"] == exp["zero_stage"]
        assert r.checkpoint.hyperparameters["optimizer.params.lr"] == pytest.approx(3e-4)
        assert r.checkpoint.other_keys["global_steps"] == 4


def test_deepspeed_latest_naming_a_path_outside_is_ignored(tmp_path):
    shutil.copytree(FIX / "deepspeed", tmp_path / "ds")
    (tmp_path / "ds" / "latest").write_text("../../etc")
    with pytest.raises(Exception, match="holds no checkpoint"):
        count_parameters(tmp_path / "ds", sandbox=ANYWHERE)


def test_dcp_counts_from_metadata_alone_and_scans_streamed():
    exp = EXPECTED["dcp"]
    r = count_parameters(FIX / "dcp", scan_values=False, sandbox=ANYWHERE)
    assert r.checkpoint.format == "torch_dcp" and r.checkpoint.layout == "torch_dcp"
    assert r.checkpoint.state_dict_key == "model"
    assert r.total_parameters == exp["parameters"] and r.tensors == exp["tensors"]
    assert r.checkpoint.files == [str(FIX / "dcp" / ".metadata")] and r.value_scan is None
    assert any("'optim' also holds" in w for w in r.warnings)
    scanned = count_parameters(FIX / "dcp", sandbox=ANYWHERE)
    vs = scanned.value_scan
    assert vs is not None and vs.scanned_tensors == exp["tensors"] and not vs.skipped
    assert {b.name: (b.nan, b.inf) for b in vs.nonfinite} == {k: tuple(v) for k, v in exp["nonfinite"].items()}
    assert sorted(vs.all_zero) == exp["all_zero"]
    assert vs.scanned_bytes == 4 * exp["parameters"]


def test_dcp_count_reads_no_distcp_bytes(tmp_path):
    exp = EXPECTED["dcp"]
    shutil.copytree(FIX / "dcp", tmp_path / "dcp")
    for shard in (tmp_path / "dcp").glob("*.distcp"):
        shard.write_bytes(b"")  # nothing to read: counting must not need it
    r = count_parameters(tmp_path / "dcp", sandbox=ANYWHERE)
    assert r.total_parameters == exp["parameters"]
    assert r.value_scan is None or r.value_scan.scanned_tensors == 0


def test_companions_outside_the_roots_are_not_read(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(FIX / "hf_output" / EXPECTED["hf_output"]["checkpoint"], root / "ckpt")
    outside = tmp_path / "outside.pt"
    shutil.copy(root / "ckpt" / "optimizer.pt", outside)
    (root / "ckpt" / "optimizer.pt").unlink()
    os.symlink(outside, root / "ckpt" / "optimizer.pt")
    r = count_parameters(root / "ckpt", sandbox=Sandbox.of([root]))
    assert r.optimizer is None
    assert any("optimizer.pt lies outside the allowed roots" in w for w in r.warnings)
    assert str(outside) not in json.dumps(r.model_dump())


def test_weight_health_findings_on_a_damaged_model():
    exp = EXPECTED["unhealthy.safetensors"]
    r = count_parameters(FIX / "unhealthy.safetensors", sandbox=ANYWHERE)
    assert r.total_parameters == exp["parameters"]
    by_kind = {f.details.get("kind"): f for f in r.findings}
    dead = by_kind["all_zero"]
    assert dead.code == "dead_component" and dead.component == exp["all_zero_matrix"]
    gain = by_kind["collapsed_norm_gain"]
    assert gain.code == "dead_component" and gain.component == exp["collapsed_gain"]
    assert gain.evidence[0].value < 0.01
    [outlier] = [f for f in r.findings if f.details.get("kind") == "weight_norm_outlier"]
    assert outlier.code == "architecture_imbalance" and outlier.component == exp["norm_outlier"]
    assert 300 < outlier.details["ratio"] < 3000  # scaled 1000x after training
    rows = by_kind["stale_embedding_rows"]
    assert rows.code == "dead_component" and rows.component == "tok_emb.weight"
    assert [e.value for e in rows.evidence] == [exp["zero_rows"], exp["duplicate_rows"]]
    # Without the value scan there is nothing to judge the values by: no health findings.
    unscanned = count_parameters(FIX / "unhealthy.safetensors", scan_values=False, sandbox=ANYWHERE)
    assert not [f for f in unscanned.findings if f.code == "dead_component"]


def test_healthy_trained_checkpoints_have_no_health_findings():
    for target in ("research.pt", "lightning/last.ckpt", "hf_output", "deepspeed"):
        r = count_parameters(FIX / target, sandbox=ANYWHERE)
        assert not [f for f in r.findings if f.code in ("dead_component", "nan_inf")], target
        assert not [f for f in r.findings if f.details.get("kind") == "weight_norm_outlier"], target


def test_correlate_joins_the_checkpoint_health_findings():
    from traintriage import api

    run = Path(__file__).parent / "fixtures" / "events" / "plain"
    report = api.correlate(run, checkpoint=FIX / "unhealthy.safetensors", sandbox=ANYWHERE)
    kinds = {(f.code, f.details.get("kind")) for f in report.findings}
    assert {("dead_component", "all_zero"), ("dead_component", "collapsed_norm_gain"),
            ("dead_component", "stale_embedding_rows"), ("architecture_imbalance", "weight_norm_outlier")} <= kinds
    assert any("dead_component" in issue.codes for issue in report.issues)
    # The outlier's plan step names the tensor and what to check, not the generic "rebalance the architecture".
    [outlier] = [i for i in report.issues if i.codes == ["architecture_imbalance"]]
    [step] = [s for s in report.remediation if outlier.rank in s.addresses]
    assert step.change.startswith(f"find why {EXPECTED['unhealthy.safetensors']['norm_outlier']} is ")
    assert "initialisation" in step.change and "weight decay" in step.change
    research = api.correlate(run, checkpoint=FIX / "research.pt", sandbox=ANYWHERE)
    assert not [f for f in research.findings if f.code == "dead_component"]


@pytest.mark.anyio
async def test_count_parameters_over_stdio_reports_scan_progress(tmp_path):
    """An agent counts a DCP checkpoint over MCP: the streamed value scan sends progress, ending at 100%."""
    from mcp import Client, StdioServerParameters

    root = tmp_path / "root"
    shutil.copytree(FIX / "dcp", root / "dcp")
    params = StdioServerParameters(command=sys.executable, args=["-m", "traintriage", "serve", "--root", str(root)])
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with Client(params, read_timeout_seconds=120) as client:
        result = await client.call_tool("count_parameters", {"checkpoint": "dcp"}, progress_callback=on_progress)
        assert not result.is_error, result.content
        report = result.structured_content
        assert report["total_parameters"] == EXPECTED["dcp"]["parameters"]
        assert report["checkpoint"]["layout"] == "torch_dcp"
        assert progress and progress[-1][0] == progress[-1][1] == report["value_scan"]["scanned_bytes"]
        assert "value scan" in (progress[-1][2] or "")
        counted = await client.call_tool("count_parameters", {"checkpoint": "dcp", "scan_values": False})
        # Sent compact (server/detail.py): no value scan is a left-out key, not a null.
        assert not counted.is_error and "value_scan" not in counted.structured_content
        outside = await client.call_tool("count_parameters", {"checkpoint": str(FIX / "research.pt")})
        assert outside.is_error and "outside every root" in outside.content[0].text


def test_cli_text_shows_hyperparameters_and_names_recorded(capsys):
    from traintriage.cli import main as cli_main

    assert cli_main(["params", str(FIX / "research.pt"), "--text"]) == 0
    out = capsys.readouterr().out
    assert "hyperparameters: lr=0.0003, batch_size=32" in out
    assert "recorded by name only (never imported): argparse.Namespace" in out
    assert cli_main(["params", str(FIX / "deepspeed"), "--no-scan"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "value_scan" not in report and report["checkpoint"]["layout"] == "deepspeed"  # compact JSON: no nulls
    assert cli_main(["params", str(FIX / "dcp"), "--scan"]) == 0
    assert json.loads(capsys.readouterr().out)["value_scan"]["scanned_tensors"] == EXPECTED["dcp"]["tensors"]


def test_dcp_distcp_symlinked_outside_the_roots_is_not_opened(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(FIX / "dcp", root / "dcp")
    [shard] = (root / "dcp").glob("*.distcp")
    outside = tmp_path / "outside.distcp"
    shard.rename(outside)
    os.symlink(outside, shard)
    r = count_parameters(root / "dcp", sandbox=Sandbox.of([root]), scan_values=True)
    assert r.total_parameters == EXPECTED["dcp"]["parameters"]  # counted from .metadata alone
    assert r.value_scan is None
    assert any("outside the roots" in w for w in r.warnings)
    assert str(outside) not in json.dumps(r.model_dump())
    # Unrestricted (the CLI), the same layout is scanned through the link.
    everywhere = count_parameters(root / "dcp", scan_values=True, sandbox=ANYWHERE)
    assert everywhere.value_scan.scanned_tensors == EXPECTED["dcp"]["tensors"]


def test_deepspeed_latest_as_a_symlink_is_not_followed(tmp_path):
    shutil.copytree(FIX / "deepspeed", tmp_path / "ds")
    secret = tmp_path / "secret.txt"
    secret.write_text("global_step4")
    (tmp_path / "ds" / "latest").unlink()
    os.symlink(secret, tmp_path / "ds" / "latest")
    with pytest.raises(Exception, match="holds no checkpoint"):
        count_parameters(tmp_path / "ds", sandbox=Sandbox.of([tmp_path / "ds"]))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "os.system", "path escape", "huge offset"])
def test_damaged_dcp_metadata_is_a_clear_error_or_a_count(tmp_path, damage):
    from traintriage.errors import TraintriageError

    shutil.copytree(FIX / "dcp", tmp_path / "dcp")
    meta = tmp_path / "dcp" / ".metadata"
    data = meta.read_bytes()
    if damage == "garbage":
        meta.write_bytes(b"\x00not a pickle" * 10)
    elif damage == "truncated":
        meta.write_bytes(data[: len(data) // 2])
    elif damage == "os.system":
        meta.write_bytes(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.")
    elif damage == "path escape":  # every chunk's file named ../<outside> (same length): never opened
        assert b"__0_0.distcp" in data
        meta.write_bytes(data.replace(b"__0_0.distcp", b"../_0.distcp"))
    elif damage == "huge offset":  # offsets far past the end of the .distcp: counted, never read
        shard = next((tmp_path / "dcp").glob("*.distcp"))
        shard.write_bytes(shard.read_bytes()[:100])
    if damage in ("garbage", "truncated", "os.system"):
        with pytest.raises(TraintriageError) as err:
            count_parameters(tmp_path / "dcp", scan_values=True, sandbox=ANYWHERE)
        assert err.value.message and err.value.hint
        assert damage != "os.system" or "os.system" in err.value.message
        return
    r = count_parameters(tmp_path / "dcp", scan_values=True, sandbox=ANYWHERE)
    assert r.total_parameters == EXPECTED["dcp"]["parameters"] and r.value_scan is None


@pytest.mark.anyio
async def test_a_value_scan_past_the_call_time_limit_stops_between_tensors(tmp_path):
    """A scan asked for on a big checkpoint (2.1 GiB of zeros: a sparse safetensors file) over a server with a
    1.5 s call limit: answered at the deadline, the worker stops after its current tensor, the server serves on."""
    import struct
    import time

    import anyio
    from serverproc import child_server_pid, cpu_used_over, stdio_client

    n, size = 136, 16 * 1024 * 1024  # 136 tensors of 16 MiB (2.1 GiB): each scanned in well under a second
    header = {f"layers.{i}.weight": {"dtype": "F32", "shape": [size // 4], "data_offsets": [i * size, (i + 1) * size]}
              for i in range(n)}
    raw = json.dumps(header).encode()
    big = tmp_path / "big.safetensors"
    with big.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + n * size)
    async with stdio_client("--root", str(tmp_path), env={"TRAINTRIAGE_CALL_TIMEOUT": "1.5"}) as client:
        pid = child_server_pid(str(tmp_path))
        counted = await client.call_tool("count_parameters", {"checkpoint": "big.safetensors"})
        # Sent compact (server/detail.py): no value scan is a left-out key, not a null.
        assert not counted.is_error and "value_scan" not in counted.structured_content  # opt-in above 2 GiB
        start = time.monotonic()
        result = await client.call_tool("count_parameters", {"checkpoint": "big.safetensors", "scan_values": True})
        elapsed = time.monotonic() - start
        assert result.is_error and "time limit of 1.5 s" in result.content[0].text
        assert 1.4 < elapsed < 3.0, elapsed
        await anyio.sleep(1.5)  # the tensor being scanned at the deadline finishes, then the worker stops
        assert await anyio.to_thread.run_sync(cpu_used_over, pid, 0.5) < 0.15
        again = await client.call_tool("count_parameters", {"checkpoint": "big.safetensors"})
        assert not again.is_error
