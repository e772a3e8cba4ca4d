"""Remote sweep targets through fsspec, tested on fsspec's real in-memory filesystem (``memory://``, no network):
roots with prefix semantics, a local mirror that copies only what the analysis reads and only what changed."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
from eventwriter import decaying, write_run

from traintriage.errors import InputError, OutsideRootsError
from traintriage.sandbox import Sandbox
from traintriage.sources import remote
from traintriage.sweeps import sweep

ANYWHERE = Sandbox.unrestricted()  # local paths as on the command line; remote roots are tested
fsspec = pytest.importorskip("fsspec")


@pytest.fixture
def bucket(tmp_path: Path):
    """A fresh memory:// bucket holding three trials (event files + params.json) and a checkpoint."""
    name = f"bucket-{uuid.uuid4().hex[:8]}"
    local = tmp_path / "upload"
    for i, lr in enumerate([1e-3, 1e-2, 1e-1]):
        trial = local / f"trial_{i}"
        write_run(trial, {"Loss/train": decaying(40 + 10 * i), "lr": [(s, lr) for s in range(40 + 10 * i)]})
        (trial / "params.json").write_text(json.dumps({"lr": lr, "optimizer": "adam"}))
        (trial / "model.pt").write_bytes(b"\0" * 4096)  # not read by a sweep: never copied
    fs = fsspec.filesystem("memory")
    fs.put(str(local), f"/{name}/sweeps/s1", recursive=True)
    yield name, fs
    fs.rm(f"/{name}", recursive=True)


def test_memory_sweep_reads_through_a_local_mirror(bucket, tmp_path: Path) -> None:
    name, _fs = bucket
    url = f"memory://{name}/sweeps/s1"
    report = sweep(url, remote_roots=[f"memory://{name}/sweeps"], cache_dir=tmp_path / "cache", workers=1,
                   sandbox=ANYWHERE)
    assert report.trials_total == 3 and report.trials_ok == 3
    assert sorted(r.path for r in report.trials) == [f"{url}/trial_{i}" for i in range(3)]
    assert {r.params["lr"] for r in report.trials} == {1e-3, 1e-2, 1e-1}
    mirrored = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.name != remote.MANIFEST)
    assert "model.pt" not in mirrored and mirrored.count("params.json") == 3


def test_remote_roots_have_prefix_semantics(bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name, _fs = bucket
    url = f"memory://{name}/sweeps/s1"
    with pytest.raises(OutsideRootsError, match="remote root"):
        sweep(url, cache_dir=tmp_path, sandbox=ANYWHERE)  # no remote root at all
    with pytest.raises(OutsideRootsError):
        # s is not s1's parent
        sweep(url, remote_roots=[f"memory://{name}/sweeps/s"], cache_dir=tmp_path, sandbox=ANYWHERE)
    with pytest.raises(OutsideRootsError):
        sweep(url, remote_roots=[f"s3://{name}/sweeps"], cache_dir=tmp_path, sandbox=ANYWHERE)  # another scheme
    with pytest.raises(InputError, match=r"\.\."):
        sweep(f"memory://{name}/sweeps/other/../s1", remote_roots=[f"memory://{name}/sweeps/other"], sandbox=ANYWHERE)
    monkeypatch.setenv(remote.ENV_ROOTS, f"s3://elsewhere memory://{name}/sweeps/")  # how a server gets them
    assert sweep(url, cache_dir=tmp_path / "c", workers=1, sandbox=ANYWHERE).trials_ok == 3


def test_mirror_copies_only_what_changed(bucket, tmp_path: Path) -> None:
    name, fs = bucket
    url = f"memory://{name}/sweeps/s1"
    local = remote.mirror(url, cache_dir=tmp_path)
    params0 = local / "trial_0" / "params.json"
    event1 = next((local / "trial_1").glob("events.out.tfevents.*"))
    before = (params0.stat().st_ino, params0.stat().st_mtime_ns, event1.stat().st_mtime_ns)

    fs.pipe(f"/{name}/sweeps/s1/trial_2/params.json", json.dumps({"lr": 0.5, "optimizer": "sgd"}).encode())
    fs.rm(f"/{name}/sweeps/s1/trial_1/params.json")
    assert remote.mirror(url, cache_dir=tmp_path) == local
    assert (params0.stat().st_ino, params0.stat().st_mtime_ns, event1.stat().st_mtime_ns) == before  # untouched
    assert json.loads((local / "trial_2" / "params.json").read_text())["lr"] == 0.5  # re-fetched
    assert not (local / "trial_1" / "params.json").exists()  # gone remotely, gone here


def test_object_keys_cannot_escape_the_cache() -> None:
    assert remote._safe_rel("/b/s1/trial_0/x.json", "/b/s1") == "trial_0/x.json"
    for bad in ("/b/s1/../etc/passwd", "/b/s1//x", "/b/s10/x", "/b/s1", "/b/s1/./x"):
        assert remote._safe_rel(bad, "/b/s1") is None, bad


def test_missing_fsspec_names_the_extra(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from traintriage.cli import main

    monkeypatch.setitem(sys.modules, "fsspec", None)  # as if not installed
    assert main(["sweep", "memory://b/sweep", "--root", "memory://b"]) == 2
    err = capsys.readouterr().err
    assert "needs fsspec" in err and "traintriage[remote]" in err


def test_cli_remote_sweep(bucket, tmp_path: Path, capsys) -> None:
    from traintriage.cli import main

    name, _fs = bucket
    url = f"memory://{name}/sweeps/s1"
    args = ["sweep", url, "--root", f"memory://{name}", "--cache-dir", str(tmp_path), "--workers", "1"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["target"] == url and report["trials_ok"] == 3
    assert main(["sweep", url, "--cache-dir", str(tmp_path)]) == 2
    assert "remote root" in capsys.readouterr().err
