"""Real server processes for the server tests: `traintriage serve` over stdio (driven by mcp.Client) and over
streamable HTTP (a subprocess on a free loopback port), plus what the tests observe from outside: the
server's CPU time, and runs big enough that reading them takes seconds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from mcp import Client, StdioServerParameters

ROOT = Path(__file__).parent.parent
CORPUS = ROOT / "benchmarks" / "corpus" / "runs"
PLAIN_EVENTS = ROOT / "tests" / "fixtures" / "events" / "plain"


def stdio_params(*args: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    full_env = {**os.environ, **(env or {})}
    return StdioServerParameters(command=sys.executable, args=["-m", "traintriage", "serve", *args], env=full_env)


def stdio_client(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Client:
    return Client(stdio_params(*args, env=env), read_timeout_seconds=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpServer:
    """A server subprocess on ``127.0.0.1:port``; ``stderr`` holds what it logged once stopped."""

    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}/mcp"
        self.stderr = ""

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextmanager
def http_server(*args: str, env: dict[str, str] | None = None, code: str | None = None, port: int | None = None,
                connect_host: str = "127.0.0.1"):
    """Start ``traintriage serve --transport http --port P ARGS`` (or ``python -c CODE P ARGS``) and wait until
    it accepts connections; stop it on exit."""
    port = port or free_port()
    full_env = {k: v for k, v in os.environ.items() if k != "TRAINTRIAGE_HTTP_TOKEN"}
    full_env.update(env or {})
    if code is None:
        cmd = [sys.executable, "-m", "traintriage", "serve", "--transport", "http", "--port", str(port), *args]
    else:
        cmd = [sys.executable, "-c", code, str(port), *args]
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    server = HttpServer(proc, port)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited ({proc.returncode}): {proc.stderr.read()}")
            try:
                with socket.create_connection((connect_host, port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("server did not start listening in 30 s") from None
                time.sleep(0.05)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        server.stderr = proc.stderr.read() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_server_pid(marker: str) -> int:
    """The pid of this process's child `traintriage serve` whose command line contains ``marker``."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == me and "traintriage" in cmdline and marker in cmdline:
            return int(entry.name)
    raise AssertionError(f"no child server process with {marker!r} in its command line")


def cpu_used_over(pid: int, seconds: float) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before


def many_file_run(run_dir: Path, files: int) -> Path:
    """A run of ``files`` copies of a real event file in one directory (a much-restarted job): reading it
    takes about 2 ms per file, with a budget check before each."""
    src = next(PLAIN_EVENTS.iterdir())
    data = src.read_bytes()
    run_dir.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (run_dir / f"events.out.tfevents.{1_700_000_000 + i}.host.0").write_bytes(data)
    return run_dir


def big_file_run(run_dir: Path, megabytes: int, index: int = 0) -> Path:
    """A run holding an event file of about ``megabytes`` MB (a real file's records repeated); ``index``
    names another file in the same run."""
    src = next(PLAIN_EVENTS.iterdir())
    data = src.read_bytes()
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / f"events.out.tfevents.{1_700_000_000 + index}.host.0", "wb") as f:
        for _ in range(max(1, (megabytes << 20) // len(data))):
            f.write(data)
    return run_dir
