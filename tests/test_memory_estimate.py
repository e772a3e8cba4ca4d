"""The estimator against published figures (ZeRO paper Figure 1; 16 bytes/param mixed-precision Adam)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from traintriage.errors import InputError
from traintriage.memory import estimate_memory, parse_size
from traintriage.memory.estimate import activation_bytes_per_layer
from traintriage.sandbox import Sandbox


def test_mixed_precision_adam_is_16_bytes_per_parameter():
    e = estimate_memory(1_000_000, optimizer="adamw", precision="mixed")
    assert e.bytes_per_parameter == {"weights": 2, "gradients": 2, "optimizer": 12, "total": 16}
    assert e.total_bytes == 16_000_000


@pytest.mark.parametrize(
    ("sharding", "gb"),
    [("none", 120.0), ("zero1", 31.4), ("zero2", 16.6), ("zero3", 1.9), ("fsdp", 1.9)],
)
def test_zero_paper_figure_1(sharding, gb):
    """Rajbhandari et al. 2020, Fig. 1: Psi = 7.5B, N_d = 64, K = 12."""
    e = estimate_memory(7.5e9, optimizer="adam", precision="mixed", sharding=sharding, gpus=64)
    assert round(e.total_bytes / 1e9, 1) == gb


@pytest.mark.parametrize(
    ("optimizer", "precision", "per_param"),
    [("sgd", "fp32", 8), ("sgd_momentum", "fp32", 12), ("adam", "fp32", 16), ("adam8bit", "fp32", 10),
     ("adam", "bf16", 8), ("sgd", "mixed", 8), ("adam8bit", "mixed", 10)],
)
def test_bytes_per_parameter_table(optimizer, precision, per_param):
    assert estimate_memory(10, optimizer=optimizer, precision=precision).bytes_per_parameter["total"] == per_param


def test_korthikanti_activation_formula():
    s, b, h, a = 2048, 1, 12288, 96  # GPT-3 175B shape
    assert activation_bytes_per_layer(s, b, h, a) == s * b * h * (34 + 5 * a * s / h)
    assert activation_bytes_per_layer(s, b, h, a, "selective") == 34 * s * b * h
    assert activation_bytes_per_layer(s, b, h, a, "full") == 2 * s * b * h


def test_largest_batch_that_fits():
    kw = dict(seq_len=2048, hidden_size=2048, num_layers=24, num_heads=16)
    e = estimate_memory(1.3e9, batch_size=8, capacity_bytes=parse_size("80GiB"), **kw)
    per_sample = 24 * 2048 * 2048 * (34 + 5 * 16 * 2048 / 2048)
    assert e.activations_per_sample_bytes == round(per_sample)
    assert e.max_batch_size == int((80 * 2**30 - 16 * 1.3e9) // per_sample)
    assert e.fits is False  # batch 8 does not fit
    at_max = estimate_memory(1.3e9, batch_size=e.max_batch_size, capacity_bytes=80 * 2**30, **kw)
    assert at_max.fits is True
    ckpt = estimate_memory(1.3e9, activation_checkpointing="full", capacity_bytes=80 * 2**30, **kw)
    assert ckpt.max_batch_size > 10 * e.max_batch_size


def test_static_part_alone_too_big():
    e = estimate_memory(70e9, seq_len=4096, hidden_size=8192, num_layers=80, num_heads=64,
                        capacity_bytes=parse_size("80GiB"))
    assert e.max_batch_size == 0 and any("shard further" in n for n in e.notes)


def test_bad_inputs():
    with pytest.raises(InputError):
        estimate_memory(1e9, optimizer="lion")
    with pytest.raises(InputError):
        estimate_memory("no/such/checkpoint.pt")
    with pytest.raises(InputError):
        parse_size("80 parsecs")
    assert parse_size("80GiB") == 80 * 2**30 and parse_size("40GB") == 40 * 10**9 and parse_size("24G") == 24 * 2**30


def test_parameters_from_a_checkpoint():
    """Counted by traintriage.checkpoints (924 parameters per the fixture's expected.json)."""
    ckpt = Path(__file__).parent / "fixtures" / "checkpoints" / "mlp_state_dict.pt"
    expected = json.loads((ckpt.parent / "expected.json").read_text())["mlp_state_dict.pt"]["parameters"]
    with pytest.raises(TypeError, match="sandbox"):  # it reads a file: no default sandbox
        estimate_memory(str(ckpt))
    e = estimate_memory(str(ckpt), sandbox=Sandbox.unrestricted())
    assert e.parameters == expected and e.parameters_source == str(ckpt)
    assert e.total_bytes == 16 * expected
