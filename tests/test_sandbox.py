"""The sandbox: where a call may read. It refuses by default, and a call without one is an error.

The server confines every read to its roots; the old ``roots=None`` meant "no limit", so a call that forgot
to pass its roots read everywhere. These tests pin the opposite default on real fixtures: an empty sandbox
reads nothing (not even a run that exists), each public function requires a sandbox, only
``Sandbox.unrestricted()`` reads everywhere, and the server's sandbox is never unrestricted.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from traintriage import api
from traintriage.errors import OutsideRootsError
from traintriage.sandbox import Sandbox
from traintriage.server.context import ServerContext

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = Path(__file__).resolve().parents[1] / "benchmarks" / "corpus" / "runs"
TARGETS = {  # a real artifact each public function reads
    "load": CORPUS / "loss_spike_lr_bump",
    "describe_run": CORPUS / "loss_spike_lr_bump",
    "analyze_loss": CORPUS / "loss_spike_lr_bump",
    "analyze_gradnorm": CORPUS / "loss_spike_lr_bump",
    "correlate": CORPUS / "loss_spike_lr_bump",
    "profile_memory": FIXTURES / "memory" / "leak.pt.trace.json.gz",
    "count_parameters": FIXTURES / "checkpoints" / "tiny_lm.safetensors",
    "sweep": FIXTURES / "optuna_study" / "runs",
    "profile_step": FIXTURES / "timing" / "input_bound.pt.trace.json.gz",
    "compare_runs": FIXTURES / "runs" / "hyperparameter_risk" / "adam_lr_ok",
}
TWO_RUNS = {"compare_runs"}  # takes GOOD and BAD: here the run compared with itself


def test_every_public_function_is_checked() -> None:
    assert set(TARGETS) == set(api.__all__) - {"Sandbox"}


def test_an_empty_sandbox_contains_nothing() -> None:
    assert not Sandbox().allows_anything
    assert not Sandbox().contains(CORPUS)
    assert not Sandbox.of([]).contains(Path.cwd())
    with pytest.raises(OutsideRootsError) as err:
        Sandbox().check(CORPUS)
    assert "Sandbox.of" in err.value.hint and "Sandbox.unrestricted()" in err.value.hint


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_public_function_refuses_by_default(name: str) -> None:
    """The same call reads the artifact when it is allowed to and refuses it with an empty sandbox."""
    fn = getattr(api, name)
    args = [str(TARGETS[name])] * (2 if name in TWO_RUNS else 1)
    with pytest.raises(OutsideRootsError):
        fn(*args, sandbox=Sandbox())
    with pytest.raises(TypeError, match="sandbox"):  # no default: a forgotten sandbox is an error
        fn(*args)
    assert fn(*args, sandbox=Sandbox.of([TARGETS[name].parent])) is not None


def test_a_sandbox_allows_its_roots_only(tmp_path: Path) -> None:
    inside = tmp_path / "runs" / "a"
    inside.mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (inside / "escape").symlink_to(tmp_path / "elsewhere")
    sandbox = Sandbox.of([tmp_path / "runs"])
    assert sandbox.contains(inside) and sandbox.check(inside) == inside.resolve()
    assert not sandbox.contains(tmp_path / "elsewhere")
    assert not sandbox.contains(inside / "escape")  # resolved before it is checked
    assert not sandbox.contains(inside / ".." / ".." / "elsewhere")
    with pytest.raises(OutsideRootsError) as err:
        sandbox.check(inside / "escape")
    assert "elsewhere" not in err.value.message + err.value.hint  # errors name the roots only
    assert Sandbox.unrestricted().contains(tmp_path / "elsewhere")


def test_the_server_sandbox_is_its_roots_never_unrestricted(tmp_path: Path, monkeypatch) -> None:
    assert ServerContext.from_roots([tmp_path]).sandbox == Sandbox.of([tmp_path])
    monkeypatch.chdir(tmp_path)
    default = ServerContext.from_roots(None).sandbox  # no --root: the working directory, not everywhere
    assert default.roots == (tmp_path.resolve(),) and not default.everywhere


def test_a_sandbox_travels_to_workers() -> None:
    """Sweep trials run in worker processes and Ray tasks: the sandbox goes with each job."""
    for sandbox in (Sandbox(), Sandbox.of([FIXTURES]), Sandbox.unrestricted()):
        assert pickle.loads(pickle.dumps(sandbox)) == sandbox


def test_correlate_confines_the_checkpoint_it_is_given(tmp_path: Path) -> None:
    """correlate(checkpoint=DIR) resolved the directory inside the roots, then counted it with no roots: a
    model.safetensors in it symlinked to outside them was read. It now goes through the same sandbox."""
    import shutil

    root = tmp_path / "root"
    shutil.copytree(CORPUS / "loss_spike_lr_bump", root / "run")
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(FIXTURES / "checkpoints" / "tiny_lm.safetensors", outside / "model.safetensors")
    (root / "model").mkdir()
    (root / "model" / "model.safetensors").symlink_to(outside / "model.safetensors")

    confined = api.correlate(str(root / "run"), checkpoint=str(root / "model"), sandbox=Sandbox.of([root]))
    assert confined.analyses["parameters"].startswith("failed") and "parameters" not in confined.extras
    assert not any("outside" in w and str(outside) in w for w in confined.warnings)  # names the roots only
    mine = api.correlate(str(root / "run"), checkpoint=str(root / "model"), sandbox=Sandbox.unrestricted())
    assert mine.analyses["parameters"] == "ok"  # the CLI's own files: read where the link points
