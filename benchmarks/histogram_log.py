"""Write a histogram-heavy TensorBoard log, as PyTorch code that calls ``add_histogram`` per parameter writes it.

Used by ``benchmarks/floor.py`` (the ~43 MB case of issue #22) and by ``--big`` below (a multi-GB log
and the reader's peak RSS). Written with TensorBoard's own protos and TFRecord writer (no torch), record
for record as ``torch.utils.tensorboard.SummaryWriter`` writes them:

* ``add_scalar``: ``Summary.Value(simple_value=...)``;
* ``add_histogram(tag, values)`` with its default ``bins="tensorflow"``: a ``HistogramProto`` whose
  buckets are the TensorFlow edges (+-1e-12 * 1.1^k) that ``np.histogram`` fills, trimmed to the support,
  with min, max, num, sum and sum of squares (``torch.utils.tensorboard.summary.make_histogram``);
* ``add_image``: a PNG in ``Summary.Image``; ``add_text``: a string tensor of the ``text`` plugin;
* ``add_hparams``: the ``hparams`` plugin's experiment / session start / session end records.

The default case: 1,200 steps, 5 scalars per step (6,000), 40 histograms (20 layers, weight and
gradient) every 10 steps (4,800 histograms of 20k values each), 20 images, 12 texts: about 43 MB.

    .venv/bin/python benchmarks/histogram_log.py --big 2.0   # a ~2 GB log, then its peak RSS when read
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
LAYERS = 20
HIST_EVERY = 10
SCALAR_TAGS = ("Loss/train", "Loss/val", "lr", "gradnorm/total", "accuracy")


def _tensorflow_bins() -> np.ndarray:
    """``SummaryWriter.default_bins``: +-1e-12 * 1.1^k up to 1e20, and 0."""
    v, pos = 1e-12, []
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    return np.array([-x for x in reversed(pos)] + [0.0] + pos)


_BINS = _tensorflow_bins()


def histogram_proto(values: np.ndarray):
    """``torch.utils.tensorboard.summary.make_histogram(values, bins)`` with the TensorFlow bins."""
    from tensorboard.compat.proto.summary_pb2 import HistogramProto

    counts, limits = np.histogram(values, bins=_BINS)
    cum = np.cumsum(np.greater(counts, 0))
    start, end = np.searchsorted(cum, [0, cum[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    counts = counts[start - 1 : end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start : end + 1]
    return HistogramProto(min=float(values.min()), max=float(values.max()), num=len(values),
                          sum=float(values.sum()), sum_squares=float(values.dot(values)),
                          bucket_limit=limits.tolist(), bucket=counts.tolist())


def _png(rng: np.random.Generator, h: int = 96, w: int = 96) -> bytes:
    """A small RGB PNG (what ``add_image`` stores), encoded with zlib."""
    raw = b"".join(b"\x00" + rng.integers(0, 256, w * 3, dtype=np.uint8).tobytes() for _ in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def write_log(path: Path, steps: int = 1200, values: int = 20_000, *, step0: int = 0, seed: int = 0,
              with_header: bool = True) -> int:
    """Append ``steps`` training steps to ``path``; returns the bytes written."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboard.summary.writer.record_writer import RecordWriter

    rng = np.random.default_rng(seed + step0)
    before = path.stat().st_size if path.exists() else 0
    t0 = 1.7e9
    with open(path, "ab") as fh:
        writer = RecordWriter(fh)

        def event(step: int, value, wall: float) -> None:
            writer.write(Event(wall_time=wall, step=step, summary=Summary(value=[value])).SerializeToString())

        if with_header:
            writer.write(Event(wall_time=t0, file_version="brain.Event:2").SerializeToString())
            hparams = {"lr": 3e-4, "batch_size": 64, "optimizer": "adamw"}
            for summary in (hp.hparams_config_pb([hp.HParam(k) for k in hparams], [hp.Metric("Loss/val")]),
                            hp.hparams_pb(hparams)):
                writer.write(Event(wall_time=t0, step=0, summary=summary).SerializeToString())
        text_meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))  # as add_text
        scales = 0.5 * 0.8 ** np.arange(LAYERS)
        for step in range(step0, step0 + steps):
            wall = t0 + step * 0.1
            decay = np.exp(-step / 400)
            scalars = (2.5 * decay + 0.3 + 0.03 * rng.standard_normal(), 2.6 * decay + 0.35, 3e-4,
                       1.0 + 0.5 * decay, 1 - 0.9 * decay)
            for tag, v in zip(SCALAR_TAGS, scalars, strict=True):
                event(step, Summary.Value(tag=tag, simple_value=float(v)), wall)
            if step % HIST_EVERY == 0:
                for layer in range(LAYERS):
                    w = rng.standard_normal(values) * scales[layer]
                    g = rng.standard_normal(values) * scales[layer] * 0.1 * (1 + decay)
                    event(step, Summary.Value(tag=f"weights/layer{layer:02d}", histo=histogram_proto(w)), wall)
                    event(step, Summary.Value(tag=f"grads/layer{layer:02d}", histo=histogram_proto(g)), wall)
            if step % 60 == 0:
                img = Summary.Image(height=96, width=96, colorspace=3, encoded_image_string=_png(rng))
                event(step, Summary.Value(tag="samples", image=img), wall)
            if step % 100 == 0:
                text = TensorProto(dtype=7, string_val=[f"step {step}: checkpoint saved".encode()],
                                   tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
                event(step, Summary.Value(tag="notes/text_summary", tensor=text, metadata=text_meta), wall)
        if with_header:
            writer.write(Event(wall_time=wall, step=step, summary=Summary(value=[
                Summary.Value(tag="hparams/final_val_loss", simple_value=float(scalars[1]))])).SerializeToString())
        writer.flush()
    return path.stat().st_size - before


def generate(steps: int = 1200, values: int = 20_000) -> Path:
    """The ~43 MB run of issue #22 (written once into ``benchmarks/_data``)."""
    out = DATA / f"histograms_{steps}x{values}"
    if not (out / "DONE").exists():
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("events.out.tfevents.*"):
            old.unlink()
        write_log(out / "events.out.tfevents.1700000000.bench.1.0", steps, values)
        (out / "DONE").write_text("ok\n")
    return out


def generate_big(gigabytes: float) -> Path:
    """A multi-GB log of the same shape as the default run, steps continuing until the file is that big.

    TensorBoard's ``RecordWriter`` computes CRC32C in pure Python (~0.6 MB/s here), which would take an
    hour per GB; so this log reuses a pool of histograms drawn once (10 draws per tag) and frames the
    Event protos itself (``uint64 length, masked CRC, data, masked CRC``, with the hardware CRC). The
    bytes are what ``RecordWriter`` writes for the same Events (the 43 MB log is written by it).
    """
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

    from traintriage.sources.crc32c import masked_crc32c

    out = DATA / f"histograms_big_{gigabytes:g}GB"
    if (out / "DONE").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    path = out / "events.out.tfevents.1700000000.bench.1.0"
    path.unlink(missing_ok=True)
    write_log(path, 10)  # header, hparams, the first steps: RecordWriter's own bytes
    rng = np.random.default_rng(7)
    scales = 0.5 * 0.8 ** np.arange(LAYERS)
    pool = {(kind, layer, k): histogram_proto(rng.standard_normal(20_000) * scales[layer] * f)
            for layer in range(LAYERS) for kind, f in (("weights", 1.0), ("grads", 0.1)) for k in range(10)}
    t0 = 1.7e9
    with open(path, "ab") as fh:

        def event(step: int, value) -> None:
            data = Event(wall_time=t0 + step * 0.1, step=step, summary=Summary(value=[value])).SerializeToString()
            head = struct.pack("<Q", len(data))
            fh.write(head + struct.pack("<I", masked_crc32c(head)) + data + struct.pack("<I", masked_crc32c(data)))

        step = 10
        while fh.tell() < gigabytes * 1e9:
            for tag in SCALAR_TAGS:
                event(step, Summary.Value(tag=tag, simple_value=float(2.5 * np.exp(-step / 4e4) + 0.3)))
            if step % HIST_EVERY == 0:
                for layer in range(LAYERS):
                    for kind in ("weights", "grads"):
                        histo = pool[(kind, layer, (step // HIST_EVERY) % 10)]
                        event(step, Summary.Value(tag=f"{kind}/layer{layer:02d}", histo=histo))
            if step % 100_000 == 0:
                print(f"# {fh.tell() / 1e9:.2f} GB written", file=sys.stderr, flush=True)
            step += 1
    (out / "DONE").write_text("ok\n")
    return out


_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from traintriage.sources.eventfile import scan_event_file
scan = scan_event_file(sys.argv[1])
seconds = time.perf_counter() - t0
n = sum(len(t) for t in scan.scalars.values())
print(json.dumps({"seconds": seconds, "scalars": n, "warnings": scan.warnings,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
_BASE = ("import json, resource; import traintriage.sources.eventfile; "
         "print(json.dumps({'rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big", type=float, default=0.0, help="write a log of this many GB and read it")
    args = ap.parse_args(argv)
    if not args.big:
        run = generate()
        f = next(run.glob("events.out.tfevents.*"))
        print(f"{f}: {f.stat().st_size / 1e6:.1f} MB")
        return
    t0 = time.perf_counter()
    run = generate_big(args.big)
    f = next(run.glob("events.out.tfevents.*"))
    print(f"# {f.stat().st_size / 1e9:.2f} GB ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    base = json.loads(subprocess.run([sys.executable, "-c", _BASE], capture_output=True, text=True,
                                     check=True).stdout)
    res = json.loads(subprocess.run([sys.executable, "-c", _CHILD, str(f)], capture_output=True, text=True,
                                    check=True).stdout)
    payload_mib = res["scalars"] * 24 / 2**20
    above = res["rss_mib"] - base["rss_mib"]
    print("| file GB | scalars | scalar payload MiB | read s | peak RSS MiB | above the imports | / payload |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {f.stat().st_size / 1e9:.2f} | {res['scalars']:,} | {payload_mib:.1f} | {res['seconds']:.2f} | "
          f"{res['rss_mib']:.0f} | {above:.0f} | {above / payload_mib:.1f}x |")
    if res["warnings"]:
        print("warnings:", res["warnings"])


if __name__ == "__main__":
    main()
