"""Every reader against hostile input (CI-sized; ``benchmarks/fuzz.py`` runs many more cases).

The targets, mutations and hand-made hostile inputs are in ``fuzzkit.py``. The rule every case keeps:
it ends in a result or a TraintriageError with a message and a hint (no other exception escapes the
reader's entry points or the ``traintriage.api`` function, no case runs past its time limit), and an
API result can be sent as JSON. Below the matrix, one test per crash the fuzzer found, checking
what the reader does now, not only that it does not crash.
"""

from __future__ import annotations

import contextlib
import io
import json
import struct
import time
import tracemalloc
from functools import cache
from pathlib import Path

import fuzzkit
import pytest
from fuzzkit import CRASH, TARGETS, TARGETS_BY_NAME, Tally, apply_ops, ops_strategy, run_case, truncations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traintriage import api
from traintriage.errors import InputError, TargetNotFoundError, TraintriageError, UnsafeArtifactError
from traintriage.memory.jsonstream import TraceStream
from traintriage.sandbox import Sandbox

TIME_LIMIT = 20.0


@cache
def _hostile(target: str) -> list[tuple[str, bytes]]:
    return TARGETS_BY_NAME[target].hostile()


@cache
def _seeds(target: str) -> list[bytes]:
    return TARGETS_BY_NAME[target].seeds()


def _check(tally: Tally) -> None:
    assert tally.calls[CRASH] == 0, "\n\n".join(tally.crashes)


# ----------------------------------------------------------------------------------------------
# The matrix: every reader, hand-made hostile inputs, mutations, truncations, random bytes
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "case"), [(t.name, name) for t in TARGETS for name, _ in _hostile(t.name)])
def test_hostile_input(target: str, case: str, tmp_path: Path) -> None:
    data = dict(_hostile(target))[case]
    tally = Tally()
    run_case(TARGETS_BY_NAME[target], data, tmp_path, f"hostile: {case}", tally, time_limit=TIME_LIMIT)
    _check(tally)


# Examples per reader: the profiler-trace seeds are 1 MB of JSON each, so fewer of those.
_EXAMPLES = {"profiler trace": 8, "profiler trace .gz": 12, "tfrecord/event": 30}


def _fuzz(target: str, data: bytes, tmp_path: Path, what: str) -> None:
    tally = Tally()
    run_case(TARGETS_BY_NAME[target], data, tmp_path, what, tally, time_limit=TIME_LIMIT)
    _check(tally)


@pytest.mark.parametrize("target", [t.name for t in TARGETS])
def test_mutated_seeds(target: str, tmp_path: Path) -> None:
    seeds = _seeds(target)

    @settings(max_examples=_EXAMPLES.get(target, 40), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(index=st.integers(0, len(seeds) - 1), ops=ops_strategy(TARGETS_BY_NAME[target].text))
    def run(index: int, ops: list) -> None:
        _fuzz(target, apply_ops(seeds[index], ops), tmp_path, f"seed {index} mutated by {ops!r:.300}")

    run()


@pytest.mark.parametrize("target", [t.name for t in TARGETS])
def test_random_bytes(target: str, tmp_path: Path) -> None:
    seeds = _seeds(target)

    @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(blob=st.binary(max_size=2048), keep_head=st.booleans(), index=st.integers(0, len(seeds) - 1))
    def run(blob: bytes, keep_head: bool, index: int) -> None:
        data = (seeds[index][:16] + blob) if keep_head else blob  # behind a real file's magic bytes, or bare
        _fuzz(target, data, tmp_path, f"random bytes (after seed {index}'s head: {keep_head})")

    run()


@pytest.mark.parametrize("target", [t.name for t in TARGETS])
def test_truncated_at_every_edge_offset(target: str, tmp_path: Path) -> None:
    """Each reader's first seed cut at every offset of its first and last 12 bytes and at 16 points between."""
    seed = _seeds(target)[0]
    tally = Tally()
    for cut in truncations(seed, len(seed) // 16, edge=12):
        run_case(TARGETS_BY_NAME[target], seed[:cut], tmp_path, f"cut at {cut} of {len(seed)}", tally,
                 time_limit=TIME_LIMIT)
    _check(tally)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(target=st.text(max_size=300) | st.sampled_from(["a\x00b", "~nosuchuser/x", "x" * 5000, "x/" * 3000,
                                                       "../" * 40 + "etc/passwd", "\udcff", "/", ".", "~"]))
def test_any_target_string(target: str) -> None:
    """Agents send anything as a target: every answer is a result or a clear error, never an exception."""
    root = Path(fuzzkit.FIXTURES) / "formats"
    for fn in (api.describe_run, api.count_parameters, api.profile_memory):
        try:
            fn(target, sandbox=Sandbox.of([root]))
        except TraintriageError as exc:
            assert exc.message and exc.hint
        fuzzkit.clear_caches()


# ----------------------------------------------------------------------------------------------
# One test per crash found: what each reader does with the input now
# ----------------------------------------------------------------------------------------------


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        with contextlib.suppress(TraintriageError):
            fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_absurd_length_fields_allocate_nothing(tmp_path: Path) -> None:
    """A TFRecord length of 2**60, a safetensors header length of 2**60 and pickle lengths of 2**60 (BINBYTES8,
    BINUNICODE8, FRAME) or 4 GB (BYTEARRAY8, which the stock unpickler allocated and zeroed before reading:
    4 GB of RSS from a 43-byte pickle) are never allocated."""
    from traintriage.checkpoints.safetensors_reader import read_safetensors
    from traintriage.safe_pickle import restricted_loads
    from traintriage.sources.eventfile import scan_event_file

    event = tmp_path / "events.out.tfevents.1.x"
    event.write_bytes(fuzzkit.tfrecord(b"x" * 64, length=1 << 60))
    st_file = tmp_path / "m.safetensors"
    st_file.write_bytes(struct.pack("<Q", 1 << 60) + b"{}")
    bytearray8 = b"\x80\x05\x95\x10\x00\x00\x00\x00\x00\x00\x00\x96" + (4 << 30).to_bytes(8, "little") + b"ab."
    pickles = [b"\x80\x04\x8e" + (1 << 60).to_bytes(8, "little") + b"abc.",
               b"\x80\x04\x8d" + (1 << 60).to_bytes(8, "little") + b"abc.",
               b"\x80\x04\x95" + (1 << 60).to_bytes(8, "little") + b"N.", bytearray8, bytearray8[11:]]
    calls = [lambda: scan_event_file(event), lambda: read_safetensors(st_file)]
    calls += [lambda p=p: restricted_loads(p) for p in pickles]
    calls += [lambda p=p: restricted_loads(io.BytesIO(p), max_bytes=1 << 40) for p in pickles]
    for call in calls:
        assert _peak_bytes(call) < 16 << 20
    for p in pickles[:2] + pickles[3:]:  # (a FRAME longer than the rest of the pickle just holds the rest)
        with pytest.raises(InputError):
            restricted_loads(p)


def test_bytearray_of_a_number_is_refused() -> None:
    from traintriage.safe_pickle import PLAIN_DATA_GLOBALS, restricted_loads

    blob = b"\x80\x02c__builtin__\nbytearray\nJ\x00\x00\x00\x40\x85R."  # bytearray(2**30): a 1 GiB allocation
    with pytest.raises(UnsafeArtifactError, match="bytearray"):
        restricted_loads(blob, allowed=PLAIN_DATA_GLOBALS)


def _count(tmp_path: Path, data_pkl: bytes):
    path = tmp_path / "model.pt"
    path.write_bytes(fuzzkit.zip_with_pickle(fuzzkit._zip_seeds()[0], data_pkl))
    started = time.monotonic()
    try:
        return api.count_parameters(str(path), sandbox=Sandbox.unrestricted()), time.monotonic() - started
    except TraintriageError as exc:
        return exc, time.monotonic() - started


def test_shared_and_cyclic_pickles_end_quickly(tmp_path: Path) -> None:
    """A tensor size that is a list holding the level below twice (64 levels: 2**64 paths) made the error
    message's str() run forever; so did a storage key. The optimizer test walked a 2**40-path list, and
    every key of 2000 sharing one wide structure was walked in full (2000 x 1M objects)."""
    hostile = dict(fuzzkit.checkpoint_pickle_hostile())
    for name in ("tensor size as a 2**64-path shared list", "storage key a 2**64-path shared list",
                 "tensor size as a list that contains itself", "tensor size nested 100k deep"):
        out, seconds = _count(tmp_path, hostile[name])
        assert isinstance(out, InputError) and seconds < 5, (name, out)
        assert len(out.message) < 400
    out, seconds = _count(tmp_path, hostile["optimizer as a 2**40-path shared list"])
    assert seconds < 5 and out.tensors == 1
    out, seconds = _count(tmp_path, hostile["2000 keys sharing one wide structure"])
    assert seconds < 10 and out.tensors == 1
    assert any("larger than" in w for w in out.warnings)
    out, seconds = _count(tmp_path, hostile["optimizer nested 100k deep"])  # was a RecursionError
    assert out.tensors == 1 and out.optimizer is None


def test_huge_tensor_shapes_are_corrupt_not_counted(tmp_path: Path) -> None:
    hostile = dict(fuzzkit.pickle_hostile())
    for name in ("tensor of 64 dims of 2**62", "tensor of 2 dims of 2**4000"):
        out, _ = _count(tmp_path, hostile[name])
        assert isinstance(out, InputError) and "bad size" in out.message


def test_json_logs_with_deep_nesting_huge_numbers_and_steps_past_int64(tmp_path: Path) -> None:
    """Each of these records crashed its reader (RecursionError, ValueError past 4300 digits, OverflowError from
    int(inf), float(10**400) or an int64 column); now the record is reported and the rest of the file read."""
    bad = ["[" * 100_000 + "]" * 100_000, "9" * 5000, "1e999", "1e300", str(2**70), str(10**400), "NaN"]
    for i, value in enumerate(bad):
        jsonl = tmp_path / f"j{i}" / "metrics.jsonl"
        jsonl.parent.mkdir()
        jsonl.write_text(f'{{"step": 1, "loss": 2.0}}\n{{"step": {value}, "loss": 1.0}}\n'
                         f'{{"step": 2, "loss": {value}}}\n{{"step": 3, "loss": 0.5}}\n')
        run = api.load(str(jsonl), sandbox=Sandbox.unrestricted())
        assert run.series["loss"].steps.tolist()[0] == 1 and run.series["loss"].steps.tolist()[-1] == 3
        state = tmp_path / f"s{i}" / "trainer_state.json"
        state.parent.mkdir()
        state.write_text(f'{{"log_history": [{{"step": 1, "loss": 2.0}}, {{"step": {value}, "loss": 1.0}}, '
                         f'{{"step": 3, "loss": 0.5}}]}}')
        try:
            run = api.load(str(state), sandbox=Sandbox.unrestricted())
        except InputError as exc:  # the whole file unreadable (too deep, a 5000-digit number): said so
            assert "cannot read" in exc.hint
        else:
            assert run.series["loss"].steps.tolist() == [1, 3]
            assert any("log_history[1]" in w for w in run.warnings)


def test_text_logs_with_steps_past_int64(tmp_path: Path) -> None:
    lines = ["step:1 loss:2.0", "step:" + "9" * 30 + " loss:1.0",
             "| epoch " + "9" * 5000 + " |   2/ 9 batches | loss 7 |", "Epoch " + "9" * 5000 + "/10",
             "{'loss': 1.0, 'step': 1e999}", "{'loss': " + str(10**400) + ", 'step': 4}", "step:3 loss:0.5"]
    path = tmp_path / "train.log"
    path.write_text("\n".join(lines) + "\n")
    run = api.load(str(path), sandbox=Sandbox.unrestricted())
    assert run.series["loss"].steps.tolist() == [1, 3]
    assert sum("int64" in w or "too long" in w or "not a" in w for w in run.warnings) >= 4


@pytest.mark.parametrize(("name", "content"), [("metrics.csv", "step,loss\n1,2\n1e300,1\n3,0.5\n"),
                                               ("metrics.csv", "step,loss\n1,2\n" + "9" * 30 + ",1\n3,0.5\n")])
def test_csv_steps_past_int64(tmp_path: Path, name: str, content: str) -> None:
    (tmp_path / name).write_text(content)
    run = api.load(str(tmp_path / name), sandbox=Sandbox.unrestricted())
    assert run.series["loss"].steps.tolist() == [1, 3]
    assert any(":3:" in w for w in run.warnings)


def test_mlflow_step_past_int64(tmp_path: Path) -> None:
    run_dir = fuzzkit._place_mlflow_metric(tmp_path, b"1700000000000 2.0 1\n1700000000000 1.0 1e300\n")
    run = api.load(str(run_dir), sandbox=Sandbox.unrestricted())
    assert run.series["loss"].steps.tolist() == [1]
    assert any("not numbers" in w for w in run.warnings)


def test_lone_surrogates_in_names_can_be_sent_as_json(tmp_path: Path) -> None:
    """JSON escapes (\\ud800) and Python literals ('\\udcff') decode to lone surrogates, which no UTF-8 output
    takes: the result failed when serialised. They come back written as escapes."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "metrics.jsonl").write_text('{"step": 1, "lo\\ud800ss": 2.0}\n{"step": 2, "lo\\ud800ss": 1.0}\n')
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "train.log").write_text("{'loss\\udcff': 1.0}\n{'loss\\udcff': 0.5}\n")
    for run, name in (("a", "lo\\ud800ss"), ("b", "loss\\udcff")):
        out = json.loads(api.describe_run(str(tmp_path / run), sandbox=Sandbox.unrestricted()).model_dump_json())
        assert [s["name"] for s in out["series"]] == [name]


def test_profiler_trace_hostile_values(tmp_path: Path) -> None:
    hostile = dict(fuzzkit.trace_hostile())
    path = tmp_path / "run.pt.trace.json"
    for name in ("100k nested lists as an event", "100k nested lists in the header", "5000-digit Bytes"):
        path.write_bytes(hostile[name])
        with pytest.raises(InputError, match=r"too deeply|too long"):
            api.profile_memory(str(path), sandbox=Sandbox.unrestricted())
    for name in ("Bytes of 1e999", "Bytes of 1e300", "Device Type of -1e999", "OOM event with ts of 1e999",
                 "ProfilerStep#<5000 digits>"):
        path.write_bytes(hostile[name])
        report = api.profile_memory(str(path), sandbox=Sandbox.unrestricted())
        assert report.kind == "trace" and report.trace.devices


def test_corrupt_gzip_trace_is_read_up_to_the_damage(tmp_path: Path) -> None:
    seed = _seeds("profiler trace .gz")[0]
    path = tmp_path / "run.pt.trace.json.gz"
    path.write_bytes(seed[:16] + bytes(b ^ 0x5A for b in seed[16:4096]))  # zlib.error escaped
    with pytest.raises(InputError):
        api.profile_memory(str(path), sandbox=Sandbox.unrestricted())
    path.write_bytes(seed[: len(seed) // 2] + bytes(b ^ 0x5A for b in seed[len(seed) // 2:]))
    stream = TraceStream(path, chunk_chars=4096)
    assert sum(1 for _ in stream) > 100 and "read error" in stream.truncated


def test_snapshot_hostile_values(tmp_path: Path) -> None:
    hostile = dict(fuzzkit.snapshot_hostile())
    path = tmp_path / "snapshot.pickle"
    for name in ("segment sizes of 2**4000", "a 4000-bit block size", "a frame name nested 100k deep",
                 "a frame name that is a 2**64-path shared list", "device_traces of a 2**64-path shared list"):
        path.write_bytes(hostile[name])
        started = time.monotonic()
        report = api.profile_memory(str(path), sandbox=Sandbox.unrestricted())
        assert report.kind == "snapshot" and time.monotonic() - started < 5
        json.loads(report.model_dump_json())


def test_hf_config_implausible_sizes(tmp_path: Path) -> None:
    hostile = dict(fuzzkit.hf_config_hostile())
    path = tmp_path / "config.json"
    for name in ("10**9 layers", "gpt2 with 10**9 layers", "10**400 vocab", "5000-digit vocab", "100k nested"):
        path.write_bytes(hostile[name])
        started = time.monotonic()
        with pytest.raises(InputError) as err:
            api.count_parameters(str(path), sandbox=Sandbox.unrestricted())
        assert err.value.hint and time.monotonic() - started < 5


def test_safetensors_header_with_a_5000_digit_number(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    path.write_bytes(dict(fuzzkit.safetensors_hostile())["5000-digit data offset"])
    with pytest.raises(InputError, match="number too long"):
        api.count_parameters(str(path), sandbox=Sandbox.unrestricted())


def test_100k_tensors_are_counted_in_seconds(tmp_path: Path) -> None:
    """Finding all-zero matrices looked each name up in the tensor list: quadratic, minutes at 100k tensors."""
    path = tmp_path / "m.safetensors"
    path.write_bytes(dict(fuzzkit.safetensors_hostile())["100k tensors"])
    started = time.monotonic()
    report = api.count_parameters(str(path), sandbox=Sandbox.unrestricted())
    assert report.tensors == 100_000 and time.monotonic() - started < 15


def test_shard_index_hostile_names(tmp_path: Path) -> None:
    hostile = dict(fuzzkit.index_hostile())
    for i, name in enumerate(("a shard named with NUL", "a 5000-char shard name", "a shard outside the directory")):
        case = tmp_path / str(i)
        case.mkdir()
        index = fuzzkit._place_index(case, hostile[name])
        with pytest.raises(InputError) as err:
            api.count_parameters(str(index), sandbox=Sandbox.of([case]))
        assert "not a plain file name" in err.value.hint


def test_unreadable_zip_members_are_input_errors(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}.")
    data = bytearray(path.read_bytes())
    # Claim an unknown compression method (99) in the local and central headers: NotImplementedError escaped.
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        at = data.find(sig)
        data[at + (8 if sig == b"PK\x03\x04" else 10): at + (10 if sig == b"PK\x03\x04" else 12)] = b"\x63\x00"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="cannot be read"):
        api.count_parameters(str(path), sandbox=Sandbox.unrestricted())


@pytest.mark.parametrize("target", ["a\x00b", "~nosuchuser/run", "x" * 5000])
def test_unusable_target_strings(target: str, tmp_path: Path) -> None:
    """A NUL byte (ValueError), an unknown ~user (RuntimeError) and a name longer than the file system allows
    (OSError) escaped resolution."""
    for fn in (api.load, api.count_parameters, api.profile_memory):
        with pytest.raises(TargetNotFoundError):
            fn(target, sandbox=Sandbox.of([tmp_path]))


def test_symlink_loop_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for fn in (api.load, api.count_parameters, api.profile_memory):
        with pytest.raises(TraintriageError) as err:
            fn(str(tmp_path / "loop"), sandbox=Sandbox.of([tmp_path]))
        assert err.value.hint


def test_symlinks_inside_a_run_do_not_reach_outside_the_roots(tmp_path: Path) -> None:
    """Targets were resolved and checked against the roots, but files found inside a target directory were
    not: a run holding ``metrics.csv -> /etc/passwd`` handed the file's first line back in a warning, a model
    directory's ``model.safetensors`` and a trace directory's newest trace were read wherever they pointed."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.csv"
    secret.write_text("step,the_secret_column\n1,2\n")
    root = tmp_path / "root"
    (root / "run").mkdir(parents=True)
    (root / "run" / "metrics.csv").symlink_to(secret)
    with pytest.raises(InputError) as err:
        api.describe_run("run", sandbox=Sandbox.of([root]))
    assert "the_secret_column" not in str(err.value) and "symlinks to outside the roots" in err.value.message
    (root / "run" / "log.csv").write_text("step,loss\n1,2.0\n2,1.0\n")
    out = api.describe_run("run", sandbox=Sandbox.of([root])).model_dump_json()
    assert "the_secret_column" not in out and "symlinks to outside the roots" in out
    assert api.describe_run(str(root / "run" / "log.csv"), sandbox=Sandbox.of([root])).series[0].name == "loss"
    (root / "model").mkdir()
    st = outside / "model.safetensors"
    st.write_bytes(struct.pack("<Q", 2) + b"{}")
    (root / "model" / "model.safetensors").symlink_to(st)
    with pytest.raises(TraintriageError) as err:
        api.count_parameters("model", sandbox=Sandbox.of([root]))
    assert "outside every root" in err.value.message
    (root / "traces").mkdir()
    trace = outside / "t.pt.trace.json"
    trace.write_bytes(dict(fuzzkit.trace_hostile())["Bytes of 1e300"])
    (root / "traces" / "t.pt.trace.json").symlink_to(trace)
    with pytest.raises(TraintriageError):
        api.profile_memory("traces", sandbox=Sandbox.of([root]))
    assert api.profile_memory(str(trace), sandbox=Sandbox.unrestricted()).kind == "trace"  # the CLI (no roots) reads it


@pytest.mark.parametrize(("name", "head", "tail"), [
    ("train.log", "step:1 loss:2.0\n", "step:2 loss:1.0\n"),
    ("metrics.jsonl", '{"step": 1, "loss": 2.0}\n', '{"step": 2, "loss": 1.0}\n'),
    ("metrics.csv", "step,loss\n1,2.0\n", "2,1.0\n"),
])
def test_a_64_mib_line_is_skipped_without_holding_it(tmp_path: Path, name: str, head: str, tail: str) -> None:
    """Line readers held each line whole: a log of one 64 MiB line took ~140 MB (a 10 GB one, all of memory)."""
    path = tmp_path / name
    with open(path, "w") as fh:
        fh.write(head + "step:9 loss:" + "9" * (64 << 20) + "\n" + tail)
    from traintriage.sources import load_run

    tracemalloc.start()
    try:
        run = load_run(str(path), sandbox=Sandbox.unrestricted())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert run.series["loss"].steps.tolist() == [1, 2]
    assert any("longer than" in w for w in run.warnings)
    assert peak < 40 << 20


def test_the_runs_listing_does_not_read_through_symlinks_to_outside_the_roots(tmp_path: Path) -> None:
    """The runs:// listing read each run without its roots: metrics.csv -> a file outside them came back in
    the listing's warnings (its first line as an unread column name)."""
    from traintriage.sources.catalog import list_runs

    secret = tmp_path / "secret.csv"
    secret.write_text("the_secret_column\nx\n")
    (tmp_path / "root" / "run").mkdir(parents=True)
    (tmp_path / "root" / "run" / "metrics.csv").symlink_to(secret)
    catalog = list_runs([tmp_path / "root"])
    assert "the_secret_column" not in catalog.model_dump_json()
    assert any("symlinks to outside the roots" in w for w in catalog.warnings)


def test_fifos_named_like_logs_or_checkpoints_do_not_block(tmp_path: Path) -> None:
    """A FIFO named events.out.tfevents.*, model.safetensors or an MLflow metric was opened, and the open
    blocks until something writes to it: the call never returned."""
    import os

    (tmp_path / "run").mkdir()
    os.mkfifo(tmp_path / "run" / "events.out.tfevents.1.x")
    (tmp_path / "run" / "log.csv").write_text("step,loss\n1,2.0\n2,1.0\n")
    os.mkfifo(tmp_path / "model.safetensors")
    run_dir = fuzzkit._place_mlflow_metric(tmp_path / "ml", b"1700000000000 2.0 1\n")
    os.mkfifo(run_dir / "metrics" / "val_loss_fifo")
    calls = [lambda _: api.describe_run("run", sandbox=Sandbox.of([tmp_path])),
             lambda _: api.count_parameters("model.safetensors", sandbox=Sandbox.of([tmp_path])),
             lambda _: api.describe_run(str(run_dir), sandbox=Sandbox.of([tmp_path]))]
    for call in calls:  # run_entry's alarm interrupts a blocked open(): a hang is reported, not waited on
        outcome, detail = fuzzkit.run_entry(call, tmp_path, time_limit=10)
        assert outcome != CRASH, detail
    assert [s.name for s in api.describe_run("run", sandbox=Sandbox.of([tmp_path])).series] == ["loss"]


def test_mlflow_metric_files_symlinked_out_of_the_run_are_not_read(tmp_path: Path) -> None:
    """Metric files are found by walking the run's metrics/ directory, past the roots check of the run itself;
    an unreadable line of one is quoted in a warning, so a symlink out of the run leaked 80 characters a line."""
    import os

    secret = tmp_path / "secret"
    secret.write_text("1 2 3\nthe secret line\n")
    run_dir = fuzzkit._place_mlflow_metric(tmp_path / "case", b"1700000000000 2.0 1\n")
    os.symlink(secret, run_dir / "metrics" / "val_accuracy")
    run = api.load(str(run_dir), sandbox=Sandbox.of([tmp_path / "case"]))
    assert "val_accuracy" not in run.series and "secret" not in " ".join(run.warnings)
    assert any("symlinks to outside the run" in w for w in run.warnings)


def test_refused_codecs_call_has_a_hint() -> None:
    from traintriage.safe_pickle import PLAIN_DATA_GLOBALS, restricted_loads

    crafted = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R."
    with pytest.raises(UnsafeArtifactError) as err:
        restricted_loads(crafted, allowed=PLAIN_DATA_GLOBALS)
    assert err.value.hint and "rot13" in err.value.message


def test_unreadable_storage_member_is_skipped_not_raised(tmp_path: Path) -> None:
    """The value scan opened each storage member; an unknown compression method raised NotImplementedError."""
    import zipfile

    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", fuzzkit._tensor_pickle(b"(K\x02t"))
        zf.writestr("archive/data/0", b"\x00" * 16)
    data = bytearray(path.read_bytes())
    for sig, at_method in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # the storage member's headers only
        at = data.rfind(sig)
        data[at + at_method: at + at_method + 2] = b"\x63\x00"
    path.write_bytes(bytes(data))
    report = api.count_parameters(str(path), sandbox=Sandbox.unrestricted())
    assert report.total_parameters == 2 and any("not scanned" in w for w in report.warnings)


def test_shard_index_with_many_shards(tmp_path: Path) -> None:
    """The missing-shard count walked the whole weight map once per shard: quadratic in the shards."""
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {f"w{i}": f"s{i}.safetensors" for i in range(20_000)}}))
    with pytest.raises(InputError, match="20,000 shard files"):
        api.count_parameters(str(index), sandbox=Sandbox.unrestricted())
    shard = sorted((fuzzkit.FIXTURES / "checkpoints" / "sharded").glob("*.safetensors"))[0]
    (tmp_path / shard.name).write_bytes(shard.read_bytes())
    weight_map = {f"w{i}": f"s{i}.safetensors" for i in range(9_000)}
    weight_map.update({"x": shard.name})
    index.write_text(json.dumps({"weight_map": weight_map}))
    started = time.monotonic()
    report = api.count_parameters(str(index), sandbox=Sandbox.unrestricted())
    assert report.tensors > 0 and time.monotonic() - started < 20
