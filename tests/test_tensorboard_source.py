"""Run directories -> series: naming, merging several files, resumed runs, and the event cache."""

from __future__ import annotations

import itertools
import os
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from traintriage.sources.eventcache import EventCache
from traintriage.sources.eventfile import TagScalars, scan_event_file
from traintriage.sources.tensorboard import find_event_files, is_event_file, load_tensorboard_series

FIX = Path(__file__).parent / "fixtures"
EVENTS = FIX / "events"


def _load(run_dir: Path):
    return load_tensorboard_series(run_dir, find_event_files(run_dir), EventCache())


def test_find_event_files_any_depth_sorted() -> None:
    files = find_event_files(EVENTS / "keras")
    assert [f.parent.name for f in files] == ["train", "validation"]
    assert all(is_event_file(f) for f in files)
    resumed = find_event_files(EVENTS / "resumed")
    assert [f.name.split(".")[3] for f in resumed] == ["1700000500", "1700000900"]
    runs = find_event_files(FIX / "outputs" / "training")
    assert [f.parent.name for f in runs] == sorted(f.parent.name for f in runs) and len(runs) == 3
    assert not is_event_file(EVENTS / "keras")  # a directory is not an event file


def test_keras_layout_is_one_run_with_prefixed_names() -> None:
    series, warnings = _load(EVENTS / "keras")
    assert warnings == []
    assert set(series) == {"train/epoch_loss", "train/epoch_learning_rate", "validation/epoch_loss",
                           "validation/evaluation_loss_vs_iterations"}
    train = scan_event_file(find_event_files(EVENTS / "keras")[0]).scalars["epoch_loss"]
    np.testing.assert_array_equal(series["train/epoch_loss"].values, train.values)
    assert series["train/epoch_loss"].values[0] > series["train/epoch_loss"].values[-1]  # plausible curve


def test_events_in_the_run_dir_keep_their_tags() -> None:
    series, warnings = _load(EVENTS / "epiforecaster")
    assert warnings == []
    assert {"Loss/Train_step", "Loss/Val", "Learning_Rate/step", "GradNorm/Total_PreClip",
            "GradNorm/Clipped_Total", "GradNorm/MobilityGNN"} <= set(series)
    s = series["Loss/Train_step"]
    assert s.steps.tolist() == list(range(250)) and np.isfinite(s.wall_times).all()


def test_resumed_run_later_write_wins_with_a_warning() -> None:
    run = EVENTS / "resumed"
    first, second = (scan_event_file(f).scalars["Loss/train"] for f in find_event_files(run))
    series, warnings = _load(run)
    loss = series["Loss/train"]
    assert loss.steps.tolist() == list(range(220))
    np.testing.assert_array_equal(loss.values[:100], first.values[:100])
    np.testing.assert_array_equal(loss.values[100:], second.values)  # steps 100..149 from the resumed file
    assert not np.array_equal(first.values[100:150], second.values[:50])  # the fixture really differs there
    repeat = [w for w in warnings if w.startswith("Loss/train:")]
    assert len(repeat) == 1 and "50 step(s)" in repeat[0] and "later write" in repeat[0]


def test_unreadable_file_is_a_warning_and_per_file_warnings_are_prefixed(tmp_path: Path) -> None:
    shutil.copy(next((EVENTS / "corrupt" / "truncated").iterdir()), tmp_path / "events.out.tfevents.1.a")
    (tmp_path / "events.out.tfevents.2.b").write_bytes(os.urandom(4096))
    series, warnings = _load(tmp_path)
    assert "Loss/train" in series
    assert any(w.startswith("events.out.tfevents.1.a: incomplete last record") for w in warnings)
    assert any(w.startswith("events.out.tfevents.2.b: could not be read") for w in warnings)


def test_cache_hit_growth_and_replacement(tmp_path: Path) -> None:
    src = next((EVENTS / "plain").iterdir())
    data = src.read_bytes()
    path = tmp_path / src.name
    path.write_bytes(data[:20000])  # mid-record: a file still being written
    cache = EventCache()
    a = cache.scan(path)
    assert a.truncated_tail and a.bytes_read == a.end_offset
    assert cache.scan(path).bytes_read == 0  # unchanged: a hit
    with open(path, "ab") as f:
        f.write(data[20000:])
    b = cache.scan(path)
    assert b.bytes_read == len(data) - a.end_offset  # only the new bytes
    assert not b.truncated_tail and not any("incomplete" in w for w in b.warnings)
    full = scan_event_file(src)
    assert b.records_read == full.records_read
    for tag, t in full.scalars.items():
        np.testing.assert_array_equal(b.scalars[tag].values, t.values)
    with pytest.raises(ValueError):
        b.scalars["lr"].values[0] = 1.0  # shared arrays are read-only
    # Replaced by another file (new inode, other content): re-read whole, with a warning.
    other = tmp_path / "other"
    other.write_bytes(next((EVENTS / "hf_trainer").iterdir()).read_bytes())
    os.replace(other, path)
    c = cache.scan(path)
    assert "replaced or shrank" in c.warnings[0] and "train/loss" in c.scalars and "lr" not in c.scalars
    assert c.bytes_read == path.stat().st_size
    assert not any("replaced" in w for w in cache.scan(path).warnings)  # news once


@pytest.mark.parametrize("window", [None, 1000])
def test_growing_file_is_appended_in_place_and_handed_out_values_never_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int | None
) -> None:
    if window is not None:  # many small read windows: columns filled and grown across windows too
        from traintriage.sources import eventfile

        monkeypatch.setattr(eventfile, "CHUNK_BYTES", window)
    src = next((EVENTS / "plain").iterdir())
    data = src.read_bytes()
    path = tmp_path / src.name
    cuts = [len(data) // 4, len(data) // 4 + 300, len(data) // 4 + 900, len(data)]
    path.write_bytes(data[: cuts[0]])
    cache = EventCache()
    scans = [cache.scan(path)]
    kept = [{tag: t.values.copy() for tag, t in scans[0].scalars.items()}]
    for a, b in itertools.pairwise(cuts):
        with open(path, "ab") as f:
            f.write(data[a:b])
        scans.append(cache.scan(path))
        kept.append({tag: t.values.copy() for tag, t in scans[-1].scalars.items()})
    full = scan_event_file(src)
    for tag, t in full.scalars.items():
        got = scans[-1].scalars[tag]
        for mine, theirs in ((got.steps, t.steps), (got.values, t.values), (got.wall_times, t.wall_times)):
            np.testing.assert_array_equal(mine, theirs)
    # Every earlier result still holds what it held when it was handed out.
    for scan, values in zip(scans, kept, strict=True):
        for tag, v in values.items():
            np.testing.assert_array_equal(scan.scalars[tag].values, v)
    # The first small growth went into the room left after the cached values: no copy of them.
    lr = [s.scalars["lr"].values for s in scans]
    assert len(lr[1]) > len(lr[0]) and np.shares_memory(lr[0], lr[1])


def test_a_room_given_to_one_result_is_not_written_for_another(tmp_path: Path) -> None:
    """Two appends to the same cached arrays (a read that was dropped, then read again) must not write
    over each other: the second copies instead of writing where the first result's values are."""
    from traintriage.sources.eventcache import SPARE, _merge
    from traintriage.sources.eventfile import Columns

    src = next((EVENTS / "plain").iterdir())
    data = src.read_bytes()
    path = tmp_path / src.name
    path.write_bytes(data[: len(data) * 19 // 20])  # then 5% more: it fits in the room
    old = scan_event_file(path, spare=SPARE)
    columns = {tag: Columns.adopt(t) for tag, t in old.scalars.items()}
    path.write_bytes(data)
    new = scan_event_file(path, old.end_offset, spare=SPARE)
    first, first_columns = _merge(old, columns, new)
    kept = {tag: t.values.copy() for tag, t in first.scalars.items()}
    other = replace(new, scalars={tag: TagScalars(t.steps, t.values + 1000.0, t.wall_times)
                                  for tag, t in new.scalars.items()})
    second, second_columns = _merge(old, columns, other)
    for tag, t in first.scalars.items():
        np.testing.assert_array_equal(t.values, kept[tag])  # untouched by the second append
        n = len(old.scalars[tag])
        np.testing.assert_array_equal(second.scalars[tag].values[:n], old.scalars[tag].values)
        np.testing.assert_array_equal(second.scalars[tag].values[n:], new.scalars[tag].values + 1000.0)
    # The first append wrote into the room after the old values; the second had to copy them.
    assert np.shares_memory(first.scalars["lr"].values, old.scalars["lr"].values)
    assert not np.shares_memory(second.scalars["lr"].values, old.scalars["lr"].values)
    assert first_columns["lr"] is columns["lr"] and second_columns["lr"] is not columns["lr"]


def test_cache_is_bounded_and_thread_safe(tmp_path: Path) -> None:
    files = find_event_files(EVENTS)
    cache = EventCache(max_bytes=60_000)
    for f in files:
        cache.scan(f)
    assert cache.nbytes <= 60_000 or len(cache) == 1
    assert len(cache) < len(files)
    expected = [sum(len(t) for t in scan_event_file(f).scalars.values()) for f in files]
    shared = EventCache()
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = [sum(len(t) for t in shared.scan(f).scalars.values()) for f in files]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [results[i] for i in range(4)] == [expected] * 4
    # The per-file locks live only while a thread uses or waits for them: a long-lived server that reads
    # many files does not keep one per file it ever read.
    assert shared._path_locks == {} and cache._path_locks == {}


def test_a_single_event_file_as_the_run() -> None:
    path = next((EVENTS / "keras" / "train").iterdir())
    series, warnings = load_tensorboard_series(path, [path], EventCache())
    assert set(series) == {"epoch_loss", "epoch_learning_rate"} and warnings == []
