"""The restricted unpickler reads data and never runs what a pickle asks for."""

from __future__ import annotations

import argparse
import io
import os
import pickle
import re
import sys
import time
from collections import Counter, OrderedDict
from pathlib import Path

import numpy as np
import pytest
from fuzzkit import apply_ops, ops_strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traintriage.errors import InputError, TraintriageError, UnsafeArtifactError
from traintriage.pickle_numpy import ArrayRecord
from traintriage.pickle_standins import Global, Instance, fields_of
from traintriage.safe_pickle import PLAIN_DATA_GLOBALS, restricted_loads


class _RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _WritesFile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_plain_data_round_trips_every_protocol():
    data = {"a": [1, 2.5, "x", b"y", (1, None)], "b": {"nested": True}, 3: -7}
    for proto in range(3, pickle.HIGHEST_PROTOCOL + 1):
        assert restricted_loads(pickle.dumps(data, protocol=proto)) == data
    for proto in range(0, 3):  # bytes are _codecs.encode(str, 'latin1') before protocol 3
        assert restricted_loads(pickle.dumps(data, protocol=proto), allowed=PLAIN_DATA_GLOBALS) == data


@pytest.mark.parametrize("payload_cls,global_name", [(_RunsCommand, "posix.system"), (_WritesFile, "io.open")])
def test_foreign_global_is_named_and_never_runs(tmp_path, payload_cls, global_name):
    marker = tmp_path / "pwned"
    blob = pickle.dumps({"weights": [1.0], "payload": payload_cls(marker)}, protocol=2)
    with pytest.raises(UnsafeArtifactError) as err:
        restricted_loads(blob)
    assert global_name in err.value.message
    assert not marker.exists()


def test_allowed_globals_map_to_stand_ins():
    blob = pickle.dumps(OrderedDict(a=1, b={2, 3}), protocol=2, fix_imports=False)
    with pytest.raises(UnsafeArtifactError, match=r"collections\.OrderedDict"):
        restricted_loads(blob)
    assert restricted_loads(blob, allowed=PLAIN_DATA_GLOBALS) == OrderedDict(a=1, b={2, 3})
    calls = []
    out = restricted_loads(blob, allowed={("collections", "OrderedDict"): lambda *a: calls.append(a) or {},
                                          ("builtins", "set"): frozenset})
    assert calls == [()] and out == {"a": 1, "b": frozenset({2, 3})}


def test_protocol2_bytes_go_through_latin1_encode_only():
    assert restricted_loads(pickle.dumps(b"\x00\xffab", protocol=2), allowed=PLAIN_DATA_GLOBALS) == b"\x00\xffab"
    crafted = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R."
    with pytest.raises(UnsafeArtifactError):
        restricted_loads(crafted, allowed=PLAIN_DATA_GLOBALS)


def test_memo_index_bomb_is_harmless():
    # LONG_BINPUT 0x7fffffff: the C unpickler would size its memo list from this index (tens of GB).
    assert restricted_loads(b"\x80\x02Nr\xff\xff\xff\x7f.") is None


def test_huge_length_field_is_refused_not_allocated():
    # BINBYTES8 claiming 2**60 bytes, read from a file: bounded by max_bytes.
    blob = b"\x80\x04\x8e" + (1 << 60).to_bytes(8, "little") + b"abc."
    with pytest.raises(InputError):
        restricted_loads(io.BytesIO(blob), max_bytes=1 << 20)
    with pytest.raises(InputError):
        restricted_loads(blob)


def test_extension_codes_are_refused():
    with pytest.raises(UnsafeArtifactError, match="extension"):
        restricted_loads(b"\x80\x02\x82\x01.")


@pytest.mark.parametrize("blob", [b"", b"\x80\x02", b"\x80\x02}q\x00(X\x01\x00\x00\x00a", b"not a pickle"])
def test_truncated_or_garbage_is_an_input_error(blob):
    with pytest.raises(InputError):
        restricted_loads(blob)


def test_persistent_ids_need_a_handler():
    class P(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", "k") if obj == "ext" else None

    buf = io.BytesIO()
    P(buf, protocol=2).dump(["ext", 1])
    with pytest.raises(InputError, match="persistent"):
        restricted_loads(buf.getvalue())
    assert restricted_loads(buf.getvalue(), persistent_load=lambda pid: ("ref", pid)) == [("ref", ("storage", "k")), 1]


def test_consecutive_pickles_in_one_file():
    buf = io.BytesIO(pickle.dumps(1, protocol=2) + pickle.dumps([2], protocol=2) + b"tail")
    assert restricted_loads(buf) == 1
    assert restricted_loads(buf) == [2]
    assert buf.read() == b"tail"


def test_build_cannot_rewrite_shared_stand_ins():
    # BUILD onto a stand-in from `allowed` used to change it for every later load in the process:
    # torch.FloatStorage's stand-in became int8, a stand-in function got new __defaults__.
    from traintriage.checkpoints.torch_reader import TORCH_GLOBALS, _rebuild_tensor_v3

    storage = b"\x80\x02ctorch\nFloatStorage\nX\x04\x00\x00\x00int8\x85b."
    defaults = (b"\x80\x02ctorch._utils\n_rebuild_tensor_v3\nN}X\x0c\x00\x00\x00__defaults__K\x01\x85s\x86b.")
    for blob in (storage, defaults):
        with pytest.raises(UnsafeArtifactError, match="BUILD"):
            restricted_loads(blob, allowed=TORCH_GLOBALS)
    assert TORCH_GLOBALS[("torch", "FloatStorage")].dtype == "float32"
    assert _rebuild_tensor_v3.__defaults__ == (None, None, None)


def test_build_still_sets_an_ordered_dicts_metadata():
    # torch.save(state_dict) pickles the OrderedDict's _metadata attribute with BUILD.
    od = OrderedDict(w=1)
    od._metadata = {"": {"version": 1}}
    out = restricted_loads(pickle.dumps(od, protocol=2), allowed=PLAIN_DATA_GLOBALS)
    assert out == od and out._metadata == {"": {"version": 1}}


# ---------------------------------------------------------------------------------------------
# Stand-ins: any global becomes an inert record; numpy values are decoded; nothing is imported or run
# ---------------------------------------------------------------------------------------------

def _glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _text(s: str) -> bytes:
    raw = s.encode()
    return b"X" + len(raw).to_bytes(4, "little") + raw


def _load_with_stand_ins(blob: bytes):
    names: Counter = Counter()
    return restricted_loads(blob, allowed=PLAIN_DATA_GLOBALS, stand_ins=names), names


@pytest.mark.parametrize("proto", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_namespace_fields_and_numpy_values_are_read_every_protocol(proto):
    args = argparse.Namespace(lr=3e-4, batch_size=32, name="run-1")
    history = np.linspace(0, 1, 7, dtype=np.float32)
    obj = {"args": args, "best_acc": np.float64(0.8125), "step": np.int64(41), "history": history,
           "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "big_endian": np.arange(3, dtype=">i4"),
           "flags": np.array([True, False]), "labels": np.array(["cat", "dog"]),
           "objects": np.array([1, "a"], dtype=object)}
    before = set(sys.modules)
    out, names = _load_with_stand_ins(pickle.dumps(obj, protocol=proto))
    assert isinstance(out["args"], Instance) and out["args"].cls.qualname == "argparse.Namespace"
    assert fields_of(out["args"]) == {"lr": 3e-4, "batch_size": 32, "name": "run-1"}
    assert type(out["best_acc"]) is np.float64 and out["best_acc"] == 0.8125
    assert type(out["step"]) is np.int64 and out["step"] == 41
    for key in ("history", "fortran", "big_endian", "flags", "labels"):
        assert isinstance(out[key], np.ndarray) and out[key].dtype == obj[key].dtype, key
        assert np.array_equal(out[key], obj[key]), key
    # An object array is not plain data: kept as a record (its elements as the pickle gave them), not decoded.
    assert isinstance(out["objects"], ArrayRecord) and out["objects"].value is None
    assert names["argparse.Namespace"] == 1
    assert set(sys.modules) == before  # nothing the pickle names was imported


def test_a_users_own_class_is_recorded_by_name_and_its_setstate_never_runs(tmp_path):
    marker = tmp_path / "setstate_ran"
    # What pickling an instance of a user's class with a __setstate__ looks like (the module need not exist).
    blob = (b"\x80\x02" + _glob("my_project.config_zz", "TrainConfig") + b")\x81}(" + _text("lr")
            + b"G?\x1a6\xe2\xeb\x1cC-" + _text("marker") + _text(str(marker)) + b"ub.")
    out, names = _load_with_stand_ins(blob)
    assert isinstance(out, Instance) and out.cls.qualname == "my_project.config_zz.TrainConfig"
    assert fields_of(out) == {"lr": pytest.approx(1e-4), "marker": str(marker)}
    assert "my_project" not in sys.modules and not marker.exists()
    assert names == Counter({"my_project.config_zz.TrainConfig": 1})


class _SetstateRunsCommand:
    """A real class whose __setstate__ would write a file: a naive unpickler runs it at BUILD."""

    def __init__(self, marker):
        self.marker = marker

    def __setstate__(self, state):  # pragma: no cover - must never run
        Path(state["marker"]).write_text("ran")


def test_setstate_payload_of_a_real_class_is_not_run(tmp_path):
    marker = tmp_path / "pwned"
    blob = pickle.dumps({"cfg": _SetstateRunsCommand(str(marker))}, protocol=2)
    out, names = _load_with_stand_ins(blob)
    assert isinstance(out["cfg"], Instance) and fields_of(out["cfg"]) == {"marker": str(marker)}
    assert not marker.exists()
    assert names == Counter({f"{__name__}._SetstateRunsCommand": 1})


def test_a_stand_in_asked_to_be_called_is_refused():
    # mymod.Thing() is recorded; calling what that gave, mymod.Thing()(...), is refused by name.
    blob = b"\x80\x02" + _glob("mymod_zz", "Thing") + b")R" + _text("rm -rf /") + b"\x85R."
    with pytest.raises(UnsafeArtifactError, match="call an object it built") as err:
        _load_with_stand_ins(blob)
    assert "nothing in the file was run" in err.value.hint.lower()
    # NEWOBJ with an instance record (not a class) as the class: refused too.
    blob = b"\x80\x02" + _glob("mymod_zz", "Thing") + b")R)\x81."
    with pytest.raises(UnsafeArtifactError, match="refused"):
        _load_with_stand_ins(blob)


def test_nested_reduce_chains_build_records_and_call_nothing():
    # a(b(c(d(...("x")...)))) nested 50,000 deep: records all the way down, built without recursion.
    depth = 50_000
    blob = b"\x80\x02" + (_glob("mymod_zz", "f") + b"(") * depth + _text("x") + b"tR" * depth + b"."
    started = time.perf_counter()
    out, names = _load_with_stand_ins(blob)
    assert time.perf_counter() - started < 10
    assert names == Counter({"mymod_zz.f": depth})
    node, levels = out, 0
    while isinstance(node, Instance):
        assert node.cls.qualname == "mymod_zz.f"
        node, levels = node.args[0], levels + 1
    assert levels == depth and node == "x"
    assert len(repr(out)) < 200  # a record's repr does not walk what it holds
    # A chain that reaches os.system anywhere is refused as a whole.
    blob = b"\x80\x02" + _glob("mymod_zz", "f") + b"(" + _glob("os", "system") + b"(" + _text("id") + b"tRtR."
    with pytest.raises(UnsafeArtifactError, match=r"os\.system"):
        _load_with_stand_ins(blob)


@pytest.mark.parametrize(("module", "name"), [
    ("os", "system"), ("posix", "system"), ("nt", "system"), ("subprocess", "Popen"), ("builtins", "eval"),
    ("builtins", "exec"), ("builtins", "getattr"), ("__builtin__", "getattr"), ("builtins", "__import__"),
    ("importlib", "import_module"), ("runpy", "run_path"), ("torch.hub", "load"), ("copyreg", "add_extension"),
    ("operator", "attrgetter"), ("functools", "partial"), ("mymod_zz", "os.system"), ("posixpath", "os.system"),
    ("mymod_zz", "Thing.__init__.__globals__"), ("builtins", "object.__subclasses__"), ("pickle", "loads"),
])
def test_code_execution_globals_are_refused_even_with_stand_ins(module, name):
    blob = b"\x80\x04\x8c" + bytes([len(module)]) + module.encode() + b"\x8c" + bytes(
        [len(name)]) + name.encode() + b"\x93" + _text("id") + b"\x85R."
    with pytest.raises(UnsafeArtifactError, match=re.escape(f"{module}.{name}")):
        _load_with_stand_ins(blob)


def test_os_system_through_getattr_on_stand_ins_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    # getattr(<stand-in for a harmless-looking module global>, "system")("touch marker")
    blob = (b"\x80\x02" + _glob("__builtin__", "getattr") + b"(" + _glob("mymod_zz", "os") + _text("system")
            + b"tR(" + _text(f"touch {marker}") + b"tR.")
    with pytest.raises(UnsafeArtifactError, match="getattr"):
        _load_with_stand_ins(blob)
    # A stand-in has no attributes to walk to: there is no getattr opcode, and its class is never imported.
    assert not marker.exists()


def test_copyreg_reconstructor_makes_a_record_and_other_copyreg_tricks_are_refused():
    # Protocols 0 and 1 pickle a plain class instance as copyreg._reconstructor(cls, object, None) + BUILD.
    ns = argparse.Namespace(lr=0.1)
    out, _ = _load_with_stand_ins(pickle.dumps(ns, protocol=0))
    assert isinstance(out, Instance) and fields_of(out) == {"lr": 0.1}
    # _reconstructor asked to build something that is not a named class (here, a plain string): refused.
    blob = b"\x80\x02" + _glob("copyreg", "_reconstructor") + b"(" + _text("os.system") + b"NNtR."
    with pytest.raises(UnsafeArtifactError, match="copyreg"):
        _load_with_stand_ins(blob)
    # Registering an extension code, and using one, are refused.
    blob = b"\x80\x02" + _glob("copyreg", "add_extension") + b"(" + _text("os") + _text("system") + b"K\x01tR."
    with pytest.raises(UnsafeArtifactError, match=r"copyreg\.add_extension"):
        _load_with_stand_ins(blob)
    with pytest.raises(UnsafeArtifactError, match="extension"):
        _load_with_stand_ins(b"\x80\x02\x82\x01.")


def test_build_on_a_stand_in_global_is_refused_and_stand_ins_are_never_shared():
    blob = b"\x80\x02" + _glob("mymod_zz", "Thing") + b"}" + _text("__call__") + _text("x") + b"sb."
    with pytest.raises(UnsafeArtifactError, match="BUILD"):
        _load_with_stand_ins(blob)
    once = b"\x80\x02" + _glob("mymod_zz", "Thing") + b"."
    first, _ = _load_with_stand_ins(once)
    second, _ = _load_with_stand_ins(once)
    assert isinstance(first, Global) and first is not second


def test_without_stand_ins_any_unknown_global_is_still_refused():
    with pytest.raises(UnsafeArtifactError, match=r"argparse\.Namespace"):
        restricted_loads(pickle.dumps(argparse.Namespace(lr=1), protocol=2), allowed=PLAIN_DATA_GLOBALS)


def test_numpy_array_with_the_wrong_byte_count_is_an_input_error():
    good = pickle.dumps(np.arange(4, dtype=np.float32), protocol=2)
    raw = np.arange(4, dtype=np.float32).tobytes().decode("latin1").encode("utf-8")
    i = good.index(raw)
    cut = raw[: len(np.arange(3, dtype=np.float32).tobytes().decode("latin1").encode("utf-8"))]
    bad = good[: i - 4] + len(cut).to_bytes(4, "little") + cut + good[i + len(raw):]
    with pytest.raises(InputError, match="numpy array"):
        _load_with_stand_ins(bad)


# The unpickler in stand-in mode, fuzzed: mutated pickles of stand-ins and numpy values. Whatever the
# bytes, a load ends in a value or a TraintriageError with a hint, imports nothing and runs nothing.

def _fuzz_seeds() -> list[bytes]:
    values = [
        {"args": argparse.Namespace(lr=3e-4, bs=32), "acc": np.float64(0.5), "hist": np.arange(5.0),
         "rng": np.random.RandomState(0).get_state()},
        {"cfg": _SetstateRunsCommand("/tmp/traintriage_fuzz_pwned"), "epoch": np.int32(3)},
        OrderedDict(w=np.ones((2, 2), dtype=np.float16), b=[np.bool_(True), np.array(["x"])]),
    ]
    return [pickle.dumps(v, protocol=p) for v in values for p in range(0, pickle.HIGHEST_PROTOCOL + 1)]


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzz_the_unpickler_with_stand_ins(data):
    seeds = _fuzz_seeds()
    seed = seeds[data.draw(st.integers(0, len(seeds) - 1))]
    blob = apply_ops(seed, data.draw(ops_strategy(False)))
    before = set(sys.modules)
    try:
        _load_with_stand_ins(blob)
    except TraintriageError as exc:
        assert exc.message and exc.hint
    assert set(sys.modules) == before
    assert not Path("/tmp/traintriage_fuzz_pwned").exists()
