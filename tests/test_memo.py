"""Remembered reports: a repeated analysis of an unchanged run is answered from memory, and any write
to the run (appended events, a touched or replaced file) makes the next call analyse afresh."""

from __future__ import annotations

import os

import pytest
from eventwriter import decaying, write_run

from traintriage import api
from traintriage.memo import REPORTS
from traintriage.sandbox import Sandbox


@pytest.fixture(autouse=True)
def _fresh_memo():
    REPORTS.clear()
    yield
    REPORTS.clear()


def _points(report, name: str) -> int:
    return next(s.points for s in report.run.series if s.name == name)


def _run(tmp_path, n=300):
    return write_run(tmp_path / "run", {"loss/train": decaying(n), "grad_norm": decaying(n, start=5.0)})


def test_unchanged_run_is_answered_from_memory_with_an_independent_copy(tmp_path):
    _run(tmp_path)
    first = api.analyze_loss(tmp_path / "run", sandbox=Sandbox.unrestricted())
    assert (REPORTS.hits, REPORTS.misses) == (0, 1)
    first.warnings.append("caller's own note")  # a caller mangling its copy
    second = api.analyze_loss(tmp_path / "run", sandbox=Sandbox.unrestricted())
    assert (REPORTS.hits, REPORTS.misses) == (1, 1)
    assert "caller's own note" not in second.warnings
    assert second == api.analyze_loss(tmp_path / "run", sandbox=Sandbox.unrestricted())


def test_options_and_analyses_are_remembered_apart(tmp_path):
    _run(tmp_path)
    api.analyze_loss(tmp_path / "run", sandbox=Sandbox.unrestricted())
    api.analyze_loss(tmp_path / "run", diagnose=True, sandbox=Sandbox.unrestricted())
    api.analyze_gradnorm(tmp_path / "run", sandbox=Sandbox.unrestricted())
    api.correlate(tmp_path / "run", sandbox=Sandbox.unrestricted())
    assert (REPORTS.hits, REPORTS.misses) == (0, 4)
    api.analyze_loss(tmp_path / "run", diagnose=True, sandbox=Sandbox.unrestricted())
    assert REPORTS.hits == 1


def test_appended_events_are_analysed_afresh(tmp_path):
    path = _run(tmp_path, n=300)
    before = api.analyze_loss(tmp_path / "run", sandbox=Sandbox.unrestricted())
    assert _points(before, "loss/train") == 300
    # More records from the same writer: a second file's records after its file_version header.
    extra = write_run(tmp_path / "more", {"loss/train": [(s + 300, v) for s, v in decaying(50)]})
    data = extra.read_bytes()
    header_len = 16 + int.from_bytes(data[:8], "little")
    with open(path, "ab") as f:
        f.write(data[header_len:])
    after = api.analyze_loss(tmp_path / "run", sandbox=Sandbox.unrestricted())
    assert REPORTS.misses == 2
    assert _points(after, "loss/train") == 350


def test_a_touched_file_is_analysed_afresh(tmp_path):
    path = _run(tmp_path)
    api.correlate(tmp_path / "run", sandbox=Sandbox.unrestricted())
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    api.correlate(tmp_path / "run", sandbox=Sandbox.unrestricted())
    assert (REPORTS.hits, REPORTS.misses) == (0, 2)


def test_a_new_file_beside_the_log_is_analysed_afresh(tmp_path):
    _run(tmp_path)
    api.analyze_gradnorm(tmp_path / "run", sandbox=Sandbox.unrestricted())
    (tmp_path / "run" / "training_args.json").write_text('{"max_grad_norm": 1.0}')
    api.analyze_gradnorm(tmp_path / "run", sandbox=Sandbox.unrestricted())
    assert (REPORTS.hits, REPORTS.misses) == (0, 2)


def test_identical_calls_at_once_compute_once_and_a_waiter_keeps_its_own_budget():
    """Concurrent calls for the same key share one analysis; if it fails, a waiter computes for itself;
    a waiter whose call is cancelled stops at once, while the analysis it waited on goes on.

    The order is forced with events, never with sleeps: an analysis holds until the test releases it, and
    a caller is known to be waiting on it when it makes its first budget check in the memo's wait loop
    (the only place a caller that does not compute checks its budget)."""
    import threading

    from pydantic import BaseModel

    from traintriage.limits import Budget, CallCancelled, CallLimits, active
    from traintriage.memo import ReportMemo

    class Report(BaseModel):
        value: int

    class WatchedBudget(Budget):
        """A call's budget that says when its caller first waits in the memo (and can cancel it there)."""

        def __init__(self, cancel: bool = False) -> None:
            super().__init__("correlate", CallLimits(timeout_s=None, memory_mb=None))
            self.waiting = threading.Event()
            self.cancel = cancel

        def check(self, planned_bytes: int = 0) -> None:
            self.waiting.set()
            if self.cancel:
                self.stop(CallCancelled("correlate was cancelled"))
            super().check(planned_bytes)

    memo = ReportMemo()
    calls: list[int] = []
    results: dict[int, object] = {}

    def analysis(value: int, release: threading.Event, started: threading.Event, fail: bool = False):
        def compute():
            calls.append(value)
            started.set()
            assert release.wait(10), "the test never released the analysis"
            if fail:
                raise RuntimeError("analysis failed")
            return Report(value=value)
        return compute

    def call(i: int, compute, budget: Budget) -> None:
        with active(budget):
            try:
                results[i] = memo.get_or_compute("key", compute)
            except (Exception, CallCancelled) as err:  # recorded for the assertions
                results[i] = err

    def start(i: int, compute, budget: Budget | None = None) -> threading.Thread:
        t = threading.Thread(target=call, args=(i, compute, budget or WatchedBudget()))
        t.start()
        return t

    # Six calls at once: the first computes, the five others wait for it and get copies.
    release, started = threading.Event(), threading.Event()
    threads = [start(0, analysis(0, release, started))]
    assert started.wait(10)
    budgets = [WatchedBudget() for _ in range(5)]
    threads += [start(i, analysis(i, release, threading.Event()), b) for i, b in enumerate(budgets, start=1)]
    assert all(b.waiting.wait(10) for b in budgets)  # every one is waiting on the running analysis
    release.set()
    for t in threads:
        t.join()
    assert calls == [0] and all(results[i] == Report(value=0) for i in range(6))
    assert len({id(r) for r in results.values()}) == 6  # each caller its own copy
    assert (memo.hits, memo.misses) == (5, 1)

    # The first analysis fails: the one waiting on it computes for itself.
    memo.clear()
    calls.clear()
    results.clear()
    release, started = threading.Event(), threading.Event()
    first = start(0, analysis(0, release, started, fail=True))
    assert started.wait(10)
    waiter = WatchedBudget()
    second = start(1, analysis(1, release, threading.Event()), waiter)
    assert waiter.waiting.wait(10)
    release.set()
    first.join()
    second.join()
    assert calls == [0, 1]
    assert isinstance(results[0], RuntimeError) and results[1] == Report(value=1)

    # A waiter whose call is cancelled stops at its next budget check, while the analysis goes on.
    memo.clear()
    calls.clear()
    results.clear()
    release, started = threading.Event(), threading.Event()
    runner = start(0, analysis(0, release, started))
    assert started.wait(10)
    cancelled = start(99, analysis(99, release, threading.Event()), WatchedBudget(cancel=True))
    cancelled.join(10)
    assert not cancelled.is_alive() and isinstance(results[99], CallCancelled)
    assert runner.is_alive() and 0 not in results  # the analysis it waited on is still running
    release.set()
    runner.join()
    assert results[0] == Report(value=0) and calls == [0]
