"""CUDA snapshots: the fixture is built to torch's documented format (no GPU here; see README)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from traintriage.errors import InputError, UnsafeArtifactError
from traintriage.memory import profile_memory
from traintriage.sandbox import Sandbox

FIXTURE = Path(__file__).parent / "fixtures" / "memory" / "snapshot.pickle"
GiB, MiB = 1 << 30, 1 << 20


def test_snapshot_accounting():
    report = profile_memory(FIXTURE, sandbox=Sandbox.unrestricted())
    assert report.kind == "snapshot"
    snap = report.snapshot
    (dev,) = snap.devices
    assert dev.segments == 3 and dev.large_segments == 2 and dev.small_segments == 1
    assert dev.reserved == 6 * GiB + 2 * MiB
    assert dev.allocated == 2 * GiB + 256 * MiB + 1024
    assert dev.active == dev.allocated + 512  # one block awaiting free
    assert dev.inactive == dev.reserved - dev.active
    # inactive bytes in segments that still hold live blocks: 1 GiB + 2.75 GiB + the small segment's free tail
    assert dev.fragmented_inactive == GiB + 2816 * MiB + (2 * MiB - 1536)
    assert dev.largest_free_block == 2816 * MiB
    assert snap.largest_blocks[0].size == 1536 * MiB
    assert snap.top_frames[0].frame == "/home/user/project/model.py:12:__init__"
    assert snap.top_frames[0].bytes == 2 * GiB


def test_history_peak_and_context():
    snap = profile_memory(FIXTURE, sandbox=Sandbox.unrestricted()).snapshot
    assert snap.history_peak_allocated == 6 * GiB + 1024
    at_peak = [e for e in snap.history_around_peak if e.allocated_after == snap.history_peak_allocated]
    assert at_peak[0].action == "alloc" and at_peak[0].frame.endswith("model.py:41:forward")
    assert snap.history_around_peak[-1].allocated_after is not None


def test_fragmentation_finding_and_capacity():
    report = profile_memory(FIXTURE, sandbox=Sandbox.unrestricted())
    assert [(f.code, f.details["kind"]) for f in report.findings] == [("memory_pressure", "fragmentation")]
    assert any("--capacity" in w for w in report.warnings)
    tight = profile_memory(FIXTURE, capacity_bytes="6.5GiB", sandbox=Sandbox.unrestricted())
    kinds = {f.details["kind"]: f.severity for f in tight.findings}
    assert kinds == {"fragmentation": "warning", "peak": "warning"}


def test_oom_entry_is_critical(tmp_path):
    data = pickle.loads(FIXTURE.read_bytes())
    data["device_traces"][0].append(
        {"action": "oom", "addr": 0, "size": 3 * GiB, "device_free": GiB, "stream": 0, "frames": []}
    )
    path = tmp_path / "oom.pickle"
    path.write_bytes(pickle.dumps(data))
    report = profile_memory(path, sandbox=Sandbox.unrestricted())
    assert report.findings[0].severity == "critical" and report.findings[0].details["kind"] == "oom"


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_snapshot_with_a_global_is_refused(tmp_path, capsys):
    data = pickle.loads(FIXTURE.read_bytes())
    data["segments"].append(Evil())
    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(UnsafeArtifactError):
        profile_memory(path, sandbox=Sandbox.unrestricted())
    assert "pwned" not in capsys.readouterr().out


def test_pickle_that_is_not_a_snapshot(tmp_path):
    path = tmp_path / "x.pickle"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(InputError):
        profile_memory(path, sandbox=Sandbox.unrestricted())
