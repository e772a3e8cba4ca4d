"""The event-file reader against independent oracles (tbparse, TensorBoard's own loader) and damage."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traintriage.errors import InputError
from traintriage.sources import eventfile
from traintriage.sources.crc32c import crc32c, crc32c_rows, masked_crc32c
from traintriage.sources.eventfile import scan_event_file

EVENTS = Path(__file__).parent / "fixtures" / "events"


def _file(rel: str) -> Path:
    return next((EVENTS / rel).glob("*tfevents*"))


def _records(data: bytes) -> list[tuple[int, int]]:
    """(offset, data length) of each record, by a plain walk (independent of the reader)."""
    out, pos = [], 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        if pos + 16 + length > len(data):
            break
        out.append((pos, length))
        pos += 16 + length
    return out


def _record(data: bytes) -> bytes:
    return struct.pack("<QI", len(data), masked_crc32c(struct.pack("<Q", len(data)))) + data + struct.pack(
        "<I", masked_crc32c(data))


CLEAN = ["plain", "torch_new_style", "hf_trainer", "lightning", "keras/train", "keras/validation",
         "epiforecaster", "nan_inf", "mixed"]


@pytest.mark.parametrize("rel", CLEAN)
def test_agrees_with_tbparse(rel: str) -> None:
    from tbparse import SummaryReader

    path = _file(rel)
    scan = scan_event_file(path)
    assert scan.warnings == [] and not scan.truncated_tail
    assert scan.end_offset == path.stat().st_size
    reader = SummaryReader(str(path), extra_columns={"wall_time"})
    expected: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    scalars = reader.scalars
    for tag, df in (scalars.groupby("tag", sort=False) if len(scalars) else []):
        expected[tag] = (df.step.to_numpy(), df.value.to_numpy(np.float64), df.wall_time.to_numpy())
    tensors = reader.tensors
    for tag, df in (tensors.groupby("tag", sort=False) if len(tensors) else []):
        vals = np.array([np.asarray(v, dtype=np.float64).item() for v in df.value])
        expected[tag] = (df.step.to_numpy(), vals, df.wall_time.to_numpy())
    assert set(scan.scalars) == set(expected)
    for tag, (steps, values, walls) in expected.items():
        got = scan.scalars[tag]
        assert got.steps.dtype == np.int64 and got.values.dtype == np.float64
        np.testing.assert_array_equal(got.steps, steps)
        np.testing.assert_array_equal(got.values, values)  # NaN == NaN here
        np.testing.assert_array_equal(got.wall_times, walls)


def _tensorboard_events(path: Path):
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event

    return [Event.FromString(raw) for raw in RawEventFileLoader(str(path)).Load()]


def test_tensor_dtypes_agree_with_tensorboard_make_ndarray() -> None:
    from tensorboard.util.tensor_util import make_ndarray

    path = _file("tensor_dtypes")
    scan = scan_event_file(path)
    expected: dict[str, list[tuple[int, float]]] = {}
    for ev in _tensorboard_events(path):
        for v in ev.summary.value:
            if v.tensor.dtype == 14:  # bfloat16: make_ndarray cannot; decode the proto's bytes by hand
                bits = np.frombuffer(v.tensor.tensor_content, "<u2").astype(np.uint32) << 16
                value = float(bits.view(np.float32)[0])
            else:
                value = float(make_ndarray(v.tensor).item())
            expected.setdefault(v.tag, []).append((ev.step, value))
    assert set(scan.scalars) == set(expected) == {"f64", "f16", "bf16", "i64", "i32"}
    for tag, pairs in expected.items():
        np.testing.assert_array_equal(scan.scalars[tag].steps, [s for s, _ in pairs])
        np.testing.assert_array_equal(scan.scalars[tag].values, [v for _, v in pairs])
    assert scan.scalars["i64"].values[5] == -15  # negative varints decode as signed


def test_non_scalar_events_are_skipped_but_counted() -> None:
    path = _file("mixed")
    scan = scan_event_file(path)
    assert set(scan.scalars) == {"Loss/train", "loss/val"}
    assert scan.records_read == len(_tensorboard_events(path))


def test_tensor_with_other_plugin_is_not_a_scalar(tmp_path: Path) -> None:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

    def value(tag: str, plugin: str | None, v: float) -> Summary.Value:
        meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=plugin)) if plugin else None
        return Summary.Value(tag=tag, metadata=meta, tensor=TensorProto(
            dtype=1, tensor_shape=TensorShapeProto(), float_val=[v]))

    data = b"".join(
        _record(Event(step=s + 1, wall_time=1.0, summary=Summary(value=[
            value("hp", "hparams" if s == 0 else None, 1.0), value("loss", "scalars" if s == 0 else None, 2.0),
        ])).SerializeToString()) for s in range(5))
    path = tmp_path / "events.out.tfevents.1.x"
    path.write_bytes(data)
    scan = scan_event_file(path)
    assert set(scan.scalars) == {"loss"} and len(scan.scalars["loss"]) == 5


def test_check_crc_off_reads_the_same() -> None:
    path = _file("epiforecaster")
    a, b = scan_event_file(path), scan_event_file(path, check_crc=False)
    assert set(a.scalars) == set(b.scalars)
    for tag in a.scalars:
        np.testing.assert_array_equal(a.scalars[tag].values, b.scalars[tag].values)


@pytest.mark.parametrize("rel", ["plain", "mixed", "corrupt/bad_length_crc", "corrupt/truncated"])
def test_small_windows_give_the_same_result(rel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _file(rel)
    full = scan_event_file(path)
    monkeypatch.setattr(eventfile, "CHUNK_BYTES", 1000)
    small = scan_event_file(path)
    assert (small.end_offset, small.records_read, small.truncated_tail) == (
        full.end_offset, full.records_read, full.truncated_tail)
    assert [w.split(":")[0] for w in small.warnings] == [w.split(":")[0] for w in full.warnings]
    for tag, t in full.scalars.items():
        np.testing.assert_array_equal(small.scalars[tag].steps, t.steps)
        np.testing.assert_array_equal(small.scalars[tag].values, t.values)


def test_irregular_logs_read_in_small_windows_fill_columns_sized_to_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns are sized from the first window a tag appears in: a tag logged only at first (the estimate
    overshoots: trimmed), one first seen late, and one that starts logging 10 values a step (outgrows the
    estimate) all read as in one window, each in a buffer of about its own size."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

    def event(tag: str, step: int, v: float) -> bytes:
        return _record(Event(step=step, wall_time=step / 10, summary=Summary(value=[
            Summary.Value(tag=tag, simple_value=v)])).SerializeToString())

    records = [event("early", s, s * 0.5) for s in range(300)]
    for s in range(300, 600):
        records += [event("late", s, -s)] + [event("burst", s, s + j / 10) for j in range(1 if s < 400 else 10)]
    path = tmp_path / "events.out.tfevents.1.irregular"
    path.write_bytes(b"".join(records))
    whole = scan_event_file(path)
    monkeypatch.setattr(eventfile, "CHUNK_BYTES", 2000)
    spare = 0.125
    small = scan_event_file(path, spare=spare)
    assert {t: len(a) for t, a in small.scalars.items()} == {"early": 300, "late": 300, "burst": 100 + 200 * 10}
    for tag, t in whole.scalars.items():
        got = small.scalars[tag]
        for mine, theirs in ((got.steps, t.steps), (got.values, t.values), (got.wall_times, t.wall_times)):
            np.testing.assert_array_equal(mine, theirs)
        for column in (got.steps, got.values, got.wall_times):
            n, room = len(got), column.base.shape[0]
            assert n < room <= 1.5 * (n * (1 + spare) + 1) + 64, (tag, n, room)


def test_truncated_tail_reads_complete_records_and_continues() -> None:
    path = _file("corrupt/truncated")
    data = path.read_bytes()
    recs = _records(data)
    scan = scan_event_file(path)
    assert scan.truncated_tail
    assert scan.records_read == len(recs)
    last_off, last_len = recs[-1]
    assert scan.end_offset == last_off + 16 + last_len
    assert any(f"byte offset {scan.end_offset}" in w for w in scan.warnings)
    # The complete file continues from there: exactly the one missing record.
    rest = scan_event_file(_file("plain"), scan.end_offset)
    assert rest.records_read == 1 and not rest.truncated_tail and rest.warnings == []


def test_bad_data_crc_is_skipped_with_its_offset() -> None:
    good = scan_event_file(_file("plain"))
    path = _file("corrupt/bad_data_crc")
    clean, bad = path.read_bytes(), _file("plain").read_bytes()
    flipped = next(i for i in range(len(clean)) if clean[i] != bad[i])
    offset = max(off for off, _ in _records(bad) if off <= flipped)
    scan = scan_event_file(path)
    assert scan.records_read == len(_records(bad))
    assert len(scan.warnings) == 1 and f"offset {offset}:" in scan.warnings[0]
    assert sum(len(t) for t in scan.scalars.values()) == sum(len(t) for t in good.scalars.values()) - 1
    assert not scan.truncated_tail and scan.end_offset == len(clean)


def test_bad_length_crc_resyncs_to_the_next_record() -> None:
    plain, path = _file("plain").read_bytes(), _file("corrupt/bad_length_crc")
    damaged = path.read_bytes()
    recs = _records(plain)
    i = next(k for k, (off, _) in enumerate(recs) if plain[off : off + 12] != damaged[off : off + 12])
    scan = scan_event_file(path)
    assert f"offset {recs[i][0]}" in scan.warnings[0] and f"offset {recs[i + 1][0]}" in scan.warnings[0]
    assert scan.records_read == len(recs) - 1
    good = scan_event_file(_file("plain"))
    assert sum(len(t) for t in scan.scalars.values()) == sum(len(t) for t in good.scalars.values()) - 1


@pytest.mark.parametrize("check_crc", [True, False])
def test_absurd_length_is_never_allocated(tmp_path: Path, check_crc: bool) -> None:
    data = _file("nan_inf").read_bytes()
    huge = 1 << 60
    header = struct.pack("<QI", huge, masked_crc32c(struct.pack("<Q", huge)))
    path = tmp_path / "events.out.tfevents.1.x"
    path.write_bytes(data + header + b"\x00" * 64)
    scan = scan_event_file(path, check_crc=check_crc)
    assert scan.truncated_tail and scan.end_offset == len(data)
    assert str(huge) in scan.warnings[0]
    assert len(scan.scalars["Loss/train"]) == 120


def test_nan_and_inf_are_kept() -> None:
    scan = scan_event_file(_file("nan_inf"))
    loss, grad, tensor = (scan.scalars[t] for t in ("Loss/train", "gradnorm/total", "loss_tensor"))
    assert np.flatnonzero(np.isnan(loss.values)).tolist() == [60]
    assert np.flatnonzero(np.isposinf(loss.values)).tolist() == list(range(100, 120))
    assert np.flatnonzero(np.isneginf(grad.values)).tolist() == [70]
    assert np.flatnonzero(np.isnan(tensor.values)).tolist() == [60, 61]


def test_incremental_read_reads_only_new_bytes(tmp_path: Path) -> None:
    src = _file("lightning")
    data = src.read_bytes()
    recs = _records(data)
    cut = recs[len(recs) // 2][0]
    path = tmp_path / src.name
    path.write_bytes(data[:cut])
    first = scan_event_file(path)
    assert first.end_offset == cut and first.records_read == len(recs) // 2 and not first.truncated_tail
    with open(path, "ab") as f:
        f.write(data[cut:])
    second = scan_event_file(path, first.end_offset, tag_plugins=first.tag_plugins)
    assert second.start_offset == cut and second.bytes_read == len(data) - cut
    assert second.records_read == len(recs) - len(recs) // 2
    whole = scan_event_file(src)
    for tag, t in whole.scalars.items():
        parts = [s.scalars[tag] for s in (first, second) if tag in s.scalars]
        np.testing.assert_array_equal(np.concatenate([p.steps for p in parts]), t.steps)
        np.testing.assert_array_equal(np.concatenate([p.values for p in parts]), t.values)


def test_files_that_cannot_be_used(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        scan_event_file(tmp_path / "missing.tfevents")
    junk = tmp_path / "events.out.tfevents.1.junk"
    junk.write_bytes(os.urandom(5000))
    with pytest.raises(InputError, match="not a TensorBoard event file"):
        scan_event_file(junk)
    empty = tmp_path / "events.out.tfevents.2.empty"
    empty.write_bytes(b"")
    scan = scan_event_file(empty)
    assert scan.scalars == {} and scan.records_read == 0 and scan.warnings == []
    with pytest.raises(InputError):
        scan_event_file(_file("plain"), 10**9)


def test_crc32c_helpers() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, 70_001, dtype=np.uint8).tobytes()
    reg = 0xFFFFFFFF
    for b in big:  # bit-by-bit reference, nothing shared with the module's tables
        reg ^= b
        for _ in range(8):
            reg = (reg >> 1) ^ 0x82F63B78 if reg & 1 else reg >> 1
    assert crc32c(big) == reg ^ 0xFFFFFFFF
    rows = rng.integers(0, 256, (40, 57), dtype=np.uint8)
    rows[:, :30] = 9  # mostly constant columns, like records of one layout
    assert crc32c_rows(rows).tolist() == [crc32c(r.tobytes()) for r in rows]


_FUZZ_SOURCE = _file("nan_inf").read_bytes()
_CUTS = st.integers(min_value=0, max_value=len(_FUZZ_SOURCE))
_FLIPS = st.lists(st.tuples(st.integers(0, len(_FUZZ_SOURCE) - 1), st.integers(0, 7)), max_size=4)


def _write_damaged(path: Path, cut: int, flips: list) -> bytes:
    """The fixture cut at ``cut`` with the bits ``flips`` flipped, written to ``path``; returns the bytes."""
    data = bytearray(_FUZZ_SOURCE[:cut])
    for pos, bit in flips:
        if pos < len(data):
            data[pos] ^= 1 << bit
    path.write_bytes(bytes(data))
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=_CUTS, flips=_FLIPS, check_crc=st.booleans())
def test_fuzz_damage_gives_a_clean_result(tmp_path: Path, cut: int, flips: list, check_crc: bool) -> None:
    path = tmp_path / "events.out.tfevents.9.fuzz"
    data = _write_damaged(path, cut, flips)
    try:
        scan = scan_event_file(path, check_crc=check_crc)
    except InputError:
        return  # a clean refusal (no valid header at all)
    assert 0 <= scan.end_offset <= len(data)
    for t in scan.scalars.values():
        assert t.steps.dtype == np.int64 and len(t.steps) == len(t.values) == len(t.wall_times)
    if check_crc and not flips:  # a plain truncation loses nothing before the cut
        assert scan.records_read == len(_records(data))


def test_fixture_copy_helper_is_independent(tmp_path: Path) -> None:
    # The records walk used as an oracle above agrees with TensorBoard's loader on a clean file.
    path = shutil.copy(_file("hf_trainer"), tmp_path / "events.out.tfevents.3.copy")
    assert len(_records(Path(path).read_bytes())) == len(_tensorboard_events(Path(path)))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(1, 40), st.integers(0, 3), st.integers(1, 20), st.randoms())
def test_unique_rows_equals_numpy_unique_periodic_or_not(n_tags, reps, extra, width, rnd) -> None:
    """Tag bytes of same-length records: the periodic fast path and the sorting path agree with np.unique."""
    tags = np.array([[rnd.randrange(3) for _ in range(width)] for _ in range(n_tags)], dtype=np.uint8)
    order = list(range(n_tags)) * reps + [rnd.randrange(n_tags) for _ in range(extra)]  # a broken tail
    if rnd.random() < 0.3:
        rnd.shuffle(order)
    cols = tags[order]
    got, inv = eventfile._unique_rows(cols)
    rebuilt = np.array([np.frombuffer(got[i], np.uint8) for i in (inv if inv is not None else [0] * len(order))])
    assert np.array_equal(rebuilt, cols)
    assert len(set(got)) == len(got) == len({r.tobytes() for r in cols})


def _scan_both_ways(path: Path, monkeypatch: pytest.MonkeyPatch):
    """The scan decoded serially, and with every window's length groups decoded side by side."""
    from traintriage import parallel

    results = []
    for threshold, workers in ((1 << 62, 1), (1, 2)):
        monkeypatch.setattr(eventfile, "PARALLEL_MIN_POINTS", threshold)
        monkeypatch.setattr(parallel, "PARALLEL_MIN_POINTS", threshold)
        monkeypatch.setattr(parallel, "_workers", lambda w=workers: w)
        try:
            results.append(scan_event_file(path))
        except InputError as err:
            results.append(str(err))
    return results


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=_CUTS, flips=_FLIPS)
def test_parallel_group_decoding_equals_serial_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        cut: int, flips: list) -> None:
    """Same-length record groups decoded in threads give the serial scan exactly: values, order, warnings."""
    path = tmp_path / "events.out.tfevents.9.parallel"
    _write_damaged(path, cut, flips)
    serial, threaded = _scan_both_ways(path, monkeypatch)
    if isinstance(serial, str):
        assert threaded == serial
        return
    assert threaded.warnings == serial.warnings and threaded.end_offset == serial.end_offset
    assert threaded.scalars.keys() == serial.scalars.keys()
    for tag, t in serial.scalars.items():
        u = threaded.scalars[tag]
        assert np.array_equal(u.steps, t.steps) and np.array_equal(u.wall_times, t.wall_times)
        assert np.array_equal(u.values, t.values, equal_nan=True)


def _checked_walk(data: bytes) -> tuple[list[tuple[int, int]], int, str]:
    """Records up to the first bad length CRC, by a plain walk: the framing ``_frame`` must reproduce."""
    out, pos = [], 0
    while pos + 12 <= len(data):
        length, lcrc = struct.unpack_from("<QI", data, pos)
        if masked_crc32c(struct.pack("<Q", length)) != lcrc:
            return out, pos, "badlen"
        if pos + 16 + length > len(data):
            break
        out.append((pos, length))
        pos += 16 + length
    return out, pos, "end"


@settings(max_examples=200, deadline=None)
@given(cycle=st.lists(st.integers(0, 40), min_size=1, max_size=12), repeats=st.integers(2, 3000),
       tail=st.lists(st.integers(0, 300), max_size=5), flip=st.none() | st.tuples(st.floats(0, 1), st.integers(0, 7)),
       cut=st.integers(0, 30))
def test_framing_equals_a_checked_walk(cycle: list[int], repeats: int, tail: list[int],
                                       flip: tuple[float, int] | None, cut: int) -> None:
    # Periodic lengths (a training loop logging the same tags every step) make _frame predict whole
    # cycles of headers and verify them in gathered blocks; a length that breaks the period, a flipped
    # bit (in a header or in data) and a cut-short last record must end or divert it exactly where a
    # record-by-record walk would.
    data = bytearray(b"".join(_record(bytes([i % 251]) * n) for _ in range(repeats) for i, n in enumerate(cycle)))
    data += b"".join(_record(b"t" * n) for n in tail)
    if flip is not None:
        data[min(len(data) - 1, int(flip[0] * len(data)))] ^= 1 << flip[1]
    data = bytes(data[: max(0, len(data) - cut)])
    starts, lens, pos, reason = eventfile._frame(data, np.frombuffer(data, np.uint8), 0, True, eventfile._Headers())
    want, want_pos, want_reason = _checked_walk(data)
    assert list(zip(starts.tolist(), lens.tolist(), strict=True)) == want
    assert (pos, reason) == (want_pos, want_reason)
