"""YOLOv5's (and ultralytics YOLOv3's) ``results.txt``: one whitespace-separated row per epoch, no header.

``train.py`` writes each row as ``'%10s' * 2 + '%10.4g' * 6`` (``epoch/last``, GPU memory, the box,
objectness, class and total training losses, the number of targets, the image size) followed by
``'%10.4g' * 7`` (precision, recall, mAP@.5, mAP@.5:.95, and the box, objectness and class validation
losses): 15 fields. Series take the names YOLOv5's later ``results.csv`` gives the same columns
(``train/box_loss``, ``metrics/mAP_0.5``, ``val/cls_loss``...), so roles and task metrics work the same
on both. The step is the epoch, as printed (from 0). Rows of another width are reported, not guessed at.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..signals import Series
from ..untrusted import as_float, bounded_lines, held_line_note, open_text, small_int, still_written
from .collect import Columns, LineProblems, load_each_and_merge
from .formats import Head, SourceFormat, suffix_claim

COLUMNS = (
    None,  # epoch/last: the step
    None,  # GPU memory ("4.17G")
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
_ROW_RE = re.compile(r"^\s*(\d+)/(\d+)\s+\S+((?:\s+\S+){13})\s*$")


def _parse(path: Path) -> tuple[dict[str, Series], list[str]]:
    problems = LineProblems(path)
    cols = Columns()
    held: list[str] = []
    try:
        with open_text(path) as fh:
            for line_no, line in enumerate(bounded_lines(fh, held=held if still_written(path) else None), 1):
                if line is None or not line.strip():
                    continue
                match = _ROW_RE.match(line)
                epoch = small_int(match.group(1)) if match else None
                if match is None or epoch is None:
                    problems.add(line_no, f"not a {len(COLUMNS)}-field YOLOv5 results row")
                    continue
                for name, raw in zip(COLUMNS[2:], match.group(3).split(), strict=True):
                    value = as_float(raw)
                    if value is None:
                        problems.add(line_no, f"{name!r} is not a number ({raw[:20]!r})")
                    elif name not in ("targets", "img_size"):
                        cols.add(name, epoch, value)
    except OSError as err:
        return {}, [f"{path}: cannot read ({err})"]
    warnings = [f"{path}: YOLOv5 results.txt (no header): columns named as YOLOv5's results.csv names them; "
                "steps are epochs."]
    return cols.to_series(), warnings + problems.finish() + ([held_line_note(path)] if held else [])


def load(run_dir: Path, files: list[Path]) -> tuple[dict[str, Series], list[str]]:
    return load_each_and_merge(run_dir, files, _parse)


def _sniff(head: Head) -> bool:
    rows = [line for line in head.lines if line.strip()]
    return len(rows) >= 2 and all(_ROW_RE.match(line) for line in rows[:20])


FORMAT = SourceFormat(
    "yolo_results",
    "YOLOv5 results.txt: headerless rows 'epoch/last mem box obj cls total targets size P R mAP.5 mAP.5:.95 "
    "val_box val_obj val_cls'",
    lambda path: suffix_claim(path, (".txt",)),
    _sniff,
    load,
)
