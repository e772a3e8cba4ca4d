"""count_parameters on real checkpoints (written by torch.save / safetensors, see generate_checkpoints.py).

Expected numbers come from ``expected.json``, computed by the generator with ``sum(p.numel())``
over the live torch modules, independently of traintriage.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from traintriage.checkpoints import count_parameters
from traintriage.cli import main as cli_main
from traintriage.errors import InputError, TargetNotFoundError, UnsafeArtifactError
from traintriage.sandbox import Sandbox

FIX = Path(__file__).parent / "fixtures" / "checkpoints"
EXPECTED = json.loads((FIX / "expected.json").read_text())


def cats(report):
    return {c.category: c.parameters for c in report.categories}


@pytest.mark.parametrize("name", ["mlp_state_dict.pt", "mlp_legacy.pt", "train_ckpt_ddp.pt",
                                  "compiled_state_dict.pt", "tiny_lm.safetensors", "sharded", "tied_lm.pt",
                                  "tied_cloned.safetensors", "embedding_heavy_lm.safetensors"])
def test_counts_match_torch(name):
    exp = EXPECTED[name]
    r = count_parameters(FIX / name, sandbox=Sandbox.unrestricted())
    assert r.checkpoint.format == exp["format"]
    assert r.total_parameters == exp["parameters"]
    if "tensors" in exp:
        assert r.tensors == exp["tensors"]
    if "buffers" in exp:
        assert r.buffers.elements == exp["buffers"]
    if "categories" in exp:
        assert cats(r) == exp["categories"]
    assert sum(d.parameters for d in r.by_dtype) == r.total_parameters
    assert sum(n.parameters for n in r.tree) == r.total_parameters


def test_bytes_by_dtype_from_header_only():
    r = count_parameters(FIX / "embedding_heavy_lm.safetensors", scan_values=False, sandbox=Sandbox.unrestricted())
    assert r.value_scan is None
    assert [(d.dtype, d.parameters, d.bytes) for d in r.by_dtype] == [
        ("bfloat16", EXPECTED["embedding_heavy_lm.safetensors"]["parameters"],
         EXPECTED["embedding_heavy_lm.safetensors"]["bytes"])]
    r = count_parameters(FIX / "tiny_lm.safetensors", sandbox=Sandbox.unrestricted())
    assert r.total_bytes == EXPECTED["tiny_lm.safetensors"]["bytes"]


def test_training_checkpoint_is_unwrapped_and_optimizer_reported_apart():
    exp = EXPECTED["train_ckpt_ddp.pt"]
    r = count_parameters(FIX / "train_ckpt_ddp.pt", sandbox=Sandbox.unrestricted())
    assert r.checkpoint.state_dict_key == "model"
    assert r.checkpoint.prefixes_stripped == ["module."]
    assert r.checkpoint.other_keys == exp["other_keys"]
    names = [n.name for n in r.tree]
    assert "module" not in names and "tok_emb" in names
    opt = r.optimizer
    assert opt is not None and opt.kind == "Adam/AdamW" and opt.key == "optimizer"
    assert opt.params_with_state == exp["optimizer"]["params_with_state"]
    assert opt.param_groups == exp["optimizer"]["param_groups"]
    assert opt.slots["exp_avg"].elements == exp["optimizer"]["exp_avg"] == r.total_parameters
    assert opt.slots["exp_avg_sq"].elements == exp["optimizer"]["exp_avg_sq"]
    assert opt.slots["exp_avg"].bytes == exp["optimizer"]["exp_avg_bytes"]
    assert opt.hyperparameters[0]["lr"] == pytest.approx(1e-3)


def test_compile_prefix_stripped():
    r = count_parameters(FIX / "compiled_state_dict.pt", sandbox=Sandbox.unrestricted())
    assert r.checkpoint.prefixes_stripped == ["_orig_mod."]
    assert all("_orig_mod" not in t.name for t in r.largest_tensors)


def test_sharded_reads_every_shard_through_the_index():
    r = count_parameters(FIX / "sharded" / "model.safetensors.index.json", sandbox=Sandbox.unrestricted())
    assert r.checkpoint.format == "safetensors_sharded"
    assert len(r.checkpoint.files) == 1 + EXPECTED["sharded"]["files"]
    assert r.total_parameters == EXPECTED["sharded"]["parameters"]


def test_missing_shard_is_a_warning(tmp_path):
    shutil.copytree(FIX / "sharded", tmp_path / "m")
    (tmp_path / "m" / "model-00002-of-00002.safetensors").unlink()
    r = count_parameters(tmp_path / "m", sandbox=Sandbox.unrestricted())
    assert any("missing" in w for w in r.warnings)
    assert 0 < r.total_parameters < EXPECTED["sharded"]["parameters"]


def test_tied_shared_storage_counted_once():
    exp = EXPECTED["tied_lm.pt"]
    r = count_parameters(FIX / "tied_lm.pt", scan_values=False, sandbox=Sandbox.unrestricted())
    assert r.total_parameters == exp["parameters"]
    assert len(r.tied) == 1
    g = r.tied[0]
    assert sorted(g.names) == exp["tied_names"] and g.names[0] == "tok_emb.weight"
    assert g.how == "shared_storage" and g.counted_once and g.parameters == exp["tied_parameters"]


def test_tied_by_identical_values_needs_the_scan():
    exp = EXPECTED["tied_cloned.safetensors"]
    r = count_parameters(FIX / "tied_cloned.safetensors", sandbox=Sandbox.unrestricted())
    assert r.total_parameters == exp["parameters"]
    assert [(g.how, g.counted_once) for g in r.tied] == [("identical_values", True)]
    unscanned = count_parameters(FIX / "tied_cloned.safetensors", scan_values=False, sandbox=Sandbox.unrestricted())
    assert [(g.how, g.counted_once) for g in unscanned.tied] == [("name_convention", False)]
    assert unscanned.total_parameters == exp["parameters"] + exp["tied_parameters"]
    assert any("not compared" in w for w in unscanned.warnings)


def test_embedding_heavy_model_gets_architecture_imbalance_with_arithmetic():
    exp = EXPECTED["embedding_heavy_lm.safetensors"]
    r = count_parameters(FIX / "embedding_heavy_lm.safetensors", sandbox=Sandbox.unrestricted())
    [f] = [f for f in r.findings if f.code == "architecture_imbalance"]
    total = exp["parameters"]
    heavy = exp["categories"]["embeddings"] + exp["categories"]["output_head"]
    share = f.evidence[0]
    assert share.metric == "params/embedding_share" and share.value == pytest.approx(heavy / total, abs=1e-6)
    assert share.expected.startswith("<= 0.5")
    assert f.details["vocab"] == exp["vocab"] and f.details["d_model"] == exp["d_model"]
    assert f.details["layers"] == exp["layers"] and f.details["per_block"] == exp["per_block"]
    assert "3,000 x 32 = 96,000" in f.message
    options = {o["option"]: o for o in f.details["options"]}
    assert options["tie_output_head"]["parameters"] == total - exp["vocab"] * exp["d_model"]
    smaller = [o for o in f.details["options"] if o["option"] == "smaller_vocabulary"]
    for o in smaller:
        v_new = int(o["change"].split("-> ")[1].replace(",", ""))
        assert o["parameters"] == total - 2 * (exp["vocab"] - v_new) * exp["d_model"]
    assert any(o["embedding_share"] <= 0.5 for o in f.details["options"]
               if o["option"] == "smaller_d_model_more_layers")


def test_balanced_model_has_no_imbalance_finding():
    r = count_parameters(FIX / "tiny_lm.safetensors", sandbox=Sandbox.unrestricted())
    assert r.findings == []
    assert r.architecture["layers"] == 2


def test_block_far_larger_than_siblings():
    exp = EXPECTED["block_outlier.safetensors"]
    r = count_parameters(FIX / "block_outlier.safetensors", depth=2, sandbox=Sandbox.unrestricted())
    assert r.total_parameters == exp["parameters"]
    [f] = [f for f in r.findings if f.details.get("kind") == "block_outlier"]
    assert f.component == "blocks.2" and f.evidence[0].value == exp["blocks"]["blocks.2"]
    blocks = next(n for n in r.tree if n.name == "blocks")
    assert {c.name: c.parameters for c in blocks.children} == exp["blocks"]


def test_tree_depth():
    shallow = count_parameters(FIX / "tiny_lm.safetensors", depth=1, scan_values=False, sandbox=Sandbox.unrestricted())
    assert all(not n.children for n in shallow.tree)
    deep = count_parameters(FIX / "tiny_lm.safetensors", depth=3, scan_values=False, sandbox=Sandbox.unrestricted())
    blocks = next(n for n in deep.tree if n.name == "blocks")
    assert [c.name for c in blocks.children] == ["blocks.0", "blocks.1"]
    assert {g.name for g in blocks.children[0].children} == {"blocks.0.attn", "blocks.0.ln_1", "blocks.0.ln_2",
                                                             "blocks.0.mlp"}


@pytest.mark.parametrize("name", ["nan_weights.safetensors", "nan_weights.pt"])
def test_nonfinite_and_all_zero_tensors(name):
    exp = EXPECTED["nan_weights"]
    r = count_parameters(FIX / name, sandbox=Sandbox.unrestricted())
    got = {b.name: {"nan": b.nan, "inf": b.inf} for b in r.value_scan.nonfinite}
    assert got == exp["nonfinite"]
    assert sorted(r.value_scan.all_zero) == exp["all_zero"]
    [f] = [f for f in r.findings if f.code == "nan_inf"]
    assert f.severity == "critical"
    for tensor in exp["nonfinite"]:
        assert tensor in f.message
    assert any("dead.weight" in w for w in r.warnings)


def test_malicious_pickle_is_refused_and_does_not_run():
    marker = Path(EXPECTED["malicious.pt"]["marker"])
    marker.unlink(missing_ok=True)
    with pytest.raises(UnsafeArtifactError) as err:
        count_parameters(FIX / "malicious.pt", sandbox=Sandbox.unrestricted())
    assert EXPECTED["malicious.pt"]["global"] in err.value.message
    assert "nothing in the file was run" in err.value.message
    assert not marker.exists()


def test_hf_configs_give_published_sizes(tmp_path):
    configs = {
        "gpt2": ({"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12,
                  "n_head": 12}, 124_439_808),
        "llama2-7b": ({"model_type": "llama", "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
                       "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
                       "tie_word_embeddings": False}, 6_738_415_616),
        "bert-base": ({"model_type": "bert", "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
                       "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2},
                      109_482_240),
    }
    for name, (cfg, size) in configs.items():
        d = tmp_path / name
        d.mkdir()
        (d / "config.json").write_text(json.dumps(cfg))
        r = count_parameters(d, sandbox=Sandbox.unrestricted())
        assert r.checkpoint.format == "hf_config"
        assert r.total_parameters == size, name
    gpt2 = count_parameters(tmp_path / "gpt2" / "config.json", sandbox=Sandbox.unrestricted())
    assert [g.how for g in gpt2.tied] == ["config"]
    assert not [f for f in gpt2.findings if f.code == "architecture_imbalance"]


# ---------------------------------------------------------------------------------------------
# Bad input: clear errors, bounded work, never code execution
# ---------------------------------------------------------------------------------------------


def test_truncated_safetensors_header(tmp_path):
    data = (FIX / "tiny_lm.safetensors").read_bytes()
    n = int.from_bytes(data[:8], "little")
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(data[: 8 + n // 2])
    with pytest.raises(InputError, match=r"truncated|claims"):
        count_parameters(bad, sandbox=Sandbox.unrestricted())
    tiny = tmp_path / "tiny.safetensors"
    tiny.write_bytes(b"\x01\x02")
    with pytest.raises(InputError, match="too short"):
        count_parameters(tiny, sandbox=Sandbox.unrestricted())


def test_header_length_2_to_the_60(tmp_path):
    bad = tmp_path / "huge_header.safetensors"
    bad.write_bytes((1 << 60).to_bytes(8, "little") + b'{"a": 1}')
    with pytest.raises(InputError, match="limit"):
        count_parameters(bad, sandbox=Sandbox.unrestricted())


def test_corrupt_zip(tmp_path):
    data = (FIX / "tied_lm.pt").read_bytes()
    bad = tmp_path / "cut.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="zip"):
        count_parameters(bad, sandbox=Sandbox.unrestricted())


def test_empty_garbage_and_missing(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        count_parameters(tmp_path / "empty.pt", sandbox=Sandbox.unrestricted())
    (tmp_path / "noise.bin").write_bytes(b"hello, not a checkpoint" * 10)
    with pytest.raises(InputError, match="not a checkpoint format"):
        count_parameters(tmp_path / "noise.bin", sandbox=Sandbox.unrestricted())
    with pytest.raises(TargetNotFoundError):
        count_parameters(tmp_path / "nope.safetensors", sandbox=Sandbox.unrestricted())


def test_20gb_files_are_not_read(tmp_path):
    # Sparse files: no disk used, but every size check sees 20 GB.
    size = 20 * 1024**3
    zeros = tmp_path / "zeros.bin"
    with zeros.open("wb") as fh:
        fh.truncate(size)
    with pytest.raises(InputError, match="not a checkpoint format"):
        count_parameters(zeros, sandbox=Sandbox.unrestricted())
    numel = size // 4  # one float32 tensor filling 20 GiB
    header = json.dumps({"big.weight": {"dtype": "F32", "shape": [numel], "data_offsets": [0, size]}}).encode()
    big = tmp_path / "big.safetensors"
    with big.open("wb") as fh:
        fh.write(len(header).to_bytes(8, "little") + header)
        fh.truncate(8 + len(header) + size)
    r = count_parameters(big, max_scan_bytes=1 << 20, sandbox=Sandbox.unrestricted())  # over 2 GiB: opt-in scan
    assert r.total_parameters == numel and r.total_bytes == size
    assert r.value_scan is None and any("value scan not run" in w and "--scan" in w for w in r.warnings)
    r = count_parameters(big, scan_values=True, max_scan_bytes=1 << 20, sandbox=Sandbox.unrestricted())
    assert r.value_scan.skipped and "budget" in r.value_scan.skipped[0]


def test_cli_params_json_and_exit_codes(tmp_path, capsys):
    assert cli_main(["params", str(FIX / "embedding_heavy_lm.safetensors")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_parameters"] == EXPECTED["embedding_heavy_lm.safetensors"]["parameters"]
    assert cli_main(["params", str(FIX / "embedding_heavy_lm.safetensors"), "--fail-on", "warning"]) == 1
    capsys.readouterr()
    assert cli_main(["params", str(FIX / "tied_lm.pt"), "--text", "--depth", "1"]) == 0
    assert "tied weights" in capsys.readouterr().out
    assert cli_main(["params", str(FIX / "malicious.pt")]) == 2
    assert "posix.system" in capsys.readouterr().err
