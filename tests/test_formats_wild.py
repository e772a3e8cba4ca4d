"""Readers on logs laid out the way named tools write them: nanoGPT, llm.c, build-nanogpt, fairseq, detectron2,
mmdetection 2.x, mmengine, LLaMA-Factory, the PyTorch examples, hand-saved Keras histories, bare MLflow metric
files, YOLOv5 and ultralytics results, TSV and BOM-marked text (fixtures: tests/fixtures/formats/, README
"Logs from named tools"; written by generate.py).

Expected values are read back from the fixture files themselves (regular expressions for text logs, json/csv
for structured ones), never restated here, so a reader that drops, shifts or mis-assigns a point fails. Where a
reader gets a fixture wrong, the test still states the right behaviour and is marked
``xfail(strict=True)`` with the bug in its reason: fixing the reader turns it into a failure to un-mark.
"""

from __future__ import annotations

import ast
import csv
import json
import math
import re
from pathlib import Path

import pytest

from traintriage.errors import InputError
from traintriage.sandbox import Sandbox
from traintriage.signals import is_loss_name
from traintriage.sources import filecache, load_run

FORMATS_DIR = Path(__file__).parent / "fixtures" / "formats"
TEXT = FORMATS_DIR / "textlogs"


pytestmark = pytest.mark.usefixtures("fresh_filecache")


def _points(data, name: str) -> tuple[list[int], list[float]]:
    s = data.series[name]
    return s.steps.tolist(), s.values.tolist()


def _pairs(points: list[tuple[int, float]]) -> tuple[list[int], list[float]]:
    """``[(step, value), ...]`` as ``(steps, values)``, the shape :func:`_points` returns."""
    return [int(s) for s, _ in points], [float(v) for _, v in points]


def _same(actual: list[float], expected: list[float]) -> bool:
    """Equal lists of floats, NaN equal to NaN."""
    return len(actual) == len(expected) and all(
        (math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(actual, expected, strict=True)
    )


def _matches(pattern: str, lines: list[str]) -> list[re.Match]:
    regex = re.compile(pattern)
    return [m for m in map(regex.match, lines) if m]


# ---------------------------------------------------------------------------------------------
# nanoGPT (karpathy/nanoGPT train.py): two runs appended to one file; the same output as UTF-16 from PowerShell
# ---------------------------------------------------------------------------------------------

NANOGPT = TEXT / "nanogpt_karpathy" / "train.log"
POWERSHELL = TEXT / "powershell_utf16" / "train.log"
_ITER = r"^iter (\d+): loss ([\d.]+), time [\d.]+ms, mfu -?[\d.]+%$"
_EVAL = r"^step (\d+): train loss ([\d.]+), val loss ([\d.]+)$"


def _nanogpt_runs(text: str) -> list[dict[str, tuple[list[int], list[float]]]]:
    """Per run (each starts with nanoGPT's config echo): its iter points and its evaluation points."""
    runs = []
    for chunk in text.split("Overriding config with")[1:]:
        lines = chunk.splitlines()
        iters = _matches(_ITER, lines)
        evals = _matches(_EVAL, lines)
        runs.append(
            {
                "loss": _pairs([(m[1], m[2]) for m in iters]),
                "train_loss": _pairs([(m[1], m[2]) for m in evals]),
                "val_loss": _pairs([(m[1], m[3]) for m in evals]),
            }
        )
    return runs


@pytest.mark.parametrize("target", [NANOGPT, NANOGPT.parent], ids=["file", "dir"])
def test_nanogpt_iter_lines_of_two_appended_runs(target):
    data = load_run(target, sandbox=Sandbox.unrestricted())
    first, last = _nanogpt_runs(NANOGPT.read_text())
    assert data.source == "textlog"
    assert _points(data, "loss") == last["loss"]  # every iter line of the last run, at its iter
    assert _points(data, "earlier-run-1/loss") == first["loss"]  # the run that died of an OOM at iter 300
    assert first["loss"][1][0] > 4.0 and last["loss"][1][0] > 4.0  # both start from scratch (~ln 65)
    roles = data.roles
    assert (roles.train_loss, roles.val_loss) == ("loss", ["val_loss"])  # per-iter loss, not the eval estimate
    assert any("2 runs one after another" in w for w in data.warnings)
    assert not any(name.startswith(("earlier-run-2", "mfu", "time")) for name in data.series)


def test_nanogpt_eval_lines_stay_with_their_run():
    data = load_run(NANOGPT, sandbox=Sandbox.unrestricted())
    first, last = _nanogpt_runs(NANOGPT.read_text())
    for name in ("train_loss", "val_loss"):
        assert _points(data, name) == last[name]
        assert _points(data, f"earlier-run-1/{name}") == first[name]


def test_nanogpt_config_echo_of_an_appended_run_is_not_a_series():
    data = load_run(NANOGPT, sandbox=Sandbox.unrestricted())
    assert set(data.series) == {
        "loss",
        "train_loss",
        "val_loss",
        "earlier-run-1/loss",
        "earlier-run-1/train_loss",
        "earlier-run-1/val_loss",
    }


@pytest.mark.parametrize("target", [POWERSHELL, POWERSHELL.parent], ids=["file", "dir"])
def test_utf16_log_from_powershell(target):
    raw = POWERSHELL.read_bytes()
    assert raw.startswith(b"\xff\xfe") and "\r\n".encode("utf-16-le") in raw  # the fixture is what PowerShell writes
    (run,) = _nanogpt_runs(raw.decode("utf-16"))
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "textlog"
    assert set(data.series) == {"loss", "train_loss", "val_loss"}
    for name in ("loss", "train_loss", "val_loss"):
        assert _points(data, name) == run[name]
    assert (data.roles.train_loss, data.roles.val_loss) == ("loss", ["val_loss"])


# ---------------------------------------------------------------------------------------------
# llm.c: llmc/logger.h's main.log, train_gpt2.cu's stdout, train_gpt2.py's stdout and log file
# ---------------------------------------------------------------------------------------------

LLMC_LOG = TEXT / "llmc_logfile" / "main.log"
LLMC_CU = TEXT / "llmc_stdout" / "train.out"
LLMC_PY = TEXT / "llmc_py" / "train.log"
LLMC_PY_LOG = TEXT / "llmc_py" / "main.log"


def _llmc_log(path: Path) -> dict[str, tuple[list[int], list[float]]]:
    """The points of an llm.c log file, by field: ``s:N trl:.. [lr:.. norm:..]``, ``s:N tel:..``, ``s:N eval:..``."""
    lines = path.read_text().splitlines()
    train = _matches(r"^s:(\d+) trl:([\d.]+)(?: lr:([\d.]+) norm:([\d.]+))?$", lines)
    out = {
        "trl": _pairs([(m[1], m[2]) for m in train]),
        "tel": _pairs([(m[1], m[2]) for m in _matches(r"^s:(\d+) tel:([\d.]+)$", lines)]),
        "eval": _pairs([(m[1], m[2]) for m in _matches(r"^s:(\d+) eval:([\d.]+)$", lines)]),
    }
    if train and train[0][3] is not None:
        out["lr"] = _pairs([(m[1], m[3]) for m in train])
        out["norm"] = _pairs([(m[1], m[4]) for m in train])
    return out


def _llmc_stdout(path: Path) -> dict[str, tuple[list[int], list[float]]]:
    """The points of train_gpt2.cu/.py stdout: ``step N/T | train loss .. | norm .. | lr ..`` at N as printed, and
    each ``val loss ..`` at the step of the training line before it: llm.c evaluates at the top of loop
    iteration ``step``, before training it and printing it as ``step + 1``, so the first is at step 0 (its log
    file writes the same points as ``s:0 tel:``, ``s:50 tel:``...)."""
    step_re = re.compile(r"^step +(\d+)/\d+ \| train loss ([\d.]+) \| norm ([\d.]+) \| lr ([\d.e+-]+) \|")
    points: dict[str, list[tuple[int, float]]] = {"train_loss": [], "norm": [], "lr": [], "val_loss": []}
    last = 0
    for line in path.read_text().splitlines():
        if m := step_re.match(line):
            last = int(m[1])
            for name, group in (("train_loss", 2), ("norm", 3), ("lr", 4)):
                points[name].append((last, float(m[group])))
        elif m := re.match(r"^val loss ([\d.]+)$", line):
            points["val_loss"].append((last, float(m[1])))
    return {name: _pairs(p) for name, p in points.items()}


@pytest.mark.parametrize("target", [LLMC_LOG, LLMC_LOG.parent], ids=["file", "dir"])
def test_llmc_logger_h_log_file(target):
    expected = _llmc_log(LLMC_LOG)
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "textlog"
    for name in ("trl", "tel", "lr", "norm"):
        assert _points(data, name) == expected[name]
    assert expected["tel"][0] == [0, 50, 100, 150, 200] and expected["trl"][0] == list(range(200))


def test_llmc_train_gpt2_py_log_file():
    expected = _llmc_log(LLMC_PY_LOG)
    data = load_run(LLMC_PY_LOG, sandbox=Sandbox.unrestricted())
    assert set(data.series) == {"trl", "tel"}
    assert (_points(data, "trl"), _points(data, "tel")) == (expected["trl"], expected["tel"])


@pytest.mark.parametrize("path", [LLMC_LOG, LLMC_PY_LOG], ids=["logger_h", "train_gpt2_py"])
def test_llmc_log_file_roles(path):
    expected = _llmc_log(path)
    data = load_run(path, sandbox=Sandbox.unrestricted())
    roles = data.roles
    assert roles.train_loss is not None and _points(data, roles.train_loss) == expected["trl"]
    assert roles.val_loss and _points(data, roles.val_loss[0]) == expected["tel"]
    if "norm" in expected:
        assert roles.grad_total is not None and _points(data, roles.grad_total) == expected["norm"]
        assert roles.lr is not None and _points(data, roles.lr) == expected["lr"]


def test_llmc_hellaswag_accuracy_is_not_a_loss():
    expected = _llmc_log(LLMC_LOG)
    data = load_run(LLMC_LOG, sandbox=Sandbox.unrestricted())
    hella = expected["eval"][1]
    for name, s in data.series.items():
        if is_loss_name(name):
            assert s.values.tolist() != hella, f"{name} holds the HellaSwag accuracies"
    assert not {n for n in data.roles.val_loss if data.series[n].values.tolist() == hella}


@pytest.mark.parametrize("path", [LLMC_CU, LLMC_PY], ids=["train_gpt2_cu", "train_gpt2_py"])
def test_llmc_stdout_training_lines(path):
    expected = _llmc_stdout(path)
    data = load_run(path, sandbox=Sandbox.unrestricted())
    assert data.source == "textlog"
    assert set(data.series) == {"train_loss", "norm", "lr", "val_loss"}  # no ms, MFU, tok/s, header table
    for name in ("train_loss", "norm", "lr"):
        assert _points(data, name) == expected[name]
    assert expected["train_loss"][0] == list(range(1, 201))  # printed as step + 1
    assert (data.roles.train_loss, data.roles.val_loss, data.roles.lr) == ("train_loss", ["val_loss"], "lr")
    # the llm.c log file of the same run has the same validation points
    tel = _llmc_log(LLMC_PY_LOG)["tel"]
    assert expected["val_loss"][0] == tel[0]


@pytest.mark.parametrize("path", [LLMC_CU, LLMC_PY], ids=["train_gpt2_cu", "train_gpt2_py"])
def test_llmc_stdout_val_loss_before_the_first_step(path):
    expected = _llmc_stdout(path)
    data = load_run(path, sandbox=Sandbox.unrestricted())
    assert _points(data, "val_loss") == expected["val_loss"]


# ---------------------------------------------------------------------------------------------
# build-nanogpt log/log.txt: "{step} train {loss}", "{step} val {loss}", "{step} hella {acc}"
# ---------------------------------------------------------------------------------------------

BUILD_NANOGPT = TEXT / "build_nanogpt" / "log" / "log.txt"


@pytest.mark.parametrize("target", [BUILD_NANOGPT, TEXT / "build_nanogpt"], ids=["file", "dir"])
def test_build_nanogpt_log_txt(target):
    lines = BUILD_NANOGPT.read_text().splitlines()
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "textlog"
    assert set(data.series) == {"train_loss", "val_loss"}  # "hella" is an accuracy: not a loss, no series
    for kind in ("train", "val"):
        assert _points(data, f"{kind}_loss") == _pairs(
            [(m[1], m[2]) for m in _matches(rf"^(\d+) {kind} (\S+)$", lines)]
        )
    assert data.series["val_loss"].steps.tolist() == [0, 250, 500, 599]
    assert (data.roles.train_loss, data.roles.val_loss) == ("train_loss", ["val_loss"])


# ---------------------------------------------------------------------------------------------
# fairseq-train: logging prefix, train_inner / valid / end-of-epoch train lines
# ---------------------------------------------------------------------------------------------

FAIRSEQ = TEXT / "fairseq" / "train.log"
_PREFIX = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| INFO \| "


def _fairseq() -> dict[str, dict[str, tuple[list[int], list[float]]]]:
    """Per kind of line (train_inner, valid, train), each stat's points at the line's num_updates."""
    lines = FAIRSEQ.read_text().splitlines()
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for m in _matches(_PREFIX + r"train_inner \| epoch \d+: +\d+ / \d+ (.*)$", lines):
        stats = dict(kv.split("=") for kv in m[1].split(", "))
        for key, value in stats.items():
            out.setdefault("train_inner", {}).setdefault(key, []).append((int(stats["num_updates"]), float(value)))
    for kind, pattern in (
        ("valid", r"valid \| epoch \d+ \| valid on 'valid' subset \| (.*)$"),
        ("train", r"train \| epoch \d+ \| (.*)$"),
    ):
        for m in _matches(_PREFIX + pattern, lines):
            stats = dict(kv.split(" ") for kv in m[1].split(" | "))
            for key, value in stats.items():
                out.setdefault(kind, {}).setdefault(key, []).append((int(stats["num_updates"]), float(value)))
    return {kind: {key: _pairs(p) for key, p in stats.items()} for kind, stats in out.items()}


@pytest.mark.parametrize("target", [FAIRSEQ, FAIRSEQ.parent], ids=["file", "dir"])
def test_fairseq_train_inner_and_valid_lines(target):
    expected = _fairseq()
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "textlog"
    for key in ("loss", "nll_loss", "ppl"):  # the valid lines' stats, under the validation phase
        assert _points(data, f"val_{key}") == expected["valid"][key]
    for key in ("loss", "nll_loss", "ppl", "lr", "gnorm"):  # every train_inner point, at its num_updates
        steps, values = _points(data, key)
        got = dict(zip(steps, values, strict=True))
        assert {s: got.get(s) for s in expected["train_inner"][key][0]} == dict(
            zip(*expected["train_inner"][key], strict=True)
        )
    assert not {"wps", "ups", "wpb", "bsz", "wall", "train_wall", "gb_free", "num_updates"} & data.series.keys()
    assert (data.roles.train_loss, data.roles.lr) == ("loss", "lr")
    assert "val_loss" in data.roles.val_loss


def test_fairseq_epoch_averages_are_not_mixed_into_the_per_update_series():
    expected = _fairseq()
    data = load_run(FAIRSEQ, sandbox=Sandbox.unrestricted())
    for key in ("loss", "nll_loss", "ppl", "lr", "gnorm"):
        assert _points(data, key) == expected["train_inner"][key]


def test_fairseq_best_loss_is_not_the_validation_loss():
    data = load_run(FAIRSEQ, sandbox=Sandbox.unrestricted())
    assert data.roles.val_loss[0] == "val_loss"
    assert "val_best_loss" not in data.roles.val_loss


def test_fairseq_gnorm_is_the_gradient_norm():
    assert load_run(FAIRSEQ, sandbox=Sandbox.unrestricted()).roles.grad_total == "gnorm"


# ---------------------------------------------------------------------------------------------
# detectron2's log.txt (CommonMetricPrinter behind the logging prefix)
# ---------------------------------------------------------------------------------------------

D2_LOG = TEXT / "detectron2_stdout" / "output" / "log.txt"


@pytest.mark.parametrize("target", [D2_LOG, TEXT / "detectron2_stdout"], ids=["file", "dir"])
def test_detectron2_stdout(target):
    lines = D2_LOG.read_text().splitlines()
    metric_lines = _matches(r"^\[\d\d/\d\d \d\d:\d\d:\d\d\] d2\.utils\.events INFO:  .*iter: (\d+)  (.*)$", lines)
    expected: dict[str, list[tuple[int, float]]] = {}
    for m in metric_lines:
        for key, value in re.findall(r"(\w+): ([\d.e+-]+)(?=\s|$)", m[2]):
            expected.setdefault(key, []).append((int(m[1]), float(value)))
    losses = {k for k in expected if "loss" in k}
    assert losses == {"total_loss", "loss_cls", "loss_box_reg", "loss_mask", "loss_rpn_cls", "loss_rpn_loc"}
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "textlog"
    for name in (*losses, "lr"):
        assert _points(data, name) == _pairs(expected[name])
    assert data.series["max_mem"].values.tolist() == [2713.0] * len(metric_lines)  # "max_mem: 2713M"
    # Timings, the ETA and the COCO tables printed after training are not series.
    assert set(data.series) == {*losses, "lr", "max_mem"}
    assert (data.roles.train_loss, data.roles.lr, data.roles.val_loss) == ("total_loss", "lr", [])


# ---------------------------------------------------------------------------------------------
# pytorch/examples mnist: "Train Epoch: 1 [640/60000 (1%)]\tLoss: ..." and "Test set: Average loss: ..."
# ---------------------------------------------------------------------------------------------

MNIST = TEXT / "pytorch_mnist" / "train.log"


def _mnist() -> tuple[list[tuple[int, float]], list[tuple[int, float]], list[tuple[int, float]]]:
    """Training points at (epoch - 1) x 60000 + samples seen; each test line at the step of the training line
    printed before it (its epoch's last)."""
    train, test_loss, test_acc = [], [], []
    for line in MNIST.read_text().splitlines():
        if m := re.match(r"^Train Epoch: (\d+) \[(\d+)/(\d+) \(\d+%\)\]\tLoss: ([\d.]+)$", line):
            train.append(((int(m[1]) - 1) * int(m[3]) + int(m[2]), float(m[4])))
        elif m := re.match(r"^Test set: Average loss: ([\d.]+), Accuracy: (\d+)/(\d+) \(\d+%\)$", line):
            test_loss.append((train[-1][0], float(m[1])))
            test_acc.append((train[-1][0], int(m[2]) / int(m[3])))
    return train, test_loss, test_acc


@pytest.mark.parametrize("target", [MNIST, MNIST.parent], ids=["file", "dir"])
def test_pytorch_mnist_train_lines(target):
    train, test_loss, _ = _mnist()
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "textlog"
    assert _points(data, "loss") == _pairs(train)
    assert len(test_loss) == 3 and data.series["test_average_loss"].values.tolist() == [v for _, v in test_loss]
    assert (data.roles.train_loss, data.roles.val_loss) == ("loss", ["test_average_loss"])


def test_pytorch_mnist_test_lines_at_the_end_of_their_epoch():
    _, test_loss, test_acc = _mnist()
    data = load_run(MNIST, sandbox=Sandbox.unrestricted())
    assert _points(data, "test_average_loss") == _pairs(test_loss)
    assert _points(data, "test_accuracy") == _pairs(test_acc)


# ---------------------------------------------------------------------------------------------
# logging prefixes (torchrun's "[rank0]:", the HF examples' logging format), a FutureWarning, a traceback
# ---------------------------------------------------------------------------------------------

LOGGING = TEXT / "logging_prefix" / "train.log"


@pytest.mark.parametrize("target", [LOGGING, LOGGING.parent], ids=["file", "dir"])
def test_logging_prefixes_warning_and_traceback(target):
    lines = LOGGING.read_text().splitlines()
    prefix = r"^\[rank0\]:\d\d/\d\d/\d{4} \d\d:\d\d:\d\d - INFO - __main__ - "
    train = _matches(prefix + r"step (\d+): loss ([\d.]+), lr ([\d.e+-]+), grad_norm ([\d.]+)$", lines)
    val = _matches(prefix + r"step (\d+): val_loss ([\d.]+), val_ppl ([\d.]+)$", lines)
    assert any("FutureWarning" in line for line in lines) and any(
        line.endswith("Traceback (most recent call last):") for line in lines
    )
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "textlog"
    assert set(data.series) == {"loss", "lr", "grad_norm", "val_loss", "val_ppl"}
    for name, matches, group in (
        ("loss", train, 2),
        ("lr", train, 3),
        ("grad_norm", train, 4),
        ("val_loss", val, 2),
        ("val_ppl", val, 3),
    ):
        assert _points(data, name) == _pairs([(m[1], m[group]) for m in matches])
    roles = data.roles
    assert (roles.train_loss, roles.val_loss, roles.lr, roles.grad_total) == ("loss", ["val_loss"], "lr", "grad_norm")


# ---------------------------------------------------------------------------------------------
# a Markdown notes file holding a pasted word_language_model log in a fenced block
# ---------------------------------------------------------------------------------------------

NOTES = TEXT / "notes_md" / "wlm-run.md"


def test_markdown_notes_with_a_pytorch_table_passed_explicitly():
    text = NOTES.read_text()
    assert "\n```\n" in text  # the table is inside a fenced block among prose
    lines = text.splitlines()
    batch = _matches(
        r"^\| epoch +(\d+) \| +(\d+)/ *(\d+) batches \| lr ([\d.]+) \| ms/batch +[\d.]+ \| "
        r"loss +([\d.]+) \| ppl +([\d.]+)$",
        lines,
    )
    per_epoch = int(batch[0][3])
    ends = _matches(r"^\| end of epoch +(\d+) \| time: +[\d.]+s \| valid loss +([\d.]+) \| valid ppl +([\d.]+)$", lines)
    (test,) = _matches(r"^\| End of training \| test loss +([\d.]+) \| test ppl +([\d.]+)$", lines)
    data = load_run(NOTES, sandbox=Sandbox.unrestricted())
    assert data.source == "textlog"
    step = [(int(m[1]) - 1) * per_epoch + int(m[2]) for m in batch]
    assert _points(data, "loss") == (step, [float(m[5]) for m in batch])
    assert _points(data, "lr") == (step, [float(m[4]) for m in batch])
    assert _points(data, "valid_loss") == _pairs([(int(m[1]) * per_epoch, m[2]) for m in ends])
    assert _points(data, "test_loss") == ([3 * per_epoch], [float(test[1])])
    assert (data.roles.train_loss, data.roles.val_loss, data.roles.lr) == ("loss", ["valid_loss", "test_loss"], "lr")
    with pytest.raises(InputError):  # in a directory a .md is nobody's log: only a file named explicitly is read
        load_run(NOTES.parent, sandbox=Sandbox.unrestricted())


# ---------------------------------------------------------------------------------------------
# detectron2 metrics.json: two runs appended to one file
# ---------------------------------------------------------------------------------------------

D2_JSON = FORMATS_DIR / "detectron2_json" / "output" / "metrics.json"


@pytest.mark.parametrize("target", [D2_JSON, FORMATS_DIR / "detectron2_json"], ids=["file", "dir"])
def test_detectron2_metrics_json_with_an_appended_run(target):
    records = [json.loads(line) for line in D2_JSON.read_text().splitlines()]
    restart = next(i for i in range(1, len(records)) if records[i]["iteration"] < records[i - 1]["iteration"])
    runs = {"earlier-run-1/": records[:restart], "": records[restart:]}
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "jsonl"
    for prefix, run in runs.items():
        for key in ("total_loss", "loss_cls", "loss_mask", "lr", "time", "bbox/AP", "bbox/APs"):
            have = [r for r in run if key in r]
            steps, values = _points(data, prefix + key)
            assert steps == [r["iteration"] for r in have]
            assert _same(values, [r[key] for r in have])  # bbox/APs is NaN: no small objects
    assert "iteration" not in data.series and not any(n.startswith("earlier-run-2/") for n in data.series)
    assert (data.roles.train_loss, data.roles.lr, data.roles.val_loss) == ("total_loss", "lr", [])
    assert any("holds 2 runs one after another" in w for w in data.warnings)


# ---------------------------------------------------------------------------------------------
# mmdetection 2.x <timestamp>.log.json: a header line over 16 KB, mode train/val, iter counted per epoch
# ---------------------------------------------------------------------------------------------

MMDET_DIR = FORMATS_DIR / "mmdet2"
MMDET = next(MMDET_DIR.rglob("*.log.json"))


@pytest.mark.parametrize("target", [MMDET, MMDET_DIR], ids=["file", "dir"])
def test_mmdet2_log_json(target):
    header, *lines = MMDET.read_text().splitlines()
    assert len(header.encode()) > 16 << 10 and "env_info" in json.loads(header)  # no whole line in a 16 KB sniff
    records = [json.loads(line) for line in lines]
    train = [r for r in records if r["mode"] == "train"]
    val = [r for r in records if r["mode"] == "val"]
    per_epoch = max(r["iter"] for r in train)  # the iteration counter starts again every epoch
    assert [r["iter"] for r in train[:5]] == [50, 100, 150, 200, 50]
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "jsonl"
    for key in ("loss", "loss_rpn_cls", "s0.loss_cls", "s2.loss_mask", "lr"):
        assert _points(data, key) == (
            [(r["epoch"] - 1) * per_epoch + r["iter"] for r in train],
            [r[key] for r in train],
        )
    for key in ("bbox_mAP", "segm_mAP"):  # each evaluation at the end of its epoch
        assert _points(data, f"val/{key}") == ([r["epoch"] * per_epoch for r in val], [r[key] for r in val])
    assert not {"seed", "env_info", "config", "iter", "val/iter", "mode"} & data.series.keys()
    assert (data.roles.train_loss, data.roles.lr) == ("loss", "lr")
    assert "total_loss" not in data.series  # mmdetection logs its total as "loss": nothing to add


# ---------------------------------------------------------------------------------------------
# mmengine scalars.json: validation records carry the epoch as their step
# ---------------------------------------------------------------------------------------------

MMENGINE_DIR = FORMATS_DIR / "mmengine"
MMENGINE = next(MMENGINE_DIR.rglob("scalars.json"))


@pytest.mark.parametrize("target", [MMENGINE, MMENGINE_DIR], ids=["file", "dir"])
def test_mmengine_scalars_json(target):
    records = [json.loads(line) for line in MMENGINE.read_text().splitlines()]
    train = [r for r in records if "epoch" in r]
    val = [r for r in records if "epoch" not in r]
    last_of_epoch = {r["epoch"]: r["step"] for r in train}  # in file order: the epoch's last training step
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "jsonl"
    for key in ("loss", "loss_cls", "lr"):
        assert _points(data, key) == ([r["step"] for r in train], [r[key] for r in train])
    assert _points(data, "coco/bbox_mAP") == (
        [last_of_epoch[r["step"]] for r in val],
        [r["coco/bbox_mAP"] for r in val],
    )
    assert data.series["coco/bbox_mAP"].steps.tolist() == list(range(100, 1001, 100))
    assert (data.roles.train_loss, data.roles.lr, data.roles.epoch) == ("loss", "lr", "epoch")


# ---------------------------------------------------------------------------------------------
# LLaMA-Factory trainer_log.jsonl
# ---------------------------------------------------------------------------------------------

LLAMA_FACTORY_DIR = FORMATS_DIR / "llama_factory"
LLAMA_FACTORY = next(LLAMA_FACTORY_DIR.rglob("trainer_log.jsonl"))


@pytest.mark.parametrize("target", [LLAMA_FACTORY, LLAMA_FACTORY_DIR], ids=["file", "dir"])
def test_llama_factory_trainer_log(target):
    records = [json.loads(line) for line in LLAMA_FACTORY.read_text().splitlines()]
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "jsonl"
    for key in ("loss", "eval_loss", "lr"):
        have = [r for r in records if key in r]
        assert _points(data, key) == ([r["current_steps"] for r in have], [r[key] for r in have])
    assert "current_steps" not in data.series and not {"elapsed_time", "remaining_time"} & data.series.keys()
    roles = data.roles
    assert (roles.train_loss, roles.val_loss, roles.lr, roles.epoch) == ("loss", ["eval_loss"], "lr", "epoch")


# ---------------------------------------------------------------------------------------------
# JSON documents saved by hand
# ---------------------------------------------------------------------------------------------

JSONDOC = FORMATS_DIR / "jsondoc"


@pytest.mark.parametrize(
    "target", [JSONDOC / "keras_history" / "history.json", JSONDOC / "keras_history"], ids=["file", "dir"]
)
def test_keras_history_dump(target):
    history = json.loads((JSONDOC / "keras_history" / "history.json").read_text())
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "jsondoc"
    assert set(data.series) == set(history)
    for key, values in history.items():  # one value per epoch; epochs counted from 1, as Keras prints them
        assert _points(data, key) == (list(range(1, len(values) + 1)), values)
    roles = data.roles
    assert (roles.train_loss, roles.val_loss, roles.lr) == ("loss", ["val_loss"], "learning_rate")


def test_nested_history_beside_a_config():
    doc = json.loads((JSONDOC / "nested" / "run_summary.json").read_text())
    data = load_run(JSONDOC / "nested", sandbox=Sandbox.unrestricted())
    assert set(data.series) == set(doc["history"])
    for key, values in doc["history"].items():
        assert _points(data, key) == (list(range(1, len(values) + 1)), values)
    assert (data.roles.train_loss, data.roles.val_loss) == ("loss", ["val_loss"])


@pytest.mark.parametrize("target", [JSONDOC / "records" / "log.json", JSONDOC / "records"], ids=["file", "dir"])
def test_list_of_per_epoch_records(target):
    records = json.loads((JSONDOC / "records" / "log.json").read_text())
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "jsondoc"
    assert set(data.series) == {"train_loss", "val_loss", "val_acc", "lr"}  # "time": "41.3s" is text
    for key in data.series:
        assert _points(data, key) == ([r["epoch"] for r in records], [r[key] for r in records])
    assert (data.roles.train_loss, data.roles.val_loss, data.roles.lr) == ("train_loss", ["val_loss"], "lr")


def test_str_of_history_in_a_txt_file():
    path = JSONDOC / "history_txt" / "history.txt"
    text = path.read_text()
    assert text.startswith("{'") and ": nan" not in text and ", nan" in text  # Python's repr, a bare nan
    history = {
        k: [math.nan if v is None else v for v in vs]
        for k, vs in ast.literal_eval(re.sub(r"\bnan\b", "None", text)).items()
    }
    for target in (path, path.parent):
        data = load_run(target, sandbox=Sandbox.unrestricted())
        assert data.source == "jsondoc"
        assert set(data.series) == set(history)
        for key, values in history.items():
            steps, got = _points(data, key)
            assert steps == list(range(1, len(values) + 1)) and _same(got, values)
        assert (data.roles.train_loss, data.roles.val_loss) == ("loss", ["val_loss"])


def test_losses_saved_as_tensor_strings():
    path = JSONDOC / "tensor_strings" / "metrics.json"
    doc = json.loads(path.read_text())
    assert doc["train_loss"][0].startswith("tensor(") and "grad_fn=<NllLossBackward0>" in doc["train_loss"][0]
    train = [float(re.match(r"tensor\(([\d.]+),", s)[1]) for s in doc["train_loss"]]
    data = load_run(path, sandbox=Sandbox.unrestricted())
    assert data.source == "jsondoc"
    assert _points(data, "train_loss") == (list(range(1, len(train) + 1)), train)
    assert _points(data, "val_loss") == (list(range(1, len(train) + 1)), doc["val_loss"])
    assert (data.roles.train_loss, data.roles.val_loss) == ("train_loss", ["val_loss"])


# ---------------------------------------------------------------------------------------------
# MLflow metric files without their run's meta.yaml
# ---------------------------------------------------------------------------------------------

MLFLOW = FORMATS_DIR / "mlflow_files"


def _mlflow(path: Path) -> tuple[list[int], list[float], list[float]]:
    rows = [line.split() for line in path.read_text().splitlines()]
    return [int(r[2]) for r in rows], [float(r[1]) for r in rows], [int(r[0]) / 1000 for r in rows]


def test_bare_mlflow_metric_file_named_by_its_key():
    path = MLFLOW / "bare" / "train_loss"
    steps, values, walls = _mlflow(path)
    data = load_run(path, sandbox=Sandbox.unrestricted())  # no suffix, no meta.yaml: recognised by its content
    assert data.source == "mlflow_metric"
    assert set(data.series) == {"train_loss"}
    assert _points(data, "train_loss") == (steps, values)
    assert data.series["train_loss"].wall_times.tolist() == walls
    assert data.roles.train_loss == "train_loss"


@pytest.mark.parametrize("target", [MLFLOW / "copied_run", MLFLOW / "copied_run" / "metrics"], ids=["run", "metrics"])
def test_mlflow_metrics_folder_without_meta_yaml(target):
    metrics = MLFLOW / "copied_run" / "metrics"
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "mlflow_metric"
    assert set(data.series) == {"loss", "val_loss", "train/lr"}
    for key in data.series:
        steps, values, _ = _mlflow(metrics / key)
        assert _points(data, key) == (steps, values)
    assert (data.roles.train_loss, data.roles.val_loss, data.roles.lr) == ("loss", ["val_loss"], "train/lr")


# ---------------------------------------------------------------------------------------------
# YOLOv5 results.txt and results.csv (single class: cls loss 0), ultralytics YOLOv8 results.csv
# ---------------------------------------------------------------------------------------------

YOLO = FORMATS_DIR / "yolo"
YOLOV5_TXT_NAMES = (
    "train/box_loss",
    "train/obj_loss",
    "train/cls_loss",
    "train/total_loss",
    "targets",
    "img_size",
    "metrics/precision",
    "metrics/recall",
    "metrics/mAP_0.5",
    "metrics/mAP_0.5:0.95",
    "val/box_loss",
    "val/obj_loss",
    "val/cls_loss",
)


def _yolo_csv(path: Path) -> list[dict[str, float]]:
    with open(path, newline="") as fh:
        return [{k.strip(): float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def _no_zero_loss_finding(path: Path) -> None:
    from traintriage.api import analyze_loss

    report = analyze_loss(path, sandbox=Sandbox.unrestricted())
    assert report.run.roles.train_loss == "train/total_loss"
    assert not [f for f in report.findings if f.code == "zero_loss"]  # a single-class cls loss is 0 by design


@pytest.mark.parametrize("target", [YOLO / "yolov5_txt" / "results.txt", YOLO / "yolov5_txt"], ids=["file", "dir"])
def test_yolov5_results_txt_single_class(target):
    rows = []
    for line in (YOLO / "yolov5_txt" / "results.txt").read_text().splitlines():
        epoch, _mem, *fields = line.split()
        rows.append({"epoch": int(epoch.split("/")[0]), **dict(zip(YOLOV5_TXT_NAMES, map(float, fields), strict=True))})
    assert {r["train/cls_loss"] for r in rows} == {0.0} == {r["val/cls_loss"] for r in rows}
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "yolo_results"
    epochs = [r["epoch"] for r in rows]
    for name in YOLOV5_TXT_NAMES:
        if name not in ("targets", "img_size"):
            assert _points(data, name) == (epochs, [r[name] for r in rows])
    steps, total = _points(data, "val/total_loss")  # derived: results.txt logs no validation total
    parts = [r["val/box_loss"] + r["val/obj_loss"] + r["val/cls_loss"] for r in rows]
    assert steps == epochs and total == pytest.approx(parts, rel=1e-12)
    assert (data.roles.train_loss, data.roles.val_loss) == ("train/total_loss", ["val/total_loss"])
    _no_zero_loss_finding(target)


@pytest.mark.parametrize(
    ("folder", "parts"),
    [("yolov5_csv", ("box_loss", "obj_loss", "cls_loss")), ("ultralytics", ("box_loss", "cls_loss", "dfl_loss"))],
)
def test_yolo_results_csv_gets_derived_totals(folder, parts):
    path = YOLO / folder / "results.csv"
    header = path.read_text().splitlines()[0]
    assert header.startswith(" ") and ",train/box_loss" not in header  # names padded with '%20s' / '%23s'
    rows = _yolo_csv(path)
    for target in (path, path.parent):
        data = load_run(target, sandbox=Sandbox.unrestricted())
        assert data.source == "csv"
        epochs = [int(r["epoch"]) for r in rows]
        for name in rows[0]:
            if name != "epoch":
                assert _points(data, name) == (epochs, [r[name] for r in rows])
        for phase in ("train", "val"):
            steps, total = _points(data, f"{phase}/total_loss")
            assert steps == epochs
            assert total == pytest.approx([sum(r[f"{phase}/{p}"] for p in parts) for r in rows], rel=1e-12)
        assert (data.roles.train_loss, data.roles.val_loss) == ("train/total_loss", ["val/total_loss"])
    if folder == "yolov5_csv":
        assert {r["train/cls_loss"] for r in rows} == {0.0}
    else:
        assert data.roles.lr == "lr/pg0"
    _no_zero_loss_finding(path)


def test_yolov5_results_csv_learning_rate_role():
    assert load_run(YOLO / "yolov5_csv" / "results.csv", sandbox=Sandbox.unrestricted()).roles.lr == "x/lr0"


# ---------------------------------------------------------------------------------------------
# CSV variants: tab-separated, and a UTF-8 BOM with CRLF from Excel
# ---------------------------------------------------------------------------------------------

CSV_VARIANTS = FORMATS_DIR / "csv_variants"


@pytest.mark.parametrize("target", [CSV_VARIANTS / "tsv" / "train_log.tsv", CSV_VARIANTS / "tsv"], ids=["file", "dir"])
def test_tab_separated_values(target):
    with open(CSV_VARIANTS / "tsv" / "train_log.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "csv"
    assert set(data.series) == {"loss", "val_loss", "lr", "grad_norm"}
    for key in data.series:
        have = [r for r in rows if r[key]]  # val_loss only every 200 steps: empty cells are no point
        assert _points(data, key) == ([int(r["step"]) for r in have], [float(r[key]) for r in have])
    assert len(data.series["val_loss"]) < len(data.series["loss"])
    roles = data.roles
    assert (roles.train_loss, roles.val_loss, roles.lr, roles.grad_total) == ("loss", ["val_loss"], "lr", "grad_norm")


@pytest.mark.parametrize(
    "target", [CSV_VARIANTS / "excel_bom" / "training_log.csv", CSV_VARIANTS / "excel_bom"], ids=["file", "dir"]
)
def test_csv_with_a_utf8_bom_and_crlf(target):
    path = CSV_VARIANTS / "excel_bom" / "training_log.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfepoch,") and b"\r\n" in raw
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    data = load_run(target, sandbox=Sandbox.unrestricted())
    assert data.source == "csv"
    assert set(data.series) == {"train_loss", "val_loss", "val_acc"}  # the BOM is not part of the first name
    for key in data.series:
        assert _points(data, key) == ([int(r["epoch"]) for r in rows], [float(r[key]) for r in rows])
    assert (data.roles.train_loss, data.roles.val_loss) == ("train_loss", ["val_loss"])


# ---------------------------------------------------------------------------------------------
# The template learner's fast path reads exactly what the general tokenizer reads
# ---------------------------------------------------------------------------------------------


def test_a_templates_own_pattern_reads_what_the_general_tokenizer_reads(monkeypatch):
    """Each learned template compiles its own pattern and reads the lines after it with that (most lines are the
    same print statement as the line before); every text fixture must give the same series either way."""
    from traintriage.sources import inventory, templates, textlog

    texts = [p for p in sorted(FORMATS_DIR.rglob("*")) if p.is_file() and not p.name.endswith((".py", ".md5"))
             and inventory.classify(p, explicit=True) == "textlog"]
    assert len(texts) >= 15

    def read_all() -> dict:
        out = {}
        for path in texts:
            filecache.clear()
            series, _, _ = textlog._parse(path)
            out[path] = {name: (s.steps.tolist(), [repr(v) for v in s.values.tolist()]) for name, s in series.items()}
        return out

    fast = read_all()
    monkeypatch.setattr(templates, "_own_pattern", lambda *args: None)
    assert read_all() == fast
