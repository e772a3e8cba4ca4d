"""How long an annotated plot of a 1M-scalar run takes (issue #20: < 1.5 s), and how big it is.

Not a test: run it by hand, ``.venv/bin/python benchmarks/plot_speed.py [--repeats 3] [--steps 20000]``.
The run is ``read_speed.py``'s data set (50 tags x 20k steps, ``simple_value``: a train and a validation
loss, LR, total and 24 per-component gradient norms, 1M scalars). Each measurement runs in a fresh
process; medians of ``--repeats`` are printed as a markdown table:

* ``render only``: drawing and encoding the PNG from a run already read and triaged (the plot's own cost);
* ``plot, read cached in-process``: ``plot_run`` after a first call in the same process (what a
  long-lived MCP server pays for a second look);
* ``traintriage plot, cold``: the whole command in a fresh process (imports, read, triage, draw, write).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import read_speed  # noqa: E402  (the 1M-scalar data set is shared)

CHILD = r"""
import json, sys, time
from pathlib import Path
task, run, out = sys.argv[1], sys.argv[2], sys.argv[3]
if task == "cold":
    import subprocess
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "traintriage", "plot", run, "-o", out], check=True, stdout=subprocess.DEVNULL)
    print(json.dumps({"seconds": time.perf_counter() - t, "bytes": Path(out).stat().st_size}))
    raise SystemExit
from traintriage import api
from traintriage.plot import plot_data, plot_run
box = api.Sandbox.unrestricted()
data = api.load(run, sandbox=box)
report = api.correlate(run, sandbox=box)
plot_data(data, report)  # imports matplotlib, warms its font cache
t = time.perf_counter()
if task == "render":
    plot = plot_data(data, report)
else:
    plot = plot_run(run, sandbox=box)
print(json.dumps({"seconds": time.perf_counter() - t, "bytes": len(plot.data)}))
"""


def measure(task: str, run: Path, repeats: int) -> dict:
    out = Path("/tmp") / f"traintriage_plot_bench_{task}.png"
    results = []
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, "-c", CHILD, task, str(run), str(out)], check=True,
                              capture_output=True, text=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {"seconds": statistics.median(r["seconds"] for r in results), "bytes": results[-1]["bytes"]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--tags", type=int, default=50)
    args = ap.parse_args(argv)
    run = read_speed.generate("simple_value", args.tags, args.steps)
    print(f"run: {run} ({args.tags * args.steps:,} scalars); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("\n| measurement | seconds | PNG bytes |\n|---|---:|---:|")
    for task, label in (("render", "render only"), ("cached", "plot, read cached in-process"),
                        ("cold", "traintriage plot, cold")):
        r = measure(task, run, args.repeats)
        print(f"| {label} | {r['seconds']:.3f} | {r['bytes']:,} |", flush=True)


if __name__ == "__main__":
    main()
