"""A long-lived server under concurrent load, over real transports: many calls in flight on one session
(stdio and streamable HTTP) all answered and each equal to the same call made alone, a slow call that does
not hold up fast ones, and a cancelled call that returns at once while its worker stops."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from mcp import Client
from serverproc import (
    CORPUS,
    child_server_pid,
    cpu_seconds,
    cpu_used_over,
    http_server,
    many_file_run,
    stdio_client,
)

pytestmark = pytest.mark.anyio

RUNS = ["loss_spike_lr_bump", "healthy_lstm", "overfitting_small_data", "dead_branch_detached", "healthy_lightning"]
TOOLS = ["describe_run", "analyze_loss", "analyze_gradnorm", "correlate", "describe_run"]
# 50 calls: every tool on several runs, each (tool, run) pair asked 2 times, interleaved so the same run is
# read by several calls at once and different runs side by side.
CALLS = [(TOOLS[(i // 5) % 5], RUNS[i % 5]) for i in range(50)]


def _answer(result) -> tuple[bool, object]:
    return result.is_error, result.structured_content if not result.is_error else result.content[0].text


async def _burst(client: Client, calls: list[tuple[str, str]]) -> list[tuple[bool, object]]:
    answers: list = [None] * len(calls)

    async def one(i: int) -> None:
        tool, run = calls[i]
        answers[i] = _answer(await client.call_tool(tool, {"run": run}))

    async with anyio.create_task_group() as tg:
        for i in range(len(calls)):
            tg.start_soon(one, i)
    return answers


@pytest.fixture(scope="module")
def alone() -> dict[tuple[str, str], tuple[bool, object]]:
    """Each distinct call made alone, one after another, on a fresh server."""

    async def collect() -> dict:
        out = {}
        async with stdio_client("--root", str(CORPUS)) as client:
            for call in dict.fromkeys(CALLS):
                out[call] = _answer(await client.call_tool(call[0], {"run": call[1]}))
        return out

    return anyio.run(collect)


BIG_FILES = 600  # ~1.5 s to read cold on a 2-core machine, with a budget check before each file


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    for name in ("big", "big2", "big3"):
        many_file_run(root / name, BIG_FILES)
    many_file_run(root / "small", 1)
    return root


async def _slow_does_not_delay_fast(client: Client, run: str) -> None:
    finished: dict[str, float] = {}
    fast_latency: list[float] = []

    async def slow() -> None:
        result = await client.call_tool("describe_run", {"run": run})
        assert not result.is_error
        finished["slow"] = time.monotonic()

    async with anyio.create_task_group() as tg:
        start = time.monotonic()
        tg.start_soon(slow)
        await anyio.sleep(0.2)
        for _ in range(5):
            t = time.monotonic()
            assert not (await client.call_tool("describe_run", {"run": "small"})).is_error
            fast_latency.append(time.monotonic() - t)
        finished["fast"] = time.monotonic()
    assert finished["fast"] < finished["slow"], "the fast calls had to wait for the slow one"
    assert max(fast_latency) < 0.5, fast_latency
    assert finished["slow"] - start > 0.6  # it really was slow


async def _cancel_stops_the_worker(client: Client, pid: int, run: str) -> None:
    """The client stops waiting at once, the server answers the next call at once, and the abandoned worker
    stops at its next checkpoint: the process goes idle, having spent far less CPU than the whole read costs."""
    before = cpu_seconds(pid)
    with anyio.move_on_after(0.4) as scope:
        await client.call_tool("describe_run", {"run": run})
    assert scope.cancelled_caught
    t = time.monotonic()
    assert not (await client.call_tool("describe_run", {"run": "small"})).is_error
    assert time.monotonic() - t < 0.5
    await anyio.sleep(0.2)
    busy = await anyio.to_thread.run_sync(cpu_used_over, pid, 0.6)
    assert busy < 0.15, f"the server used {busy:.2f} s of CPU just after the cancel: the worker runs on"
    cancelled_cost = cpu_seconds(pid) - before
    # The stopped read left the cache consistent: the same call now completes, every file read once.
    before = cpu_seconds(pid)
    result = await client.call_tool("describe_run", {"run": run})
    full_cost = cpu_seconds(pid) - before
    assert not result.is_error
    assert full_cost > 1.5 * cancelled_cost, (full_cost, cancelled_cost)  # the cancelled read did not go on
    described = result.structured_content
    assert described["run"]["files_total"] == BIG_FILES
    assert not any("could not be read" in w for w in described["warnings"])
    small = (await client.call_tool("describe_run", {"run": "small"})).structured_content
    for series in small["series"]:
        dropped = series["points"] * (BIG_FILES - 1)
        assert any(w.startswith(f"{series['name']}: {dropped} step(s) were logged more than once")
                   for w in described["warnings"])


async def test_stdio_fifty_parallel_calls_a_slow_call_and_a_cancel(alone, runs: Path) -> None:
    async with stdio_client("--root", str(CORPUS), "--root", str(runs)) as client:
        answers = await _burst(client, CALLS)  # cold caches: the calls race to fill them
        again = await _burst(client, CALLS)  # warm caches
        assert all(not err for err, _ in alone.values()), "the reference calls themselves must succeed"
        for call, answer, warm in zip(CALLS, answers, again, strict=True):
            assert answer == alone[call], call
            assert warm == alone[call], call

        await _slow_does_not_delay_fast(client, "big")
        await _cancel_stops_the_worker(client, child_server_pid(str(runs)), "big2")


async def test_http_fifty_parallel_calls_and_a_cancel(alone, runs: Path) -> None:
    with http_server("--root", str(CORPUS), "--root", str(runs)) as server:
        async with Client(server.url, read_timeout_seconds=60) as client:
            answers = await _burst(client, CALLS)
            for call, answer in zip(CALLS, answers, strict=True):
                assert answer == alone[call], call
            await _cancel_stops_the_worker(client, server.pid, "big3")
