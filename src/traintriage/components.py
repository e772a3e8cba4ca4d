"""Multi-part losses: a run that logs its loss only as components gets their total.

Detection and segmentation trainers log the parts of the objective and not always their sum: ultralytics
writes ``train/box_loss``, ``train/cls_loss``, ``train/dfl_loss`` (and the same under ``val/``), YOLOv5's
``results.csv`` adds ``obj_loss``. Judging any one part as *the* loss is wrong twice over: a part can be
exactly 0 by design (the class loss of a single-class detector is not a ``zero_loss``), and a part can
move against the total (box loss up while class loss falls). So when a group of loss series sharing a
prefix (``train/``, ``val/``) has no total among them, :func:`with_totals` adds one,
``<prefix>total_loss``, the sum of the parts at each step they all logged, and says so. The parts stay as
they are, for context. A group that logs its total (detectron2's ``total_loss``, mmdetection's ``loss``)
is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .signals import Series, is_loss_name, is_total, loss_flavour, name_words

PHASE_WORDS = frozenset({"train", "training", "val", "valid", "validation", "eval", "evaluation", "test", "dev"})


def _split(name: str) -> tuple[str, str]:
    """``("train/", "box_loss")`` for ``train/box_loss``; ``("", "loss_cls")`` for ``loss_cls``."""
    prefix, sep, leaf = name.rpartition("/")
    return (prefix + sep, leaf)


def _is_part(leaf: str) -> bool:
    """A component: a loss with a word of its own (``box_loss``, ``loss_cls``), not a phase's loss (``val_loss``,
    llm.c's ``trl`` and ``tel``)."""
    words = name_words(leaf)
    return (is_loss_name(leaf) and not is_total(leaf) and not PHASE_WORDS & set(words)
            and loss_flavour(leaf) == "plain")


def with_totals(series: Mapping[str, Series]) -> tuple[dict[str, Series], list[str]]:
    """``series`` plus a ``<prefix>total_loss`` for each group of two or more loss parts without a total,
    and a note per total added."""
    groups: dict[str, list[str]] = {}
    totals: set[str] = set()
    for name in series:
        prefix, leaf = _split(name)
        if is_total(leaf) and is_loss_name(leaf):
            totals.add(prefix)
        elif _is_part(leaf):
            groups.setdefault(prefix, []).append(name)
    out = dict(series)
    notes = []
    for prefix, parts in groups.items():
        name = f"{prefix}total_loss"
        if prefix in totals or len(parts) < 2 or name in out:
            continue
        steps = series[parts[0]].steps
        common = steps
        for part in parts[1:]:
            common = np.intersect1d(common, series[part].steps, assume_unique=True)
        if common.size < max(1, steps.size // 2):
            continue  # parts logged at different steps: not one objective's terms
        total = np.zeros(common.size)
        for part in parts:
            s = series[part]
            idx = np.searchsorted(s.steps, common)
            total = total + s.values[idx]
        out[name] = Series(name, common, total, s.wall_times[idx])  # the wall times of the last part
        notes.append(f"{name} is the sum of {', '.join(sorted(parts))} (no total was logged); the parts are kept "
                     "as they are.")
    return out, notes


LOCALISATION_WORDS = frozenset({"box", "bbox", "iou", "giou", "ciou", "diou", "dfl", "reg", "loc", "l1"})
"""Words of a detector's localisation terms, which are zero only when no ground-truth box reaches the loss."""
CLASS_WORDS = frozenset({"cls", "class", "classification"})


def zero_parts(series: Mapping[str, Series]) -> list[tuple[str, str]]:
    """Loss parts that are exactly 0 at every logged point (>= 3), each with what that means: ``"no_targets"``
    for a localisation term (box, IoU, DFL: no ground-truth box reaches the loss, the labels are empty or not
    matched), ``"by_design"`` for a class term (a single-class detector has nothing to classify) or any other
    (a term switched off)."""
    out = []
    for name, s in series.items():
        leaf = _split(name)[1]
        finite = s.values[np.isfinite(s.values)]
        if not _is_part(leaf) or finite.size < 3 or np.any(finite != 0):
            continue
        words = set(name_words(leaf))
        out.append((name, "no_targets" if words & LOCALISATION_WORDS and not words & CLASS_WORDS else "by_design"))
    return out
