"""Runs that are still being written: a real writer process (tensorboard's EventFileWriter) appends and
flushes while the run is read again and again, through the library API and through the server. Every read
must be a consistent prefix of the final series (nothing lost, nothing counted twice, values exact); a new
event file in the directory (rotation), a file replaced under the same name, truncated, or rewritten in
place must each be noticed."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import anyio
import numpy as np
import pytest
from serverproc import stdio_client

from traintriage import api
from traintriage.errors import InputError
from traintriage.sandbox import Sandbox

pytestmark = pytest.mark.anyio

STEPS = 2500
ROTATE_AT = 1500

WRITER = """
import os, sys, time
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter

logdir, steps, rotate_at, offset = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
gates = sys.argv[5] if len(sys.argv) > 5 else None


def wait_for(name):
    # Hand-shake with the reading test (if it asked for one): wait until it has seen this phase, so a
    # loaded machine cannot let the writer finish before the reader saw the run grow. 60 s at most.
    deadline = time.monotonic() + 60
    while gates and not os.path.exists(os.path.join(gates, name)) and time.monotonic() < deadline:
        time.sleep(0.005)


writer = EventFileWriter(logdir)
for step in range(steps):
    if step == rotate_at:  # the job restarts: a new event file in the same directory
        wait_for("rotate")
        writer.close()
        time.sleep(0.01)
        writer = EventFileWriter(logdir, filename_suffix=".restarted")
    for tag, value in (("loss", offset + 1.0 + 0.25 * step), ("lr", 0.5 * step)):
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
        writer.add_event(Event(wall_time=1.7e9 + step, step=step, summary=summary))
    if step % 5 == 0:
        writer.flush()
        time.sleep(0.002)
    if step == steps - 2:
        wait_for("finish")
writer.close()
"""


def _expected(tag: str, steps: np.ndarray, offset: float = 0.0) -> np.ndarray:
    values = offset + 1.0 + 0.25 * steps if tag == "loss" else 0.5 * steps
    return values.astype(np.float32).astype(np.float64)  # simple_value is a float32


def _write(
    logdir: Path, steps: int, rotate_at: int, offset: float = 0.0, gates: Path | None = None
) -> subprocess.Popen:
    """Start the writer; with ``gates``, it pauses before the restart until ``gates/rotate`` exists and before
    its last step until ``gates/finish`` exists."""
    args = [str(logdir), str(steps), str(rotate_at), str(offset)] + ([str(gates)] if gates else [])
    return subprocess.Popen([sys.executable, "-c", WRITER, *args])


def _check_prefix_api(run: Path, seen: dict[str, int]) -> bool:
    """One read through the library: each series is steps 0..k-1 with the final values, never shorter than
    a previous read, no step twice; ``seen`` keeps the lengths of the previous read. False when the run
    holds no scalar yet (the writer has written only the event file's header), as the server says too."""
    try:
        data = api.load(run, sandbox=Sandbox.unrestricted())
    except InputError as err:  # the first instants: the event file holds its header, no scalar yet
        assert "no scalar series" in err.message and not seen, err.message
        return False
    assert not any("more than once" in w or "CRC" in w or "replaced" in w for w in data.warnings), data.warnings
    lengths = {}
    for tag in ("loss", "lr"):
        s = data.series.get(tag)
        n = 0 if s is None else len(s)
        if n:
            np.testing.assert_array_equal(s.steps, np.arange(n))
            np.testing.assert_array_equal(s.values, _expected(tag, s.steps))
        assert n >= seen.get(tag, 0), f"{tag}: {n} points after {seen.get(tag)}: points were lost"
        lengths[tag] = n
    # loss and lr are logged one after the other each step: a read may fall between them, no further.
    assert lengths["loss"] - 1 <= lengths["lr"] <= lengths["loss"]
    seen.update(lengths)
    return True


def _check_prefix_server(described: dict, seen: dict[str, int]) -> None:
    assert not any("more than once" in w or "CRC" in w for w in described["warnings"]), described["warnings"]
    for s in described["series"]:
        n = s["points"]
        assert s["first_step"] == 0 and s["last_step"] == n - 1  # contiguous from 0: a prefix
        assert s["last"] == float(_expected(s["name"], np.array([n - 1]))[0])
        assert n >= seen.get(s["name"], 0)
        seen[s["name"]] = n


async def test_reads_while_a_writer_appends_are_consistent_prefixes_and_changes_are_noticed(tmp_path: Path) -> None:
    run = tmp_path / "live_run"
    run.mkdir()
    async with stdio_client("--root", str(tmp_path)) as client:
        gates = tmp_path / "gates"
        gates.mkdir()
        writer = _write(run, STEPS, ROTATE_AT, gates=gates)
        api_seen: dict[str, int] = {}
        server_seen: dict[str, int] = {}
        api_lengths, server_lengths = set(), set()
        try:
            while writer.poll() is None:
                if any(run.iterdir()):
                    if await anyio.to_thread.run_sync(_check_prefix_api, run, api_seen):
                        api_lengths.add(api_seen["loss"])
                    result = await client.call_tool("describe_run", {"run": str(run)})
                    if not result.is_error:  # the first instants: no scalar written yet
                        _check_prefix_server(result.structured_content, server_seen)
                        server_lengths.add(server_seen["loss"])
                # Let the writer restart once both readers saw the first file grow, and finish once they
                # saw the second one grow too.
                if min(len(api_lengths), len(server_lengths)) >= 3:
                    (gates / "rotate").touch()
                if sum(n > ROTATE_AT for n in api_lengths) >= 2 and sum(n > ROTATE_AT for n in server_lengths) >= 2:
                    (gates / "finish").touch()
                await anyio.sleep(0.005)
        finally:
            if writer.poll() is None:
                writer.kill()
        assert writer.wait() == 0
        # The reads really saw the run grow (several states, before and after the restart).
        assert len(api_lengths) >= 5 and len(server_lengths) >= 5, (api_lengths, server_lengths)
        assert min(api_lengths) < ROTATE_AT < max(api_lengths)  # read before the restart and after it

        # The finished run: everything, once, from both files.
        files = [p.name for p in run.iterdir()]
        assert len(files) == 2 and sum(f.endswith(".restarted") for f in files) == 1
        await anyio.to_thread.run_sync(_check_prefix_api, run, api_seen)
        assert api_seen == {"loss": STEPS, "lr": STEPS}
        final = (await client.call_tool("describe_run", {"run": str(run)})).structured_content
        _check_prefix_server(final, server_seen)
        assert server_seen == {"loss": STEPS, "lr": STEPS}

        first, second = sorted(run.iterdir(), key=lambda p: p.name.endswith(".restarted"))

        # Replaced: the restarted file swapped for another under the same name (a new inode).
        other_dir = tmp_path / "other"
        other_dir.mkdir()
        assert _write(other_dir, STEPS, STEPS, offset=100.0).wait() == 0
        other_file = next(other_dir.iterdir())
        other = _records(other_file.read_bytes())
        os.replace(other_file, second)
        data = api.load(run, sandbox=Sandbox.unrestricted())
        assert any("replaced or shrank" in w for w in data.warnings)
        loss = data.series["loss"]
        np.testing.assert_array_equal(loss.steps, np.arange(STEPS))
        np.testing.assert_array_equal(loss.values[ROTATE_AT:], _expected("loss", loss.steps[ROTATE_AT:], 100.0))
        described = (await client.call_tool("describe_run", {"run": str(run)})).structured_content
        loss_summary = next(s for s in described["series"] if s["name"] == "loss")
        assert loss_summary["last"] == float(_expected("loss", np.array([STEPS - 1]), 100.0)[0])

        # Truncated in place (same inode): the file shrank, and the read says so and shows what is left.
        records = _records(first.read_bytes())
        keep = records[: 1 + 2 * 400]  # the file-version record, then steps 0..399 (loss, lr)
        with open(first, "r+b") as f:
            f.truncate(sum(len(r) for r in keep))
        data = api.load(first, sandbox=Sandbox.unrestricted())  # the file alone (the replaced one repeats its steps)
        assert any("replaced or shrank" in w for w in data.warnings)
        loss = data.series["loss"]
        np.testing.assert_array_equal(loss.steps, np.arange(400))
        np.testing.assert_array_equal(loss.values, _expected("loss", loss.steps))

        # Rewritten in place, longer than before, the same first record: only the bytes before the cached
        # read offset can tell; an incremental read from that offset would mix two files.
        rewritten = b"".join([keep[0], *other[1 : 1 + 2 * 1000]])  # steps 0..999 with offset 100
        assert len(rewritten) > sum(len(r) for r in keep)
        with open(first, "r+b") as f:
            f.write(rewritten)
            f.truncate(len(rewritten))
        data = api.load(first, sandbox=Sandbox.unrestricted())
        assert any("replaced or shrank" in w for w in data.warnings)
        assert not any("CRC" in w for w in data.warnings), data.warnings
        loss = data.series["loss"]
        np.testing.assert_array_equal(loss.steps, np.arange(1000))
        np.testing.assert_array_equal(loss.values, _expected("loss", loss.steps, 100.0))


def _records(data: bytes) -> list[bytes]:
    """Split a TFRecord stream into its records (length, length CRC, data, data CRC)."""
    out, pos = [], 0
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        out.append(data[pos : pos + 16 + length])
        pos += 16 + length
    return out
