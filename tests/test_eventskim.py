"""Big non-scalar records are skipped by their framing, with their CRCs checked, and histograms summarised.

The logs are written with TensorBoard's own TFRecord writer and protos, record for record as PyTorch's
``SummaryWriter`` (``add_histogram``, ``add_image``, ``add_text``) and TF2's ``tf.summary.histogram``
(``histogram_pb``, the same bucketing) write them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary
from tensorboard.plugins.histogram import summary_v2 as hist_v2
from tensorboard.summary.writer.record_writer import RecordWriter

from traintriage.sources import crc32c as crc_module
from traintriage.sources import eventfile
from traintriage.sources.eventfile import scan_event_file

STEPS = 60


def _histo(values: np.ndarray) -> HistogramProto:
    """As ``torch.utils.tensorboard.summary.make_histogram`` fills it (here with 64 equal bins)."""
    counts, limits = np.histogram(values, bins=64)
    return HistogramProto(min=float(values.min()), max=float(values.max()), num=values.size,
                          sum=float(values.sum()), sum_squares=float(values @ values),
                          bucket_limit=limits[1:].tolist(), bucket=counts.tolist())


def _write(path: Path, *, merged_scalars: bool = False) -> dict[str, list[np.ndarray]]:
    """A run with a loss, per-layer weight histograms (HistogramProto), TF2 gradient histograms (tensors),
    an image; returns the values behind each histogram tag."""
    rng = np.random.default_rng(3)
    drawn: dict[str, list[np.ndarray]] = {}
    with open(path, "wb") as fh:
        w = RecordWriter(fh)
        w.write(Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString())
        for step in range(STEPS):
            wall = 100.0 + step
            loss = [Summary.Value(tag="loss", simple_value=2.0 - step / STEPS)]
            if merged_scalars:  # TF1 merged summaries: one big event holding many scalars
                loss += [Summary.Value(tag=f"m/{i:02d}", simple_value=float(i * step)) for i in range(40)]
            w.write(Event(wall_time=wall, step=step, summary=Summary(value=loss)).SerializeToString())
            for layer in range(2):
                weights = rng.standard_normal(5000) * (layer + 1)
                drawn.setdefault(f"w{layer}", []).append(weights)
                w.write(Event(wall_time=wall, step=step, summary=Summary(value=[
                    Summary.Value(tag=f"w{layer}", histo=_histo(weights))])).SerializeToString())
                grads = rng.standard_normal(3000) * 1e-3 * (step + 1)
                drawn.setdefault(f"g{layer}", []).append(grads)
                summary = hist_v2.histogram_pb(f"g{layer}", grads, buckets=30)
                if step:  # TF2 writes the plugin metadata with the first value of a tag only
                    summary.value[0].ClearField("metadata")
                w.write(Event(wall_time=wall, step=step, summary=summary).SerializeToString())
            if step % 20 == 0:
                img = Summary.Image(height=1, width=1, colorspace=1, encoded_image_string=bytes(range(256)) * 4)
                w.write(Event(wall_time=wall, step=step, summary=Summary(value=[
                    Summary.Value(tag="sample", image=img)])).SerializeToString())
        w.flush()
    return drawn


def test_big_records_are_skipped_and_scalars_read_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "events.out.tfevents.1.x"
    _write(path, merged_scalars=True)
    scan = scan_event_file(path)
    assert scan.warnings == []
    assert set(scan.scalars) == {"loss", *(f"m/{i:02d}" for i in range(40))}
    np.testing.assert_array_equal(scan.scalars["loss"].steps, np.arange(STEPS))
    np.testing.assert_allclose(scan.scalars["m/07"].values, 7.0 * np.arange(STEPS))
    assert scan.tag_plugins["g0"] == "histograms" and scan.histograms == []
    # The same file through the general decoder only (nothing skimmed) reads the same scalars.
    monkeypatch.setattr(eventfile, "SKIM_MIN", 1 << 30)
    full = scan_event_file(path)
    assert set(full.scalars) == set(scan.scalars) and full.records_read == scan.records_read
    for tag, t in full.scalars.items():
        np.testing.assert_array_equal(scan.scalars[tag].values, t.values)
        np.testing.assert_array_equal(scan.scalars[tag].wall_times, t.wall_times)


def test_histogram_statistics_match_the_values_logged(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.1.x"
    drawn = _write(path)
    scan = scan_event_file(path, histograms=True)
    by_tag: dict[str, list] = {}
    for point in scan.histograms:
        by_tag.setdefault(point.tag, []).append(point)
    assert set(by_tag) == {"w0", "w1", "g0", "g1"}
    for tag, points in by_tag.items():
        assert [p.step for p in points] == list(range(STEPS))
        for p, values in zip(points, drawn[tag], strict=True):
            assert p.count == values.size
            if tag.startswith("w"):  # HistogramProto carries exact moments
                assert p.mean == pytest.approx(values.mean(), abs=1e-9)
                assert p.std == pytest.approx(values.std(), rel=1e-6)
                assert (p.min, p.max) == (values.min(), values.max())
            else:  # TF2 buckets: moments from bucket centres, within a bucket width
                width = (values.max() - values.min()) / 30
                assert p.mean == pytest.approx(values.mean(), abs=width / 2)
                assert p.std == pytest.approx(values.std(), rel=0.05)
                assert p.min == pytest.approx(values.min()) and p.max == pytest.approx(values.max())


def test_corrupt_big_record_is_reported_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.1.x"
    _write(path)
    data = bytearray(path.read_bytes())
    # the first weight histogram: the third record (after file_version and the first loss)
    pos = 0
    for _ in range(2):
        pos += 16 + int.from_bytes(data[pos : pos + 8], "little")
    data[pos + 12 + 100] ^= 0xFF
    path.write_bytes(bytes(data))
    scan = scan_event_file(path, histograms=True)
    assert scan.warnings == [f"record at byte offset {pos}: data CRC mismatch; record skipped"]
    assert len(scan.scalars["loss"]) == STEPS
    assert sum(p.tag == "w0" for p in scan.histograms) == STEPS - 1


def test_without_the_crc_library_the_numpy_path_checks_and_says_so(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "events.out.tfevents.1.x"
    _write(path)
    fast = scan_event_file(path)
    rng = np.random.default_rng(1)
    buffers = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (0, 5, 2047, 2048, 70_001)]
    native = [crc_module.crc32c(b) for b in buffers]
    assert crc_module.native_available()  # a core dependency: the suite runs with it
    monkeypatch.setattr(crc_module, "_native_crc32c", None)
    slow = scan_event_file(path)
    assert slow.warnings == [crc_module.NATIVE_MISSING]
    assert fast.warnings == [] and slow.records_read == fast.records_read
    np.testing.assert_array_equal(slow.scalars["loss"].values, fast.scalars["loss"].values)
    assert [crc_module.crc32c(b) for b in buffers] == native


def test_triage_histograms_flag_summarises_each_tag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from traintriage.cli import main

    run = tmp_path / "run"
    run.mkdir()
    drawn = _write(run / "events.out.tfevents.1.x")
    assert main(["triage", str(run), "--histograms"]) == 0
    summary = json.loads(capsys.readouterr().out)["extras"]["histograms"]
    tags = {t["tag"]: t for t in summary["tags"]}
    assert set(tags) == {"w0", "w1", "g0", "g1"} and summary["tags_total"] == 4
    w1 = tags["w1"]
    assert w1["points"] == STEPS and w1["steps"] == [0, STEPS - 1]
    assert w1["std"]["first"] == pytest.approx(drawn["w1"][0].std(), rel=1e-6)
    assert w1["max"] == max(v.max() for v in drawn["w1"])
    assert tags["g0"]["std"]["last"] > 10 * tags["g0"]["std"]["first"]  # the gradients grow 60x
    assert main(["triage", str(run)]) == 0
    # Compact JSON leaves out empty objects: without --histograms, extras is empty or absent.
    assert "histograms" not in json.loads(capsys.readouterr().out).get("extras", {})


def test_small_windows_skim_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "events.out.tfevents.1.x"
    _write(path, merged_scalars=True)
    whole = scan_event_file(path, histograms=True)
    monkeypatch.setattr(eventfile, "CHUNK_BYTES", 3000)  # many windows: records straddle their ends
    small = scan_event_file(path, histograms=True)
    assert small.warnings == [] and small.records_read == whole.records_read
    assert small.tag_plugins == whole.tag_plugins and small.histograms == whole.histograms
    for tag, t in whole.scalars.items():
        np.testing.assert_array_equal(small.scalars[tag].values, t.values)
