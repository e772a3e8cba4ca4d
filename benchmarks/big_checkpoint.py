"""Counting a multi-GB sharded checkpoint reads headers and metadata only: peak RSS and bytes read.

Not a test: run it by hand, ``.venv/bin/python benchmarks/big_checkpoint.py [--gb 10] [--scan]``.

A Llama-shaped model (bfloat16, 32 layers by default, about ``--gb`` GB) is written at run time into
``benchmarks/_data/big_checkpoint/`` (git-ignored) the way ``save_pretrained`` shards it:
``model-0000k-of-0000n.safetensors`` files of about 2 GB and ``model.safetensors.index.json``. Each shard
is a real safetensors file (8-byte header length, JSON header with every tensor's dtype, shape and byte
range, then the data region) whose data region is a sparse hole: the sizes are real, the disk is not
used, and every reader sees a 10 GB checkpoint. Nothing is committed.

Each measurement runs in a fresh process: peak RSS is the child's ``ru_maxrss``, bytes read its
``rchar`` from ``/proc/self/io`` (every ``read()`` the process made, page cache or not), both after
subtracting a child that only imports traintriage (and the modules count_parameters imports lazily, so
that reading their code is not counted as reading the checkpoint). Measured:

* ``count``: ``count_parameters(index)`` with the default scan setting (above 2 GiB of tensors the value
  scan is opt-in, so this reads the shard headers only);
* ``count --scan`` (only with ``--scan``): the streamed value scan of every tensor (reads all the bytes;
  memory must stay bounded by the 16 MiB chunk, not grow with the checkpoint).
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data" / "big_checkpoint"
SHARD_BYTES = 2 * 1024**3

CHILD = r"""
import json, resource, sys, time
def rchar():
    with open("/proc/self/io") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("rchar"))
from traintriage.checkpoints import count_parameters
from traintriage.sandbox import Sandbox
import numpy, traintriage.checkpoints.loader, traintriage.checkpoints.scan, traintriage.checkpoints.health  # lazy ones
start_read, t0 = rchar(), time.perf_counter()
mode = sys.argv[1]
out = {}
if mode != "baseline":
    r = count_parameters(sys.argv[2], scan_values=True if mode == "scan" else None, max_scan_bytes=None,
                         sandbox=Sandbox.unrestricted())
    out = {"parameters": r.total_parameters, "tensors": r.tensors, "files": len(r.checkpoint.files),
           "scanned_bytes": r.value_scan.scanned_bytes if r.value_scan else 0}
out.update(seconds=time.perf_counter() - t0, read=rchar() - start_read,
           rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
print(json.dumps(out))
"""


def llama_tensors(layers: int, d: int = 4096, ff: int = 11008, vocab: int = 32000) -> list[tuple[str, list[int]]]:
    out = [("model.embed_tokens.weight", [vocab, d])]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [(p + "input_layernorm.weight", [d]), (p + "post_attention_layernorm.weight", [d])]
        out += [(p + f"self_attn.{n}_proj.weight", [d, d]) for n in "qkvo"]
        out += [(p + "mlp.gate_proj.weight", [ff, d]), (p + "mlp.up_proj.weight", [ff, d]),
                (p + "mlp.down_proj.weight", [d, ff])]
    return [*out, ("model.norm.weight", [d]), ("lm_head.weight", [vocab, d])]


def write(layers: int) -> tuple[Path, int, int]:
    """Sharded safetensors (sparse data regions) + index; returns the index, parameters and bytes."""
    DATA.mkdir(parents=True, exist_ok=True)
    for stale in DATA.glob("model-*.safetensors"):
        stale.unlink()
    tensors = llama_tensors(layers)
    shards: list[list[tuple[str, list[int]]]] = [[]]
    size = 0
    for name, shape in tensors:
        n = 2
        for dim in shape:
            n *= dim
        if size + n > SHARD_BYTES and shards[-1]:
            shards.append([])
            size = 0
        shards[-1].append((name, shape))
        size += n
    weight_map = {}
    total = 0
    for k, shard in enumerate(shards, start=1):
        fname = f"model-{k:05d}-of-{len(shards):05d}.safetensors"
        header: dict = {"__metadata__": {"format": "pt"}}
        offset = 0
        for name, shape in shard:
            n = 2
            for dim in shape:
                n *= dim
            header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + n]}
            offset += n
            weight_map[name] = fname
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        with (DATA / fname).open("wb") as fh:
            fh.write(struct.pack("<Q", len(raw)) + raw)
            fh.truncate(8 + len(raw) + offset)  # a sparse hole: real size, no disk
        total += offset
    index = DATA / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    return index, total // 2, total


def child(mode: str, target: Path | None = None) -> dict:
    args = [sys.executable, "-c", CHILD, mode] + ([str(target)] if target else [])
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb", type=float, default=10.0, help="approximate checkpoint size (default 10)")
    parser.add_argument("--scan", action="store_true", help="also time the full streamed value scan")
    args = parser.parse_args()
    per_layer = (4 * 4096 * 4096 + 3 * 11008 * 4096) * 2
    layers = max(1, round((args.gb * 1e9 - 2 * 32000 * 4096 * 2) / per_layer))
    started = time.perf_counter()
    index, params, nbytes = write(layers)
    print(f"wrote {len(list(DATA.glob('*.safetensors')))} shards, {params:,} bf16 parameters, "
          f"{nbytes / 1e9:.2f} GB (sparse), in {time.perf_counter() - started:.1f} s -> {DATA}")
    base = child("baseline")
    print(f"baseline (import traintriage): peak RSS {base['rss'] / 1e6:.0f} MB, read {base['read'] / 1e6:.1f} MB")
    modes = ["count"] + (["scan"] if args.scan else [])
    for mode in modes:
        r = child(mode, index)
        assert r["parameters"] == params, (r["parameters"], params)
        print(f"{mode:>6}: {r['parameters']:,} parameters in {r['tensors']} tensors, {r['files']} files, "
              f"{r['seconds']:.2f} s; peak RSS {r['rss'] / 1e6:.0f} MB (+{(r['rss'] - base['rss']) / 1e6:.0f} MB "
              f"over baseline); bytes read {r['read'] / 1e6:.2f} MB (+{(r['read'] - base['read']) / 1e6:.2f} MB) "
              f"of a {nbytes / 1e9:.2f} GB checkpoint; value scan read {r['scanned_bytes'] / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
