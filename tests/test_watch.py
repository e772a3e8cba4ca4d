"""``traintriage watch`` on a run that a writer process writes while watch runs (issue #20): the healthy
part prints no critical finding, the event file rotates half way, and when the loss turns NaN, watch
exits 1 within a few seconds of that point being written, after giving the finding to --notify."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from traintriage.findings import Finding
from traintriage.watch import diff, summarize

WRITER = r"""
import math, sys, time
from pathlib import Path
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter

logdir, go, critical_mark = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
HEALTHY, ROTATE_AT, TOTAL = 600, 300, 640

def write(writer, step, loss):
    for tag, value in (("Loss/train", loss), ("lr", 1e-3)):
        s = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
        writer.add_event(Event(wall_time=1.7e9 + step, step=step, summary=s))

writer = EventFileWriter(logdir)
for step in range(TOTAL):
    if step == 60:
        writer.flush()
        while not go.exists():  # the test starts watch on a run that already has some steps
            time.sleep(0.01)
    if step == ROTATE_AT:  # the job restarts: a new event file in the same directory
        writer.close()
        writer = EventFileWriter(logdir, filename_suffix=".restarted")
    loss = 2.0 * math.exp(-step / 300) + 0.05 * math.sin(step) if step < HEALTHY else float("nan")
    write(writer, step, loss)
    if step == HEALTHY:  # the critical point is on disk: mark the moment before anything else (a fast watch
        writer.flush()   # may stop, and the test kill this writer, within the sleep below)
        critical_mark.write_text(repr(time.time()))
    if step % 20 == 0 or step >= HEALTHY:
        writer.flush()
        time.sleep(0.1)  # ~3 s of healthy training
writer.close()
"""


def test_watch_exits_1_soon_after_a_critical_point_is_written(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    go, mark, notified = tmp_path / "go", tmp_path / "critical_written", tmp_path / "notified.json"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(run), str(go), str(mark)])
    try:
        deadline = time.monotonic() + 60
        while not list(run.glob("events.out.tfevents.*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        watcher = subprocess.Popen(
            [sys.executable, "-m", "traintriage", "watch", str(run), "--interval", "0.5", "--exit-on", "critical",
             "--timeout", "120", "--notify", f"cat > {notified}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        time.sleep(1.0)
        go.touch()
        out, err = watcher.communicate(timeout=150)
        exited = time.time()
    finally:
        writer.kill()
        writer.wait()
    assert watcher.returncode == 1, (out, err)
    assert mark.exists(), f"watch stopped before the critical point was written:\n{out}\n{err}"
    lag = exited - float(mark.read_text())
    assert lag < 8.0, f"watch exited {lag:.1f} s after the critical point"
    lines = [json.loads(line) for line in out.splitlines() if line.startswith('{"event"')]
    critical = [e for e in lines if e["finding"]["severity"] == "critical"]
    assert critical and critical[0]["finding"]["code"] == "nan_inf"
    assert critical[0]["step"] >= 600
    assert "Traceback" not in err
    sent = json.loads(notified.read_text())
    assert sent["event"] == "new" and sent["finding"]["code"] == "nan_inf"


def _finding(code: str, severity: str, step: int) -> Finding:
    return Finding(code=code, severity=severity, title=code, message=code, series="loss", step_start=step,
                   step_end=step, confidence=0.9)


def test_diff_reports_new_worse_and_resolved_only() -> None:
    a = summarize([_finding("plateau", "info", 10), _finding("loss_spike", "warning", 50)])
    b = summarize([_finding("plateau", "warning", 10), _finding("loss_spike", "warning", 50),
                   _finding("loss_spike", "warning", 90), _finding("nan_inf", "critical", 99)])
    events = {(e.event, e.finding.code) for e in diff(a, b, 100)}
    assert events == {("worse", "plateau"), ("worse", "loss_spike"), ("new", "nan_inf")}
    assert diff(b, b, 100) == []
    gone = diff(b, summarize([_finding("nan_inf", "critical", 99)]), 120)
    assert {(e.event, e.finding.code) for e in gone} == {("resolved", "plateau"), ("resolved", "loss_spike")}
