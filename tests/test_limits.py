"""Per-call time and memory budgets: configuration (flags, environment, defaults), the budget checks, and real
calls over stdio that go over a tiny budget, get a clear error naming the limit and how to raise it, and
leave a server that answers the next call."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from serverproc import big_file_run, child_server_pid, cpu_used_over, many_file_run, stdio_client

from traintriage import api
from traintriage.limits import (
    DEFAULT_CALL_MEMORY_MB,
    DEFAULT_CALL_TIMEOUT_S,
    Budget,
    BudgetExceeded,
    CallCancelled,
    CallLimits,
    LimitsError,
    active,
    check_budget,
    current_budget,
)
from traintriage.sandbox import Sandbox
from traintriage.sources import load_readers

# ----------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------


def test_limits_come_from_flags_then_environment_then_defaults() -> None:
    assert CallLimits.resolve(env={}) == CallLimits(DEFAULT_CALL_TIMEOUT_S, DEFAULT_CALL_MEMORY_MB)
    assert DEFAULT_CALL_TIMEOUT_S == 120 and DEFAULT_CALL_MEMORY_MB >= 1024
    env = {"TRAINTRIAGE_CALL_TIMEOUT": "30", "TRAINTRIAGE_CALL_MEMORY_MB": "512",
           "TRAINTRIAGE_MAX_CONCURRENT_CALLS": "3"}
    assert CallLimits.resolve(env=env) == CallLimits(30.0, 512, 3)
    assert CallLimits.resolve(5, 64, 2, env=env) == CallLimits(5.0, 64, 2)  # flags win
    off = CallLimits.resolve(env={"TRAINTRIAGE_CALL_TIMEOUT": "0", "TRAINTRIAGE_CALL_MEMORY_MB": "0"})
    assert off.timeout_s is None and off.memory_mb is None


@pytest.mark.parametrize(
    ("kwargs", "env", "named"),
    [
        ({}, {"TRAINTRIAGE_CALL_TIMEOUT": "soon"}, "TRAINTRIAGE_CALL_TIMEOUT"),
        ({"timeout_s": -1.0}, {}, "--call-timeout"),
        ({"memory_mb": -5}, {}, "--call-memory-mb"),
        ({"timeout_s": float("nan")}, {}, "--call-timeout"),
        ({"max_concurrent": 0}, {}, "--max-concurrent-calls"),
    ],
)
def test_bad_limits_are_refused_with_the_setting_named(kwargs, env, named) -> None:
    with pytest.raises(LimitsError) as err:
        CallLimits.resolve(**kwargs, env=env)
    assert named in str(err.value)


def test_serve_refuses_a_bad_limit_without_a_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "traintriage", "serve", "--call-timeout", "-3"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "--call-timeout" in proc.stderr and "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------------------------
# Budget and its checks
# ----------------------------------------------------------------------------------------------


def test_check_budget_is_a_no_op_outside_a_call_and_stops_a_call_over_its_limits() -> None:
    assert current_budget() is None
    check_budget(planned_bytes=1 << 50)  # no budget: nothing to enforce

    budget = Budget("describe_run", CallLimits(timeout_s=0.05, memory_mb=None))
    with active(budget):
        check_budget()
        time.sleep(0.08)
        with pytest.raises(BudgetExceeded) as err:
            check_budget()
    assert err.value.which == "time"
    text = str(err.value)
    assert "describe_run" in text and "time limit of 0.05 s" in text
    assert "--call-timeout" in text and "TRAINTRIAGE_CALL_TIMEOUT" in text
    assert current_budget() is None  # restored after the block

    budget = Budget("correlate", CallLimits(timeout_s=None, memory_mb=100))
    with active(budget):
        check_budget(planned_bytes=10 << 20)
        with pytest.raises(BudgetExceeded) as err:
            check_budget(planned_bytes=200 << 20)
    assert err.value.which == "memory"
    assert "memory limit of 100 MB" in str(err.value) and "--call-memory-mb" in str(err.value)

    budget = Budget("analyze_loss", CallLimits(timeout_s=None, memory_mb=None))
    budget.stop(CallCancelled("analyze_loss was cancelled"))
    with active(budget), pytest.raises(CallCancelled):
        check_budget()


def test_a_real_read_stops_at_its_budget_and_leaves_the_cache_usable(tmp_path: Path) -> None:
    run = big_file_run(tmp_path / "big", 24)
    load_readers()  # code loaded before the baseline, as the server does

    # Reading 24 MB of events builds ~12 MB of arrays: refused before a byte is read under an 8 MB budget.
    with active(Budget("describe_run", CallLimits(timeout_s=None, memory_mb=8))), pytest.raises(BudgetExceeded) as err:
        api.describe_run(run, sandbox=Sandbox.unrestricted())
    assert err.value.which == "memory" and "reading the next file needs about" in str(err.value)
    # A stopped read is not a bad file: not swallowed into a warning, and the next read is whole.
    assert api.describe_run(run, sandbox=Sandbox.unrestricted()).series


# ----------------------------------------------------------------------------------------------
# Real calls over stdio
# ----------------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_call_past_its_time_limit_gets_a_clear_error_at_the_deadline(tmp_path: Path) -> None:
    many_file_run(tmp_path / "small", 1)
    many_file_run(tmp_path / "slow", 1200)  # ~3 s to read
    async with stdio_client("--root", str(tmp_path), env={"TRAINTRIAGE_CALL_TIMEOUT": "1.5"}) as client:
        pid = child_server_pid(str(tmp_path))
        assert not (await client.call_tool("describe_run", {"run": "small"})).is_error

        start = time.monotonic()
        result = await client.call_tool("describe_run", {"run": "slow"})
        elapsed = time.monotonic() - start
        assert result.is_error
        text = result.content[0].text
        assert "time limit of 1.5 s" in text and "--call-timeout" in text and "TRAINTRIAGE_CALL_TIMEOUT" in text
        assert "Traceback" not in text
        assert 1.4 < elapsed < 2.5, elapsed  # answered at the deadline, not when the read would have ended
        # The worker stopped too (the process is idle), and the server answers the next call.
        await anyio.sleep(0.2)
        assert await anyio.to_thread.run_sync(cpu_used_over, pid, 0.5) < 0.15
        assert not (await client.call_tool("describe_run", {"run": "small"})).is_error


@pytest.mark.anyio
async def test_a_call_over_its_memory_limit_gets_a_clear_error(tmp_path: Path) -> None:
    many_file_run(tmp_path / "small", 1)
    big_file_run(tmp_path / "one_big_file", 160)  # ~80 MB of arrays, estimated before reading
    for i in range(16):  # 16 files of 2 MB: each small, together ~16 MB of arrays kept in the cache
        big_file_run(tmp_path / "grows", 2, index=i)
    async with stdio_client("--root", str(tmp_path), "--call-memory-mb", "10") as client:
        assert not (await client.call_tool("describe_run", {"run": "small"})).is_error

        refused = await client.call_tool("describe_run", {"run": "one_big_file"})
        assert refused.is_error
        text = refused.content[0].text
        assert "memory limit of 10 MB" in text and "--call-memory-mb" in text and "TRAINTRIAGE_CALL_MEMORY_MB" in text
        assert "reading the next file needs about" in text and "Traceback" not in text

        # Many small files: no one read is too big, but what they add up to is.
        grown = await client.call_tool("describe_run", {"run": "grows"})
        assert grown.is_error and "memory limit of 10 MB" in grown.content[0].text
        added = re.search(r"the call has added (\d+) MB", grown.content[0].text)
        assert added and 4 <= int(added.group(1)) <= 20, grown.content[0].text

        assert not (await client.call_tool("describe_run", {"run": "small"})).is_error
