"""The restricted unpickler reads data and never runs what a pickle asks for."""

from __future__ import annotations

import io
import os
import pickle
from collections import OrderedDict

import pytest

from traintriage.errors import InputError, UnsafeArtifactError
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
