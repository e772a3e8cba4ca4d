"""Each checkpoint layout: does traintriage read it, and what does ``torch.load(weights_only=True)`` do?

Not a test: run it by hand (the numbers go into the README's table)::

    .venv/bin/python benchmarks/checkpoint_layouts.py --torch-python .venv-corpus/bin/python

The targets are the committed fixtures (``tests/fixtures/checkpoint_layouts``, ``tests/fixtures/checkpoints``),
written by the real libraries. Each measurement runs in a fresh process: peak RSS is the child's
``ru_maxrss``, bytes read its ``rchar`` (``/proc/self/io``) during the call only, after the imports.
traintriage gets the path a user would give (a directory for the HF, DeepSpeed and DCP layouts);
``torch.load`` gets the file it takes (the weights file in the layout; it cannot open a directory).
``--torch-python`` is a Python with torch installed (traintriage's own environment has none).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
# (label, what traintriage is given, the file torch.load is given)
LAYOUTS = "checkpoint_layouts/"
CASES = [
    ("Lightning `.ckpt` (real Trainer)", LAYOUTS + "lightning/last.ckpt", LAYOUTS + "lightning/last.ckpt"),
    ("`torch.save({args: Namespace, model, optimizer, np.float64, np arrays, RNG state})`",
     LAYOUTS + "research.pt", LAYOUTS + "research.pt"),
    ("HF Trainer output dir (newest `checkpoint-*`; torch.load: its `training_args.bin`)", LAYOUTS + "hf_output",
     LAYOUTS + "hf_output/checkpoint-4/training_args.bin"),
    ("DeepSpeed dir (`latest` -> `global_step4`, ZeRO-2 shards)", LAYOUTS + "deepspeed",
     LAYOUTS + "deepspeed/global_step4/mp_rank_00_model_states.pt"),
    ("torch.distributed.checkpoint dir (`.metadata` + `.distcp`)", LAYOUTS + "dcp", LAYOUTS + "dcp/.metadata"),
    ("plain `state_dict` (zip)", "checkpoints/mlp_state_dict.pt", "checkpoints/mlp_state_dict.pt"),
    ("sharded safetensors (index)", "checkpoints/sharded", None),
    ("malicious pickle (`os.system`)", "checkpoints/malicious.pt", "checkpoints/malicious.pt"),
]

PRELUDE = r"""
import json, resource, sys, time
def rchar():
    with open("/proc/self/io") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("rchar"))
def done(out, start):
    out.update(read=rchar() - start, rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps(out))
"""

OURS = PRELUDE + r"""
from traintriage.checkpoints import count_parameters
from traintriage.sandbox import Sandbox
import numpy, traintriage.checkpoints.loader, traintriage.checkpoints.scan, traintriage.checkpoints.health
from traintriage.errors import TraintriageError
# A warm-up on another file: lazy imports are not counted as reads.
count_parameters(sys.argv[3], scan_values=True, sandbox=Sandbox.unrestricted())
start = rchar()
try:
    r = count_parameters(sys.argv[1], scan_values=sys.argv[2] == "scan", sandbox=Sandbox.unrestricted())
    out = {"ok": True, "parameters": r.total_parameters, "layout": r.checkpoint.layout,
           "hparams": len(r.checkpoint.hyperparameters), "by_name": sorted(r.checkpoint.recorded_by_name)[:4]}
except TraintriageError as exc:
    out = {"ok": False, "error": exc.message[:160]}
done(out, start)
"""

TORCH = PRELUDE + r"""
import warnings
warnings.filterwarnings("ignore")
import torch
start = rchar()
try:
    obj = torch.load(sys.argv[1], weights_only=True, map_location="cpu")
    sd = obj
    for key in ("state_dict", "model", "module"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            sd = obj[key]
            break
    n = sum(v.numel() for v in sd.values() if torch.is_tensor(v)) if isinstance(sd, dict) else None
    out = {"ok": True, "parameters": n}
except Exception as exc:
    import re
    found = (re.search(r"[Uu]nsupported (?:global: )?GLOBAL (\S+)", str(exc))
             or re.search(r"(Unsupported operand \d+)", str(exc)))
    why = found.group(1) if found else str(exc).strip().splitlines()[0][:200]
    out = {"ok": False, "error": f"{type(exc).__name__}: {why}"}
done(out, start)
"""


def run(python: str, code: str, *args: str) -> dict:
    proc = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        return {"ok": False, "error": proc.stderr.strip().splitlines()[-1][:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--torch-python", help="a Python with torch, for the torch.load column")
    args = parser.parse_args()
    rows = []
    for label, ours, theirs in CASES:
        warm = str(FIX / "checkpoints" / "tiny_lm.safetensors")
        counted = run(sys.executable, OURS, str(FIX / ours), "count", warm)
        scanned = run(sys.executable, OURS, str(FIX / ours), "scan", warm)
        torch_res = run(args.torch_python, TORCH, str(FIX / theirs)) if args.torch_python and theirs else None
        rows.append({"layout": label, "count": counted, "scan": scanned, "torch": torch_res})
        print(json.dumps(rows[-1]))


if __name__ == "__main__":
    main()
