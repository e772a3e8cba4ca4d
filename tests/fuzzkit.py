"""Hostile-input fuzzing of every reader: the targets, the mutations and the rule a case must keep.

Shared by ``tests/test_fuzz_readers.py`` (CI-sized runs) and ``benchmarks/fuzz.py`` (long runs).

The rule: every case ends in a result or a :class:`~traintriage.errors.TraintriageError` carrying a
message and a hint. Anything else escaping an entry point (a reader's own entry point or a
``traintriage.api`` function) is a crash, and so is a case that runs past its time limit (a hang).
Results of the API are also serialised to JSON, as the MCP server and the CLI would send them.

Seeds are the committed fixtures (real files written by real writers: PyTorch's SummaryWriter,
TensorBoard's EventFileWriter, torch.save, safetensors, torch.profiler, the CUDA allocator) and the
labelled corpus. Mutations are byte-level (bit flips, truncation, overwrites with boundary integers,
inserted tokens, deletions, duplications), plus hand-made hostile inputs per reader: absurd length
fields, 100k-deep nesting, huge numbers, invalid UTF-8, self-referencing and exponentially shared
pickles.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import os
import pickle
import random
import resource
import shutil
import signal
import struct
import traceback
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from traintriage.errors import TraintriageError
from traintriage.sandbox import Sandbox

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"
CORPUS = REPO / "benchmarks" / "corpus" / "runs"

RESULT, ERROR, CRASH = "result", "error", "crash"
DEEP = 100_000  # nesting depth of the deep-nesting cases


# ----------------------------------------------------------------------------------------------
# Running one case
# ----------------------------------------------------------------------------------------------


class CaseTimeout(BaseException):
    """Raised in the case by SIGALRM when it runs past its time limit."""


def _alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout


def check_result(result: Any) -> None:
    """What an adapter would do with a result: a pydantic model is sent as JSON."""
    dump = getattr(result, "model_dump_json", None)
    if dump is not None:
        dump()


def crash_reason(exc: BaseException) -> str | None:
    """None when ``exc`` keeps the rule (a TraintriageError with a message and a hint), else why not."""
    if isinstance(exc, TraintriageError):
        if exc.message and exc.message.strip() and exc.hint and exc.hint.strip():
            return None
        return f"{type(exc).__name__} without a message or a hint: {exc.message!r} / {exc.hint!r}"
    return f"{type(exc).__name__} escaped: {str(exc)[:300]}"


def run_entry(fn: Callable[[Path], Any], arg: Path, time_limit: float) -> tuple[str, str]:
    """(outcome, detail): ``result``; ``error`` with its message; ``crash`` with a traceback or why."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        check_result(fn(arg))
    except CaseTimeout:
        return CRASH, f"hang: still running after {time_limit:.0f} s"
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # anything but a clear TraintriageError is exactly what we look for
        signal.setitimer(signal.ITIMER_REAL, 0)
        problem = crash_reason(exc)
        if problem is None:
            return ERROR, exc.message[:200]
        return CRASH, (traceback.format_exc(limit=-8) if not isinstance(exc, TraintriageError) else problem)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return RESULT, ""


def clear_caches() -> None:
    """Forget parsed files, so that the process stays small over thousands of cases."""
    from traintriage.sources import filecache
    from traintriage.sources.eventcache import default_cache

    default_cache.clear()
    filecache.clear()


# ----------------------------------------------------------------------------------------------
# Mutations
# ----------------------------------------------------------------------------------------------

BOUNDARY_INTS = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**60, 2**63 - 1, 2**63,
                 2**64 - 1)

TEXT_TOKENS: tuple[bytes, ...] = (
    b"nan", b"NaN", b"inf", b"-inf", b"Infinity", b"1e999", b"-1e999", b"1e308", b"1e300", b"-0",
    b"9" * 30, b"9" * 5000, b"18446744073709551616", b"-9223372036854775809", b"0x10", b"1_000",
    b"\xff\xfe\x80", b"\xc3\x28", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00", b"\r", b"\n", b"\t",
    b"[" * 1000, b"]", b"{", b"}", b'"', b"'", b",", b":", b"=", b"|", b" - ",
    b"step", b"loss", b"epoch", b"Epoch 1/2", b"{'loss': ", b"| epoch 1 | 1/ 2 batches |", b"50%|##| 5/10 [",
    b'{"step": 1e300, "loss": 1}', b'{"a": ' * 100, b"[" * DEEP, b'"\\ud800"', b"'\\udcff'", b'"lo\\udfffss": 1',
)


def apply_ops(data: bytes, ops: Sequence[tuple]) -> bytes:
    """Apply mutation operations; positions are fractions of the current length (0..1)."""
    buf = bytearray(data)
    for op in ops:
        kind, frac = op[0], op[1]
        pos = min(int(frac * len(buf)), max(len(buf) - 1, 0))
        if kind == "flip":
            if buf:
                buf[pos] ^= 1 << op[2]
        elif kind == "cut":
            del buf[int(frac * len(buf)):]
        elif kind == "byte":
            if buf:
                buf[pos] = op[2]
        elif kind == "int":  # overwrite with a little-endian boundary integer (length fields)
            width, value = op[2], op[3]
            buf[pos:pos + width] = (value % (1 << (8 * width))).to_bytes(width, "little")
        elif kind == "insert":
            buf[pos:pos] = op[2]
        elif kind == "delete":
            del buf[pos:pos + op[2]]
        elif kind == "dup":
            buf[pos:pos] = buf[pos:pos + op[2]]
        else:
            raise ValueError(f"unknown mutation {kind!r}")
    return bytes(buf)


def random_ops(rng: random.Random, text: bool, max_ops: int = 4) -> list[tuple]:
    """A random list of mutation operations (the long run's counterpart of :func:`ops_strategy`)."""
    ops: list[tuple] = []
    for _ in range(rng.randint(1, max_ops)):
        frac = rng.random()
        kind = rng.choice(["flip", "flip", "cut", "byte", "int", "insert", "delete", "dup"]
                          + (["token", "token", "token"] if text else []))
        if kind == "flip":
            ops.append(("flip", frac, rng.randrange(8)))
        elif kind == "cut":
            ops.append(("cut", frac))
        elif kind == "byte":
            ops.append(("byte", frac, rng.choice([0, 0x7F, 0x80, 0xFF, rng.randrange(256)])))
        elif kind == "int":
            ops.append(("int", frac, rng.choice([1, 2, 4, 8]), rng.choice(BOUNDARY_INTS)))
        elif kind == "insert":
            ops.append(("insert", frac, rng.randbytes(rng.choice([1, 4, 16, 256]))))
        elif kind == "token":
            ops.append(("insert", frac, rng.choice(TEXT_TOKENS)))
        elif kind == "delete":
            ops.append(("delete", frac, rng.choice([1, 8, 64, 4096])))
        else:
            ops.append(("dup", frac, rng.choice([1, 16, 256, 4096])))
    return ops


def ops_strategy(text: bool):
    """Hypothesis strategy for a list of mutation operations."""
    from hypothesis import strategies as st

    frac = st.floats(0, 1, allow_nan=False)
    choices = [
        st.tuples(st.just("flip"), frac, st.integers(0, 7)),
        st.tuples(st.just("cut"), frac),
        st.tuples(st.just("byte"), frac, st.sampled_from([0, 0x7F, 0x80, 0xFF]) | st.integers(0, 255)),
        st.tuples(st.just("int"), frac, st.sampled_from([1, 2, 4, 8]), st.sampled_from(BOUNDARY_INTS)),
        st.tuples(st.just("insert"), frac, st.binary(min_size=1, max_size=64)),
        st.tuples(st.just("delete"), frac, st.sampled_from([1, 8, 64, 4096])),
        st.tuples(st.just("dup"), frac, st.sampled_from([1, 16, 256, 4096])),
    ]
    if text:
        choices.append(st.tuples(st.just("insert"), frac, st.sampled_from(TEXT_TOKENS)))
    return st.lists(st.one_of(*choices), min_size=1, max_size=4)


def truncations(data: bytes, stride: int, edge: int = 64) -> Iterator[int]:
    """Offsets to cut ``data`` at: every offset of the first and last ``edge`` bytes, ``stride`` apart between."""
    n = len(data)
    offsets = set(range(min(edge, n + 1))) | set(range(max(0, n - edge), n)) | set(range(0, n, max(stride, 1)))
    yield from sorted(offsets)


# ----------------------------------------------------------------------------------------------
# Hand-made hostile inputs
# ----------------------------------------------------------------------------------------------


def tfrecord(data: bytes, length: int | None = None) -> bytes:
    """One TFRecord with correct CRCs (``length`` overrides the declared length, its CRC kept valid)."""
    from traintriage.sources.crc32c import masked_crc32c

    n = len(data) if length is None else length
    head = struct.pack("<Q", n)
    return head + struct.pack("<I", masked_crc32c(head)) + data + struct.pack("<I", masked_crc32c(data))


DEEP_LIST_OPS = b"]" * DEEP + b"a" * (DEEP - 1)  # EMPTY_LIST x N, APPEND x (N-1): each list goes into the one below


def _binunicode(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def pickled_with(obj: Any, **subs: bytes) -> bytes:
    """``pickle.dumps(obj, protocol=2)`` with each string ``"@name@"`` in it replaced by the raw opcodes
    ``subs[name]`` (which must push one value): how deep nesting and torch records get into plain pickles."""
    data = pickle.dumps(obj, protocol=2)
    for name, ops in subs.items():
        marker = _binunicode(f"@{name}@")
        if marker not in data:
            raise ValueError(f"no @{name}@ in the pickled object")
        data = data.replace(marker, ops, 1)
    return data


def value_ops(obj: Any) -> bytes:
    """Opcodes pushing ``obj`` (its protocol-2 pickle without PROTO and STOP; memo indices from 0)."""
    return pickle.dumps(obj, protocol=2)[2:-1]


def shared_list(levels: int, leaf: Any = None) -> list:
    """A list whose every level holds the level below twice: 2**levels paths through ``levels`` objects."""
    node: Any = [leaf] if leaf is not None else []
    for _ in range(levels):
        node = [node, node]
    return node


def self_list() -> list:
    node: list = []
    node.append(node)
    return node


def tensor_ops(size: bytes = b"(K\x02t", stride: bytes = b"(K\x01t", key: bytes | None = None) -> bytes:
    """Opcodes pushing a tensor record as torch.save writes it: ``_rebuild_tensor_v2(storage, 0, size, stride,
    False)``, the storage a persistent id ``('storage', FloatStorage, key, 'cpu', 4)``."""
    pid = (b"(" + _binunicode("storage") + _global("torch", "FloatStorage") + (key or _binunicode("0"))
           + _binunicode("cpu") + b"K\x04tQ")
    return _global("torch._utils", "_rebuild_tensor_v2") + b"(" + pid + b"K\x00" + size + stride + b"\x89tR"


def _tensor_pickle(size: bytes, stride: bytes = b"(K\x01t", key: bytes | None = None) -> bytes:
    return pickled_with({"w": "@T@"}, T=tensor_ops(size, stride, key))


HUGE_INT_OPS = b"\x8b" + struct.pack("<I", 501) + b"\xff" * 500 + b"\x01"  # LONG4: a 4000-bit positive int


def _long1(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def pickle_hostile() -> list[tuple[str, bytes]]:
    return [
        ("BINBYTES8 of 2**60 bytes", b"\x80\x04\x8e" + (1 << 60).to_bytes(8, "little") + b"abc."),
        ("BINUNICODE8 of 2**60 bytes", b"\x80\x04\x8d" + (1 << 60).to_bytes(8, "little") + b"abc."),
        ("BINBYTES of 2**32-1 bytes", b"\x80\x03B\xff\xff\xff\xffabc."),
        ("FRAME of 2**60 bytes", b"\x80\x04\x95" + (1 << 60).to_bytes(8, "little") + b"N."),
        ("LONG4 of 2**31-1 bytes", b"\x80\x02\x8b\xff\xff\xff\x7f\x01."),
        ("LONG_BINPUT 0x7fffffff", b"\x80\x02Nr\xff\xff\xff\x7f."),
        ("BINGET of a missing memo", b"\x80\x02h\x07."),
        ("INT of 5000 digits", b"I" + b"9" * 5000 + b"\n."),
        ("LONG of 5000 digits", b"L" + b"9" * 5000 + b"L\n."),
        ("a 4000-bit int", b"\x80\x02" + HUGE_INT_OPS + b"."),
        ("100k nested lists", b"\x80\x02" + DEEP_LIST_OPS + b"."),
        ("100k nested dicts", b"\x80\x02}" + (_binunicode("a") + b"}") * DEEP + b"s" * DEEP + b"."),
        ("a list that contains itself", pickle.dumps(self_list(), protocol=2)),
        ("2**64-path shared list", pickle.dumps(shared_list(64), protocol=2)),
        ("EXT1 code", b"\x80\x02\x82\x01."),
        ("os.system global", b"\x80\x02" + _global("os", "system") + _binunicode("true") + b"\x85R."),
        ("BUILD onto an allowed global", b"\x80\x02" + _global("torch", "FloatStorage") + _binunicode("int8")
         + b"\x85b."),
        ("BUILD onto an allowed function", b"\x80\x02" + _global("torch._utils", "_rebuild_tensor_v3")
         + b"N}" + _binunicode("__defaults__") + b"K\x01\x85s\x86b."),
        ("tensor size as a 2**64-path shared list", _tensor_pickle(value_ops(shared_list(64)))),
        ("tensor size as a list that contains itself", _tensor_pickle(b"]q\x40h\x40a")),
        ("tensor size nested 100k deep", _tensor_pickle(DEEP_LIST_OPS)),
        ("tensor size of 2**4000", _tensor_pickle(HUGE_INT_OPS + b"\x85")),
        ("tensor of 64 dims of 2**62", _tensor_pickle(b"(" + _long1(2**62) * 64 + b"t", b"(" + b"K\x01" * 64 + b"t")),
        ("tensor of 2 dims of 2**4000", _tensor_pickle(HUGE_INT_OPS * 2 + b"\x86", b"(K\x01K\x01t")),
        ("storage key a 2**64-path shared list",
         _tensor_pickle(b"(K\x02t", key=b"]q\x40" + b"q\x400(h\x40h\x40l" * 64)),
        ("empty", b""),
        ("STOP only", b"."),
        ("random bytes", random.Random(7).randbytes(4096)),
    ]


def checkpoint_pickle_hostile() -> list[tuple[str, bytes]]:
    opt = {"state": {}, "param_groups": []}
    row = list(range(1000))
    wide = [row] * 1000
    model = {"w": "@T@"}
    return [
        *pickle_hostile(),
        ("optimizer as a 2**40-path shared list",
         pickled_with({"model": model, "optimizer": shared_list(40, opt)}, T=tensor_ops())),
        ("optimizer nested 100k deep", pickled_with({"model": model, "optimizer": "@D@"}, T=tensor_ops(),
                                                    D=DEEP_LIST_OPS)),
        ("2000 keys sharing one wide structure",
         pickled_with({"model": model, **{f"k{i}": wide for i in range(2000)}}, T=tensor_ops())),
        ("model keys sharing one wide structure",
         pickled_with({"x": model, **{k: wide for k in ("state_dict", "model", "module", "net", "weights")}},
                      T=tensor_ops())),
        ("a self-referencing state dict", pickled_with({"model": {**model, "me": self_list()}}, T=tensor_ops())),
        ("a scalar key of 2**4000", pickled_with({"model": model, "epoch": "@H@"}, T=tensor_ops(), H=HUGE_INT_OPS)),
    ]


def legacy_checkpoint(obj_pickle: bytes, keys_pickle: bytes = b"\x80\x02]q\x00X\x01\x00\x00\x000a.") -> bytes:
    """A legacy torch.save file around ``obj_pickle``: magic number, protocol, system info, the object, the
    storage keys (['0']), then storage '0' (4 float32 elements)."""
    magic = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
    return (magic + b"\x80\x02M\xe9\x03." + b"\x80\x02}q\x00X\r\x00\x00\x00little_endianq\x01\x88s."
            + obj_pickle + keys_pickle + struct.pack("<q", 4) + b"\x00" * 16)


def zip_with_pickle(seed_zip: bytes, data_pkl: bytes) -> bytes:
    """A copy of a torch zip checkpoint whose data.pkl is replaced (its storages kept)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(seed_zip)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = data_pkl if info.filename.endswith("data.pkl") else src.read(info)
            dst.writestr(info.filename, data)
    return out.getvalue()


def deep_json(depth: int = DEEP, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


# ----------------------------------------------------------------------------------------------
# Targets
# ----------------------------------------------------------------------------------------------


@dataclass
class Target:
    """One reader: the seeds it is fuzzed from, how a case is laid out on disk, and its entry points.

    ``place(case_dir, data)`` writes the case and returns the path the entry points are called with.
    ``entries`` are called on every case; ``deep_entries`` (full analyses) only in the long run.
    """

    name: str
    seeds: Callable[[], list[bytes]]
    place: Callable[[Path, bytes], Path]
    entries: list[tuple[str, Callable[[Path], Any]]]
    hostile: Callable[[], list[tuple[str, bytes]]] = list
    text: bool = False
    deep_entries: list[tuple[str, Callable[[Path], Any]]] = field(default_factory=list)


def _files(*patterns: str, base: Path = FIXTURES) -> list[Path]:
    return sorted(p for pattern in patterns for p in base.glob(pattern) if p.is_file())


def _read_all(paths: Sequence[Path]) -> list[bytes]:
    return [p.read_bytes() for p in paths]


def _write(name: str) -> Callable[[Path, bytes], Path]:
    def place(case_dir: Path, data: bytes) -> Path:
        path = case_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    return place


def _roots(path: Path) -> list[Path]:
    """The case directory as the only root, as the MCP server would confine the call."""
    for parent in path.parents:
        if parent.name.startswith("case"):
            return [parent]
    return [path.parent]


# entry points ---------------------------------------------------------------------------------


def _api(fn_name: str, **kwargs: Any) -> Callable[[Path], Any]:
    def call(path: Path) -> Any:
        from traintriage import api

        return getattr(api, fn_name)(str(path), sandbox=Sandbox.of(_roots(path)), **kwargs)

    call.__name__ = f"api.{fn_name}"
    return call


def _scan(check_crc: bool) -> Callable[[Path], Any]:
    def call(path: Path) -> Any:
        from traintriage.sources.eventfile import scan_event_file

        return scan_event_file(path, check_crc=check_crc)

    return call


def _format_loader(module: str) -> Callable[[Path], Any]:
    def call(path: Path) -> Any:
        import importlib

        fmt = importlib.import_module(f"traintriage.sources.{module}").FORMAT
        return fmt.read(path.parent, [path], Sandbox.of(_roots(path)))

    return call


def _mlflow_load(run_dir: Path) -> Any:
    from traintriage.sources import mlflow_store

    return mlflow_store.load(run_dir, [run_dir / "meta.yaml"])


def _safetensors(path: Path) -> Any:
    from traintriage.checkpoints.safetensors_reader import read_safetensors

    return read_safetensors(path)


def _checkpoint_load(path: Path) -> Any:
    from traintriage.checkpoints.loader import load

    return load(path, sandbox=Sandbox.unrestricted())


def _loads(allowed: str, stream: bool) -> Callable[[Path], Any]:
    def call(path: Path) -> Any:
        from traintriage.checkpoints.torch_reader import TORCH_GLOBALS, _storage_from_pid
        from traintriage.safe_pickle import restricted_loads

        kwargs: dict[str, Any] = {}
        if allowed == "stand-ins":  # what the checkpoint readers use: any global an inert record
            storages_: dict = {}
            kwargs = {"allowed": TORCH_GLOBALS, "persistent_load": lambda pid: _storage_from_pid(pid, storages_),
                      "stand_ins": Counter()}
        if allowed == "torch":
            storages: dict = {}
            kwargs = {"allowed": TORCH_GLOBALS, "persistent_load": lambda pid: _storage_from_pid(pid, storages)}
        if stream:
            with open(path, "rb") as fh:
                return restricted_loads(fh, max_bytes=1 << 24, **kwargs)
        return restricted_loads(path.read_bytes(), **kwargs)

    return call


def _snapshot(path: Path) -> Any:
    from traintriage.memory.snapshot import analyze_snapshot, load_snapshot

    return analyze_snapshot(load_snapshot(path), path=str(path), capacity_bytes=80 << 30)


def _trace(path: Path) -> Any:
    from traintriage.memory.trace import analyze_trace

    return analyze_trace(path, capacity_bytes=80 << 30)


# seeds ----------------------------------------------------------------------------------------


@cache
def event_seeds() -> tuple[bytes, ...]:
    files = _files("events/**/*tfevents*", "outputs/**/*tfevents*", "memory/leak_run/*tfevents*")
    files += _files("*/*tfevents*", base=CORPUS)
    return tuple(_read_all(files))


# Training checkpoints as frameworks write them: numpy values, argparse.Namespace, framework classes.
_LAYOUT_ZIPS = ("checkpoint_layouts/research.pt", "checkpoint_layouts/lightning/*.ckpt",
                "checkpoint_layouts/hf_output/checkpoint-4/training_args.bin")


def _zip_pickles() -> list[bytes]:
    out = []
    for p in _files("checkpoints/*.pt") + _files(*_LAYOUT_ZIPS):
        data = p.read_bytes()
        if data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                out.append(zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl"))))
    return out


def _plain_pickles() -> list[bytes]:
    values: list[Any] = [
        {"a": [1, 2.5, "x", b"y", (1, None)], "b": {"nested": True}, 3: -7, "big": 2**70, "neg": -(2**63)},
        [float("nan"), float("inf"), -0.0, 1e308, "é", "\udcff".encode("utf-8", "surrogatepass")],
    ]
    out = [pickle.dumps(v, protocol=proto) for v in values for proto in range(0, 6)]
    # What checkpoints hold beside the weights (stand-ins, numpy values), written as pickle writes them:
    # argparse.Namespace, numpy scalars, arrays and dtypes, a user's own class (its module never imported).
    ns = b"cargparse\nNamespace\n)\x81}(X\x02\x00\x00\x00lrG?\x1a6\xe2\xeb\x1cC-ub"
    np_scalar = (b"cnumpy._core.multiarray\nscalar\ncnumpy\ndtype\nX\x02\x00\x00\x00f8\x89\x88\x87R(K\x03X\x01"
                 b"\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tbC\x08\x00\x00\x00\x00\x00\x00\xe0?\x86R")
    user = b"cmy_project_zz.cfg\nConfig\n)\x81}(X\x05\x00\x00\x00layerK\x0cubN\x86"
    out += [b"\x80\x03}(X\x04\x00\x00\x00argsq\x00" + ns + b"X\x03\x00\x00\x00acc" + np_scalar
            + b"X\x03\x00\x00\x00cfg" + user + b"u."]
    return out


def pickle_seeds() -> list[bytes]:
    return (_zip_pickles() + _read_all(_files("memory/snapshot.pickle")) + _plain_pickles()
            + _read_all(_files("checkpoint_layouts/dcp/.metadata")))


def _zip_seeds() -> list[bytes]:
    return [d for d in _read_all(_files("checkpoints/*.pt") + _files(*_LAYOUT_ZIPS)) if d[:2] == b"PK"]


def _trace_texts() -> list[bytes]:
    return [gzip.decompress(d) for d in _read_all(_files("memory/*.pt.trace.json.gz"))]


def _hf_configs() -> list[bytes]:
    gpt2 = {"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12,
            "n_head": 12, "torch_dtype": "float32", "architectures": ["GPT2LMHeadModel"]}
    llama = {"model_type": "llama", "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
             "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
             "torch_dtype": "float16", "tie_word_embeddings": False}
    bert = {"model_type": "bert", "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
            "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2}
    return [json.dumps(c, indent=2).encode() for c in (gpt2, llama, bert)]


# layouts for multi-file formats --------------------------------------------------------------

_MLRUN = FIXTURES / "formats" / "mlruns" / "1" / "3f1a2b4c5d6e4f708192a3b4c5d6e7f8"


def _place_mlflow_metric(case_dir: Path, data: bytes) -> Path:
    run = case_dir / "mlruns" / "1" / _MLRUN.name
    shutil.copytree(_MLRUN, run)
    (run / "metrics" / "loss").write_bytes(data)
    return run


def _place_mlflow_meta(case_dir: Path, data: bytes) -> Path:
    run = case_dir / "mlruns" / "1" / _MLRUN.name
    shutil.copytree(_MLRUN, run)
    (run / "meta.yaml").write_bytes(data)
    return run


_HF = FIXTURES / "formats" / "hf_trainer"


def _place_training_args(case_dir: Path, data: bytes) -> Path:
    run = case_dir / "run"
    run.mkdir(parents=True)
    shutil.copy(_HF / "checkpoint-120" / "trainer_state.json", run / "trainer_state.json")
    (run / "training_args.json").write_bytes(data)
    return run / "trainer_state.json"


def _place_torch_pickle(case_dir: Path, data: bytes) -> Path:
    path = case_dir / "model.pt"
    path.write_bytes(zip_with_pickle(_zip_seeds()[0], data))
    return path


_SHARDED = FIXTURES / "checkpoints" / "sharded"
_DCP = FIXTURES / "checkpoint_layouts" / "dcp"


def _place_dcp_metadata(case_dir: Path, data: bytes) -> Path:
    """A torch.distributed.checkpoint directory: the case as its .metadata, beside the real .distcp file."""
    ckpt = case_dir / "dcp"
    ckpt.mkdir(parents=True)
    for shard in _DCP.glob("*.distcp"):
        shutil.copy(shard, ckpt / shard.name)
    (ckpt / ".metadata").write_bytes(data)
    return ckpt


def _dcp_count(path: Path) -> Any:
    from traintriage import api

    return api.count_parameters(str(path), sandbox=Sandbox.of(_roots(path)), scan_values=True)


def _place_index(case_dir: Path, data: bytes) -> Path:
    for shard in _SHARDED.glob("*.safetensors"):
        shutil.copy(shard, case_dir / shard.name)
    path = case_dir / "model.safetensors.index.json"
    path.write_bytes(data)
    return path


def _place_trace_gz(case_dir: Path, data: bytes) -> Path:
    path = case_dir / "run.pt.trace.json.gz"
    path.write_bytes(data)
    return path


# hostile cases per target ---------------------------------------------------------------------


def event_hostile() -> list[tuple[str, bytes]]:
    good = event_seeds()[0]
    first_len = struct.unpack_from("<Q", good)[0]
    first = good[: 16 + first_len]
    return [
        ("length 2**60 with a valid length CRC", tfrecord(b"x" * 64, length=1 << 60)),
        ("length 2**64-1 with a valid length CRC", tfrecord(b"x" * 64, length=(1 << 64) - 1)),
        ("a good record, then a 2**60 length", first + tfrecord(b"x" * 64, length=1 << 60)),
        ("length 2**60, CRC unchecked", struct.pack("<QI", 1 << 60, 0) + b"x" * 64),
        ("1 MiB of zeros", bytes(1 << 20)),
        ("1 MiB of 0xff", b"\xff" * (1 << 20)),
        ("a good record repeated 20000 times", first * 20000),
        ("an Event of nested length-delimited fields", tfrecord(b"\x2a\x05" * 5000)),
        ("an Event with a 10-byte varint step", tfrecord(b"\x10" + b"\xff" * 9 + b"\x01")),
        ("an Event with an 11-byte varint", tfrecord(b"\x10" + b"\xff" * 10 + b"\x01")),
        ("a summary value with a 1 MiB tag", tfrecord(b"\x2a\x8a\x80\x40\x0a\x85\x80\x40\x0a\x80\x80\x40"
                                                       + b"t" * (1 << 20) + b"\x15\x00\x00\x80\x3f")),
        ("random bytes", random.Random(1).randbytes(1 << 16)),
    ]


def safetensors_hostile() -> list[tuple[str, bytes]]:
    def st_file(header: str | bytes, data: bytes = b"", length: int | None = None) -> bytes:
        raw = header.encode() if isinstance(header, str) else header
        return struct.pack("<Q", len(raw) if length is None else length) + raw + data

    return [
        ("header length 2**60", st_file("{}", length=1 << 60)),
        ("header length 2**64-1", st_file("{}", length=(1 << 64) - 1)),
        ("header length one past the end", st_file("{}", length=3)),
        ("header of 100k nested lists", st_file('{"a": ' + deep_json() + "}")),
        ("header of 100k nested objects", st_file('{"a": ' + deep_json(opener='{"a":', closer="}")[:-1] + "1}}")),
        ("5000-digit data offset", st_file('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, '
                                           + "9" * 5000 + "]}}", b"\0" * 4)),
        ("shape of 2**62 x 2**62", st_file('{"w": {"dtype": "F32", "shape": [4611686018427387904, '
                                           '4611686018427387904], "data_offsets": [0, 4]}}', b"\0" * 4)),
        ("offsets of 1e999", st_file('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 1e999]}}')),
        ("invalid UTF-8 in the header", st_file(b'{"w\xff\xfe": {"dtype": "F32"}}')),
        ("header is a list", st_file("[1, 2]")),
        ("header is a number", st_file("1e999")),
        ("negative offsets", st_file('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}', b"\0" * 4)),
        ("metadata 100k nested", st_file('{"__metadata__": ' + deep_json() + "}")),
        ("metadata with huge values", st_file('{"__metadata__": {"a": "' + "x" * (1 << 20) + '"}, "w": {"dtype": '
                                              '"F32", "shape": [1], "data_offsets": [0, 4]}}', b"\0" * 4)),
        ("100k tensors", st_file("{" + ",".join(f'"t{i}": {{"dtype": "U8", "shape": [1], "data_offsets": '
                                               f"[{i}, {i + 1}]}}" for i in range(100_000)) + "}",
                                 b"\0" * 100_000)),
    ]


def trace_hostile() -> list[tuple[str, bytes]]:
    mem = '{"ph": "i", "name": "[memory]", "pid": 1, "tid": 1, "ts": %s, "args": {"Bytes": %s, ' \
          '"Total Allocated": %s, "Total Reserved": 0, "Device Type": %s, "Device Id": 0, "Addr": %s}}'

    def trace(*events: str, extra: str = "") -> bytes:
        return ('{"schemaVersion": 1, "profile_memory": 1' + extra + ', "traceEvents": ['
                + ", ".join(events) + "]}").encode()

    ok = mem % (1, 512, 512, 1, 1)
    return [
        ("100k nested lists as an event", trace(ok, deep_json())),
        ("100k nested objects as an event", trace(ok, deep_json(opener='{"a":', closer="}")[:-1] + "1}")),
        ("100k nested lists in the header", trace(ok, extra=', "x": ' + deep_json())),
        ("100k nested lists as the whole file", deep_json().encode()),
        ("ts of 1e999", trace(mem % ("1e999", 1, 1, 1, 1), ok)),
        ("Bytes of 1e999", trace(mem % (2, "1e999", 1, 1, 1), ok)),
        ("Bytes of 1e300", trace(mem % (2, "1e300", "1e300", 1, 1), ok)),
        ("Addr of 2**70", trace(mem % (2, 1, 1, 1, 2**70), ok)),
        ("Device Type of -1e999", trace(mem % (2, 1, 1, "-1e999", 1), ok)),
        ("5000-digit Bytes", trace(mem % (2, "9" * 5000, 1, 1, 1), ok)),
        ("ProfilerStep#<5000 digits>", trace(ok, '{"ph": "X", "cat": "user_annotation", "name": "ProfilerStep#'
                                             + "9" * 5000 + '", "ts": 0, "dur": 10}')),
        ("an op of ts NaN", trace(ok, '{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": NaN, "dur": 1e999}')),
        ("OOM event with ts of 1e999", trace(ok, '{"name": "[OutOfMemory]", "ts": 1e999, "args": {"Bytes": 1e999}}')),
        ("OOM event with ts a string", trace(ok, '{"name": "[OutOfMemory]", "ts": "x", "args": {"Bytes": "y"}}')),
        ("invalid UTF-8", trace(ok).replace(b'"pid"', b'"p\xff\xfeid"')),
        ("an unterminated 16 MiB string", b'{"traceEvents": [{"name": "' + b"x" * (16 << 20)),
        ("gzip magic then garbage", b"\x1f\x8b" + random.Random(3).randbytes(4096)),
    ]


def snapshot_hostile() -> list[tuple[str, bytes]]:
    def snap(obj: Any) -> bytes:
        return pickle.dumps(obj, protocol=4)

    block = {"size": 512, "state": "active_allocated", "address": 0,
             "frames": [{"filename": "t.py", "line": 1, "name": "f"}]}
    seg = {"device": 0, "address": 0, "total_size": 1 << 21, "allocated_size": 512, "active_size": 512,
           "segment_type": "small", "blocks": [block]}
    return [
        ("segment sizes of 2**4000", snap({"segments": [{**seg, "total_size": 2**4000, "allocated_size": 2**4000}],
                                            "device_traces": []})),
        ("a 4000-bit device number", pickled_with({"segments": [{**seg, "device": "@H@"}]}, H=HUGE_INT_OPS)),
        ("a 4000-bit block size", pickled_with({"segments": [{**seg, "blocks": [{**block, "size": "@H@"}]}],
                                                "device_traces": [[{"action": "alloc", "size": "@G@"}]]},
                                               H=HUGE_INT_OPS, G=HUGE_INT_OPS)),
        ("negative sizes", snap({"segments": [{**seg, "total_size": -(1 << 40)}], "device_traces": [[
            {"action": "alloc", "size": -(1 << 62), "addr": 1}]]})),
        ("frames nested 100k deep", pickled_with({"segments": [{**seg, "blocks": [{**block, "frames": "@D@"}]}]},
                                                 D=DEEP_LIST_OPS)),
        ("a frame name nested 100k deep", pickled_with({"segments": [{**seg, "blocks": [{**block, "frames": [
            {"filename": "a.py", "line": 1, "name": "@D@"}]}]}]}, D=DEEP_LIST_OPS)),
        ("device_traces of a 2**64-path shared list", pickle.dumps({"segments": [seg], "device_traces":
                                                                    shared_list(64)}, protocol=2)),
        ("a frame name that is a 2**64-path shared list", pickle.dumps({"segments": [{**seg, "blocks": [
            {**block, "frames": [{"filename": "a.py", "line": 1, "name": shared_list(64)}]}]}]}, protocol=2)),
        ("a segment that contains itself", pickle.dumps({"segments": self_list()}, protocol=2)),
        ("a history of 200k entries", snap({"segments": [seg], "device_traces": [
            [{"action": "alloc", "size": 512, "addr": i} for i in range(200_000)]]})),
        ("segments is a dict", snap({"segments": {"a": 1}})),
        ("os.system global", b"\x80\x02" + _global("os", "system") + _binunicode("true") + b"\x85R."),
    ]


def _json_record_hostile(make: Callable[[str], str]) -> list[tuple[str, bytes]]:
    """Hostile values placed where a step or a metric value goes, for the JSON-based logs."""
    values = {
        "1e999": "1e999", "-1e999": "-1e999", "1e300": "1e300", "NaN": "NaN", "Infinity": "Infinity",
        "2**70": str(2**70), "-2**70": str(-(2**70)), "10**400": str(10**400), "5000 digits": "9" * 5000,
        "100k nested lists": deep_json(), "100k nested objects": deep_json(opener='{"a":', closer="}")[:-1] + "1}",
        "a 1 MiB string": '"' + "x" * (1 << 20) + '"',
    }
    return [(f"{where} = {label}", make_case.encode()) for label, v in values.items()
            for where, make_case in (("step", make(f'"step": {v}, "loss": 1.0')),
                                     ("value", make(f'"step": 3, "loss": {v}')))]


def trainer_state_hostile() -> list[tuple[str, bytes]]:
    def make(fields: str) -> str:
        return ('{"global_step": 3, "log_history": [{"step": 1, "loss": 2.0}, {' + fields + "}]}")

    return [*_json_record_hostile(make),
            ("the whole file 100k nested", deep_json().encode()),
            ("global_step of 10**400", b'{"global_step": ' + str(10**400).encode() + b', "log_history": []}'),
            ("invalid UTF-8", b'{"log_history": [{"step": 1, "lo\xff\xfess": 2.0}]}'),
            ("a UTF-16 file", '{"log_history": [{"step": 1, "loss": 2.0}]}'.encode("utf-16"))]


def jsonl_hostile() -> list[tuple[str, bytes]]:
    def make(fields: str) -> str:
        return '{"step": 1, "loss": 2.0}\n{' + fields + "}\n"

    return [*_json_record_hostile(make),
            ("a 100k-deep nested record", ('{"step": 1, "a": ' + deep_json(opener='{"a":', closer="}")[:-1]
                                           + "1}}\n").encode()),
            ("invalid UTF-8", b'{"step": 1, "lo\xff\xfess": 2.0}\n'),
            ("a 64 MiB line without newline", b'{"step": 1, "loss": "' + b"x" * (64 << 20))]


def csv_hostile() -> list[tuple[str, bytes]]:
    return [
        ("step of 1e300", b"step,loss\n1,2.0\n1e300,1.0\n"),
        ("step of 30 digits", b"step,loss\n1,2.0\n" + b"9" * 30 + b",1.0\n"),
        ("step of 5000 digits", b"step,loss\n1,2.0\n" + b"9" * 5000 + b",1.0\n"),
        ("step of -2**70", b"step,loss\n1,2.0\n" + str(-(2**70)).encode() + b",1.0\n"),
        ("value of 10**400", b"step,loss\n1,2.0\n2," + str(10**400).encode() + b"\n"),
        ("epoch column of 1e300", b"epoch,loss\n1e300,1.0\n"),
        ("wall time of 1e999", b"step,loss,wall_time\n1,2.0,1e999\n"),
        ("a 1 MiB field", b"step,loss\n1," + b"9" * (1 << 20) + b"\n"),
        ("an unterminated quote", b'step,loss\n1,"2.0\n' + b"x" * 100_000),
        ("NUL bytes", b"step,loss\n1,2\x00.0\n"),
        ("invalid UTF-8", b"step,lo\xff\xfess\n1,2.0\n"),
        ("100k columns", b",".join(b"c%d" % i for i in range(100_000)) + b",step\n" + b"1," * 100_000 + b"1\n"),
    ]


def textlog_hostile() -> list[tuple[str, bytes]]:
    return [
        ("HF dict, 100k nested", b"{'loss': " + b"[" * DEEP + b"]" * DEEP + b"}\n"),
        ("HF dict, deep but short", b"{'loss': " + b"[" * 5000 + b"]" * 5000 + b"}\n"),
        ("HF dict, step of 1e999", b"{'loss': 1.0, 'step': 1e999}\n"),
        ("HF dict, step of 10**400", b"{'loss': 1.0, 'step': " + str(10**400).encode() + b"}\n"),
        ("HF dict, step of 2**70", b"{'loss': 1.0, 'step': " + str(2**70).encode() + b"}\n"),
        ("HF dict, loss of 10**400", b"{'loss': " + str(10**400).encode() + b", 'epoch': 1.0}\n"),
        ("key:value, step of 30 digits", b"step:" + b"9" * 30 + b" loss:1.0\n"),
        ("key:value, step of 5000 digits", b"step:" + b"9" * 5000 + b" loss:1.0\n"),
        ("Step word of 30 digits", b"Step " + b"9" * 30 + b" loss: 1.0\n"),
        ("PyTorch table, 5000-digit epoch", b"| epoch " + b"9" * 5000 + b" |   200/ 2983 batches | loss  7.64 |\n"),
        ("PyTorch table, 30-digit batches", b"| epoch 1 | " + b"9" * 30 + b"/ " + b"9" * 30
         + b" batches | loss  7.64 |\n"),
        ("PyTorch end, 30-digit epoch", b"| epoch 1 | 1/ 2 batches | loss 1 |\n| end of epoch " + b"9" * 30
         + b" | valid loss 5.84 |\n"),
        ("Keras epoch of 5000 digits", b"Epoch " + b"9" * 5000 + b"/10\n - loss: 0.4\n"),
        ("Keras epoch of 30 digits", b"Epoch " + b"9" * 30 + b"/10\n - loss: 0.4\n"),
        ("tqdm count of 5000 digits", b"50%|##| " + b"9" * 5000 + b"/10 [00:01<00:01, loss=0.1]\n"),
        ("tqdm count of 30 digits", b"50%|##| " + b"9" * 30 + b"/" + b"9" * 30 + b" [00:01<00:01, loss=0.1]\n"),
        ("a 64 MiB line", b"step:1 loss:" + b"9" * (64 << 20) + b"\n"),
        ("invalid UTF-8", b"step:1 lo\xff\xfess:1.0\n"),
        ("NUL bytes", b"step:1\x00 loss:1.0\n"),
        ("CSV header then a 1e300 step", b"step,loss\n1e300,1.0\n"),
    ]


def mlflow_metric_hostile() -> list[tuple[str, bytes]]:
    return [
        ("step of 1e300", b"1700000000000 1.0 1e300\n"),
        ("step of 30 digits", b"1700000000000 1.0 " + b"9" * 30 + b"\n"),
        ("step of 5000 digits", b"1700000000000 1.0 " + b"9" * 5000 + b"\n"),
        ("timestamp of 1e999", b"1e999 1.0 1\n"),
        ("value of 10**400", b"1700000000000 " + str(10**400).encode() + b" 1\n"),
        ("no step, 2 fields", b"1 2\n" * 1000),
        ("invalid UTF-8", b"17000 1.\xff\xfe0 1\n"),
        ("a 64 MiB line", b"1 " + b"9" * (64 << 20) + b" 1\n"),
    ]


def mlflow_meta_hostile() -> list[tuple[str, bytes]]:
    return [
        ("start_time of 5000 digits", b"start_time: " + b"9" * 5000 + b"\nrun_id: x\n"),
        ("start_time of 1e999", b"start_time: 1e999\n"),
        ("invalid UTF-8", b"run_\xff\xfeid: x\n"),
        ("a 64 MiB line", b"run_id: " + b"x" * (64 << 20) + b"\n"),
    ]


def hf_config_hostile() -> list[tuple[str, bytes]]:
    base = json.loads(_hf_configs()[1])
    return [
        ("10**9 layers", json.dumps({**base, "num_hidden_layers": 10**9}).encode()),
        ("10**18 hidden size", json.dumps({**base, "hidden_size": 10**18}).encode()),
        ("10**400 vocab", json.dumps({**base, "vocab_size": 10**400}).encode()),
        ("5000-digit vocab", json.dumps(base).replace('"vocab_size": 32000', '"vocab_size": ' + "9" * 5000)
         .encode()),
        ("100k nested", deep_json().encode()),
        ("gpt2 with 10**9 layers", json.dumps({**json.loads(_hf_configs()[0]), "n_layer": 10**9}).encode()),
        ("bert with 10**9 layers", json.dumps({**json.loads(_hf_configs()[2]), "num_hidden_layers": 10**9})
         .encode()),
        ("invalid UTF-8", b'{"model_type": "ll\xff\xfeama"}'),
    ]


def index_hostile() -> list[tuple[str, bytes]]:
    shard = "model-00001-of-00002.safetensors"
    return [
        ("100k nested", deep_json().encode()),
        ("a shard named with NUL", json.dumps({"weight_map": {"w": "a\x00b.safetensors"}}).encode()),
        ("a shard outside the directory", json.dumps({"weight_map": {"w": "../../etc/passwd"}}).encode()),
        ("an absolute shard", json.dumps({"weight_map": {"w": "/etc/passwd"}}).encode()),
        ("a 5000-char shard name", json.dumps({"weight_map": {"w": "x" * 5000}}).encode()),
        ("a shard named ~root", json.dumps({"weight_map": {"w": "~root"}}).encode()),
        ("1M entries on one shard", json.dumps({"weight_map": {f"w{i}": shard for i in range(1_000_000)}}).encode()),
        ("a 5000-digit number", b'{"metadata": {"total_size": ' + b"9" * 5000 + b'}, "weight_map": {"w": "'
         + shard.encode() + b'"}}'),
    ]


def _text_seeds(*patterns: str) -> Callable[[], list[bytes]]:
    return lambda: _read_all(_files(*patterns))


DESCRIBE = ("api.describe_run", _api("describe_run"))  # load + summary, sent as JSON
DEEP_RUN_ENTRIES = [("api.correlate", _api("correlate"))]

TARGETS: list[Target] = [
    Target("tfrecord/event", lambda: list(event_seeds()), _write("events.out.tfevents.1.fuzz"),
           [("scan_event_file", _scan(True)), ("scan_event_file(check_crc=False)", _scan(False)),
            DESCRIBE], event_hostile, deep_entries=DEEP_RUN_ENTRIES),
    Target("trainer_state.json", _text_seeds("formats/hf_trainer/*/trainer_state.json"),
           _write("run/trainer_state.json"),
           [("trainer_state.load", _format_loader("trainer_state")), DESCRIBE],
           trainer_state_hostile, text=True, deep_entries=DEEP_RUN_ENTRIES),
    Target("training_args.json", _text_seeds("formats/hf_trainer/training_args.json"), _place_training_args,
           [("trainer_state.load", _format_loader("trainer_state")), DESCRIBE],
           lambda: [("100k nested", deep_json().encode()), ("max_grad_norm of 10**400",
                                                            b'{"max_grad_norm": ' + str(10**400).encode() + b"}")],
           text=True),
    Target("csv", _text_seeds("formats/*/*.csv", "formats/lightning/**/metrics.csv"), _write("metrics.csv"),
           [("csvlog.load", _format_loader("csvlog")), DESCRIBE], csv_hostile, text=True,
           deep_entries=DEEP_RUN_ENTRIES),
    Target("jsonl", _text_seeds("formats/*/*.jsonl", "formats/detectron2_json/**/*.json", "formats/mmdet2/**/*.json",
                                "formats/mmengine/**/*.json", "formats/llama_factory/**/*.jsonl"),
           _write("metrics.jsonl"),
           [("jsonl.load", _format_loader("jsonl")), DESCRIBE], jsonl_hostile, text=True,
           deep_entries=DEEP_RUN_ENTRIES),
    Target("json history", _text_seeds("formats/jsondoc/*/*"), _write("history.json"),
           [("jsondoc.load", _format_loader("jsondoc")), DESCRIBE],
           lambda: [("100k nested", deep_json().encode()),
                    ("a loss of 10**400", b'{"loss": [1.0, ' + str(10**400).encode() + b"]}"),
                    ("python literal, 100k nested", b"{'loss': " + b"[" * 100_000 + b"]" * 100_000 + b"}")],
           text=True, deep_entries=DEEP_RUN_ENTRIES),
    Target("yolo results.txt", _text_seeds("formats/yolo/yolov5_txt/*"), _write("results.txt"),
           [("yolo_results.load", _format_loader("yolo_results")), DESCRIBE], text=True,
           deep_entries=DEEP_RUN_ENTRIES),
    Target("text log", _text_seeds("formats/textlogs/*/*", "formats/textlogs/**/*.log", "formats/textlogs/**/*.txt",
                                   "formats/textlogs/**/*.md"), _write("train.log"),
           [("textlog.load", _format_loader("textlog")), DESCRIBE], textlog_hostile, text=True,
           deep_entries=DEEP_RUN_ENTRIES),
    Target("mlflow metric", _text_seeds("formats/mlruns/1/*/metrics/loss"), _place_mlflow_metric,
           [("mlflow_store.load", _mlflow_load), DESCRIBE], mlflow_metric_hostile, text=True,
           deep_entries=DEEP_RUN_ENTRIES),
    Target("mlflow meta.yaml", _text_seeds("formats/mlruns/1/*/meta.yaml"), _place_mlflow_meta,
           [("mlflow_store.load", _mlflow_load), DESCRIBE], mlflow_meta_hostile, text=True),
    Target("safetensors", _text_seeds("checkpoints/*.safetensors", "checkpoints/sharded/*.safetensors"),
           _write("model.safetensors"),
           [("read_safetensors", _safetensors), ("api.count_parameters", _api("count_parameters"))],
           safetensors_hostile),
    Target("torch zip", _zip_seeds, _write("model.pt"),
           [("checkpoints.loader.load", _checkpoint_load), ("api.count_parameters", _api("count_parameters"))]),
    Target("torch zip data.pkl", _zip_pickles, _place_torch_pickle,
           [("checkpoints.loader.load", _checkpoint_load), ("api.count_parameters", _api("count_parameters"))],
           checkpoint_pickle_hostile),
    Target("torch legacy", _text_seeds("checkpoints/mlp_legacy.pt"), _write("model.pt"),
           [("checkpoints.loader.load", _checkpoint_load), ("api.count_parameters", _api("count_parameters"))],
           lambda: [(n, legacy_checkpoint(d)) for n, d in checkpoint_pickle_hostile()]),
    Target("restricted unpickler", pickle_seeds, _write("blob.pkl"),
           [("restricted_loads", _loads("none", False)), ("restricted_loads(torch globals)", _loads("torch", False)),
            ("restricted_loads(file stream)", _loads("none", True)),
            ("restricted_loads(stand-ins)", _loads("stand-ins", False))], pickle_hostile),
    Target("cuda snapshot", _text_seeds("memory/snapshot.pickle"), _write("snapshot.pickle"),
           [("analyze_snapshot(load_snapshot)", _snapshot), ("api.profile_memory", _api("profile_memory"))],
           snapshot_hostile),
    Target("profiler trace", _trace_texts, _write("run.pt.trace.json"),
           [("analyze_trace", _trace), ("api.profile_memory", _api("profile_memory"))], trace_hostile, text=True),
    Target("profiler trace .gz", _text_seeds("memory/*.pt.trace.json.gz"), _place_trace_gz,
           [("analyze_trace", _trace), ("api.profile_memory", _api("profile_memory"))]),
    Target("hf config.json", _hf_configs, _write("config.json"),
           [("api.count_parameters", _api("count_parameters"))], hf_config_hostile, text=True),
    Target("shard index.json", _text_seeds("checkpoints/sharded/*.index.json"), _place_index,
           [("api.count_parameters", _api("count_parameters"))], index_hostile, text=True),
    Target("dcp .metadata", _text_seeds("checkpoint_layouts/dcp/.metadata"), _place_dcp_metadata,
           [("checkpoints.loader.load", _checkpoint_load), ("api.count_parameters(scan)", _dcp_count)],
           pickle_hostile),
]

TARGETS_BY_NAME = {t.name: t for t in TARGETS}


# ----------------------------------------------------------------------------------------------
# Running cases
# ----------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Outcomes per target: counts and the first few crashes (with what made them)."""

    cases: int = 0
    calls: dict[str, int] = field(default_factory=lambda: {RESULT: 0, ERROR: 0, CRASH: 0})
    crashes: list[str] = field(default_factory=list)
    peak_growth_mb: float = 0.0  # the largest rise of the process's peak RSS during one case
    peak_case: str = ""

    def add(self, outcome: str, detail: str, what: str) -> None:
        self.calls[outcome] += 1
        if outcome == CRASH and len(self.crashes) < 20:
            self.crashes.append(f"{what}\n{detail}")


_CASE_IDS = itertools.count()


def run_case(target: Target, data: bytes, workdir: Path, what: str, tally: Tally, *, time_limit: float = 30.0,
             deep: bool = False) -> None:
    """Lay out one case in a fresh directory under ``workdir``, call every entry point, record the outcomes."""
    tally.cases += 1
    case_dir = workdir / f"case{next(_CASE_IDS)}_{os.getpid()}"
    case_dir.mkdir(parents=True)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        arg = target.place(case_dir, data)
        for name, fn in target.entries + (target.deep_entries if deep else []):
            outcome, detail = run_entry(fn, arg, time_limit)
            tally.add(outcome, detail, f"[{target.name}] {name} on {what}")
    finally:
        shutil.rmtree(case_dir, ignore_errors=True)
        clear_caches()
        growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
        if growth > tally.peak_growth_mb:
            tally.peak_growth_mb, tally.peak_case = growth, what
