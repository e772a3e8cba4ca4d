"""Learn a text log's line templates instead of matching a fixed list of formats.

Training scripts print their metrics with one format string per kind of line (``iter 250: loss 3.14,
time 120.50ms``; ``step 500: train loss 2.71, val loss 2.83``; ``s:42 trl:3.25 lr:0.000600 norm:0.87``;
``Train Epoch: 1 [640/60000 (1%)]  Loss: 2.28``). In the spirit of the Drain log parser, each line is
split into its constant text and its numbers; lines with the same constant text come from the same
print statement and form one *template*. For each template, once:

- every number is named by the words just before it, within its field (``train loss 2.71`` ->
  ``train_loss``; ``| norm 0.87 |`` -> ``norm``; ``Epoch [3/10]`` -> ``epoch``), and a template whose
  text says which phase it reports (``Test set: Average loss``) prefixes it (``test_average_loss``);
- step counters are recognised by their names (``step``, ``iter``, ``it``, ``s``, ``iteration``,
  ``num_updates``, ``batch``, ``epoch``), as an unnamed progress count ``[640/60000]``, or as the integer a
  line starts with (build-nanogpt's ``250 val 3.31``);
- a number named by a bare phase word (``val 3.31``, ``train 3.25``) is that phase's loss;
- a number that is timing or bookkeeping (``time 120ms``, ``eta``, ``rank 0``) is dropped, by the same
  rule as the other text readers (:func:`~.collect.looks_like_metric`).

Timestamps, dates and durations (``2024-01-01 12:00:00,123``, ``[03/26 21:33:55``, ``eta 0:10:11``) are
part of the constant text, so prefixes added by ``logging``, torchrun (``[rank0]:``) or a job scheduler
do not split a template. Lines that carry no metric (warnings, tracebacks, config echoes) are ignored.

Steps, per line: the template's own global counter (``step``/``iter``/...); else its epoch combined with
its progress count (``(epoch - first) x total + n``); else the step most recently printed by another
template (a validation line printed after the training line of its step); else the epoch or step of the
last header line (``Epoch 3/10`` on a line of its own); else, for a template printed at least
:data:`MIN_UNCOUNTED_LINES` times, its line number among its own lines (with a warning). A counter that
falls back to where it started (:func:`~.collect.split_restarts`) is a new run in the same file when the loss
starts again far from where it was (the last run is analysed; the earlier ones are kept as
``earlier-run-<k>/<series>``, with a warning), or the next stage of the same run when the loss picks up where
it left off (its steps run on); one that falls back less far is a resumed run (the later lines win).
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import bottleneck as bn
import numpy as np

from ..signals import EARLIER_RUN_PREFIX, TIMING_PREFIX
from ..untrusted import small_int
from .collect import Columns, Stretch, earlier_run_prefix, looks_like_metric, split_restarts

MIN_UNCOUNTED_LINES = 3
"""A metric line with no step anywhere is a log only when its template repeats (else: a config echo)."""
MIN_PLACED_LINES = 2
"""A metric line without a counter of its own, placed at the step printed before it, must repeat too: printed
once it is a summary (``peak memory: 31255 MiB``, ``best val loss 1.47``), not a series."""

_MASKS = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[ T_]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\s+\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
    r"|\b\d+:\d{2}(?::\d{2})?(?:[.,]\d+)?(?![\d/])"
    r"|\b\d+\s+days?,\s*"
)
"""Timestamps, dates and durations: constant text of a template, never a number of it."""

_NUMBER = re.compile(
    r"(?<![\w.\-+/])(?P<num>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|(?i:nan|inf(?:inity)?)(?![A-Za-z])))"
    r"(?:\s*/\s*(?P<total>\d+)(?![\w.]))?"
    r"(?P<unit>%|[A-Za-z]{1,3}(?:/[A-Za-z]{1,5})?)?"
    r"(?![\w.])"
)
_INTEGER = re.compile(r"^\d+$")
_WHITESPACE = re.compile(r"[ \t]+")
_TIMEY = re.compile(r"\d[-/:]\d|\d{4}\.\d{1,2}\.\d|\d\s+days?,")
"""Whether a line may hold a timestamp, date or duration at all (most lines do not: no need to mask them)."""
MAX_SIGNATURES = 100_000
_SEPARATORS = re.compile(r"[,;|()\[\]{}<>\t]|\s-\s|\s—\s|:\s|=")
_WORD = re.compile(r"[A-Za-z_][\w/.\-@]*")
_BRACKET_KEY = re.compile(r"([A-Za-z_][\w/.\-@]*)\s*:?\s*[\[(]\s*$")

GLOBAL_COUNTERS = frozenset(
    {"step", "steps", "global_step", "iter", "iters", "iteration", "iterations", "it", "num_updates", "updates",
     "update", "total_iter", "global_iter", "train_step", "optimizer_step"}
)
EPOCH_COUNTERS = frozenset({"epoch", "epochs", "ep"})
PROGRESS_COUNTERS = frozenset({"batch", "batches", "mini_batch", "minibatch", "idx"})
_PHASES = {
    "train": "train", "training": "train", "trn": "train",
    "val": "val", "valid": "val", "validation": "val", "validating": "val",
    "eval": "eval", "evaluation": "eval", "evaluating": "eval",
    "test": "test", "testing": "test", "dev": "dev",
}
_PHASE_WORD = re.compile(r"[A-Za-z]+")
_BARE_PHASE_LOSSES = frozenset({"train", "val", "valid"})
"""A number named only by one of these is that phase's loss (build-nanogpt's ``250 val 3.31``); ``eval`` alone
is not (llm.c's log file writes HellaSwag accuracy as ``s:250 eval:0.2462``)."""


@dataclass
class _Slot:
    key: str  # normalised name (lower-case words joined by _), "" when the number has none
    kind: str  # "metric", "global", "epoch", "progress" (a step counter) or "" (ignored)
    ratio: bool  # "9402/10000" of a metric: read as 0.9402


@dataclass
class _Template:
    slots: list[_Slot]
    names: dict[int, str]  # slot index -> series name, for the metric slots
    timings: dict[int, str] = field(default_factory=dict)  # slot index -> timing/<name>, on counted lines
    counter: int | None = None  # global counter slot
    epoch: int | None = None
    progress: int | None = None
    lines: int = 0
    kept: list[int] = field(default_factory=list)  # the slots whose values are kept: metrics and counters
    values: dict[int, array] = field(default_factory=dict)  # slot -> value per line (NaN: none)
    totals: dict[int, array] = field(default_factory=dict)  # slot -> its "/N" total per line (0: none)
    orders: array = field(default_factory=lambda: array("q"))  # each line's position in the file
    fast: re.Pattern | None = None  # the template's own pattern (its constant text, its numbers' groups)
    first_epoch: float | None = None  # for the provisional step of a progress-counted line (feed)
    widest: float = 0.0
    base: float = 0.0
    last_n: float | None = None
    contexts: array = field(default_factory=lambda: array("d"))  # the step printed last before it (NaN: none)

    def column(self, slot: int) -> list[float]:
        return self.values[slot].tolist()


_ANY_TIME = r"[ \t]*(?:" + _MASKS.pattern + r")[ \t]*"
_NUM_BODY = r"([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|(?i:nan|inf(?:inity)?)))"


def _own_pattern(literal: list[str], tail: str, matches: list[re.Match]) -> re.Pattern | None:
    """A pattern that reads exactly the lines of this template: its constant text (any run of blanks for a
    run of blanks: padding varies), a number group and a total group per number, and its units. Lines it
    matches are tokenised as :data:`_NUMBER` would (the same constant text around the same number shapes)."""
    def plain(segment: str) -> str:
        return r"[ \t]+".join(re.escape(part) for part in re.split(r"[ \t]+", segment))

    def text(segment: str) -> str:  # a masked timestamp (" <t> ") matches any timestamp the masks match
        return _ANY_TIME.join(plain(part) for part in segment.split(" <t> "))

    parts = []
    for segment, m in zip(literal, matches, strict=True):
        parts.append(text(segment))
        parts.append(_NUM_BODY)
        parts.append(r"\s*/\s*(\d+)" if m.group("total") else "()")
        parts.append(re.escape(m.group("unit") or ""))
    parts.append(text(tail))
    try:
        return re.compile("".join(parts) + r"\Z")
    except re.error:
        return None


def _normalise(words: list[str]) -> str:
    return "_".join(w.lower() for w in words).strip("_./-")


def _key_of(segment: str) -> str:
    """The name of the number that follows ``segment`` (the constant text since the previous number)."""
    seg = segment.rstrip()
    bracket = _BRACKET_KEY.search(seg)
    if bracket and not re.search(r"[\d]", seg[bracket.end(1):]):
        return bracket.group(1).lower()
    seg = seg.rstrip(":=#").rstrip()
    cut = 0
    for match in _SEPARATORS.finditer(seg):
        cut = match.end()
    words = _WORD.findall(seg[cut:])
    return _normalise(words[-3:])


def _phase_of(literal: str, keys: list[str]) -> str | None:
    """The phase a template's constant text names (``Test set: ...``, ``| valid on 'valid' subset``)."""
    key_words = {w for k in keys for w in re.split(r"[_/.\-]", k)}
    for word in _PHASE_WORD.findall(literal):
        low = word.lower()
        if low in _PHASES and low not in key_words:
            return _PHASES[low]
    return None


_TIME_UNITS = frozenset({"s", "ms", "us", "ns", "h", "min", "sec", "secs", "it/s", "s/it"})
_SOURCE_FILE = re.compile(r"\.(?:py|pyx|cc|cpp|cu|c|h|hpp|java|rs|go)$")


def _classify(key: str, has_total: bool, first_slot: bool, unit: str = "") -> str:
    last = key.rsplit("_", 1)[-1] if key else ""
    if unit.lower() in _TIME_UNITS or _SOURCE_FILE.search(key):
        return ""  # "train 3.2s" is a timing, "learning.py:507" a logger's source line
    if key in GLOBAL_COUNTERS or (key == "s" and first_slot):
        return "global"
    if key in EPOCH_COUNTERS or (last in EPOCH_COUNTERS and key.endswith(("_epoch", "_epochs")) and "loss" not in key):
        return "epoch"
    if key in PROGRESS_COUNTERS or (last in PROGRESS_COUNTERS and has_total) or (not key and has_total):
        return "progress"  # "batch 200/1600", "Current batch:200/1600", "[640/60000]"
    if key and looks_like_metric(key):
        return "metric"
    return ""


_THROUGHPUT_UNITS = frozenset({"tok/s", "it/s", "s/it", "img/s", "ex/s", "seq/s", "sa/s"})
_TIMING_KEY_WORDS = frozenset({"time", "dt", "ms", "step_avg", "avg", "throughput", "speed", "fps", "tps", "mfu",
                               "samples_per_second", "tokens_per_second", "tok", "toks", "sec"})


def _spaced_unit(text: str) -> str:
    """A unit printed after a blank (``2950.00 ms``, ``177725 tok/s``): the first word of the text after a number
    when it is a time or throughput unit, else ""."""
    word = text.strip().split(" ", 1)[0].rstrip(",;|")
    return word if word.lower() in _TIME_UNITS or word.lower() in _THROUGHPUT_UNITS else ""


def timing_name(key: str, unit: str) -> str | None:
    """``timing/<key>_<unit>`` for a number that times the step or counts its throughput, else None (an
    ``eta``, a timestamp, a counter)."""
    words = set(re.split(r"[_/.\-]", key.lower())) - {""}
    if "eta" in words or "mfu" in words:
        return None
    if unit.lower() in _TIME_UNITS or unit.lower() in _THROUGHPUT_UNITS or words & _TIMING_KEY_WORDS:
        name = "_".join(filter(None, [key, unit.lower().replace("/", "_per_")]))
        return TIMING_PREFIX + (name or "time")
    return None


def _phase_name(phase: str | None, key: str) -> str:
    """``key`` with the template's phase in front when it is not training and the key does not say it
    (``Test set: Average loss`` -> ``test_average_loss``); a learning rate is the same in every phase."""
    words = re.split(r"[_/.\-]", key)
    if phase in (None, "train") or any(w in _PHASES for w in words) or {"lr", "learning"} & set(words):
        return key
    return f"{phase}_{key}"


class TemplateLearner:
    """Feed it lines (:meth:`feed`), then :meth:`finish` into named series."""

    def __init__(self) -> None:
        self.templates: dict[str, _Template] = {}
        self.order = 0
        self.last_global: float | None = None  # the global step most recently printed by any template
        self.last_progress: float | None = None  # ... or computed from an epoch and a progress count
        self.progress_lines = 0
        self.context_epoch: float | None = None  # from a header line: "Epoch 3/10"
        self.context_step: float | None = None
        self.ignored_templates: set[str] = set()
        self.signatures: dict[str, str] = {}  # a line's raw constant text -> its template's signature
        self.last_template: _Template | None = None

    def _learn(self, literal: list[str], matches: list[re.Match], tail: str = "") -> _Template:
        slots = []
        for i, match in enumerate(matches):
            key = _key_of(literal[i])
            unit = match.group("unit") or ""
            kind = _classify(key, match.group("total") is not None, first_slot=i == 0, unit=unit)
            if i == 0 and not key and not unit and not literal[0].strip() and _INTEGER.match(match.group("num")):
                kind = "global"  # "250 val 3.31": a line that starts with its step (build-nanogpt's log.txt)
            if key in _BARE_PHASE_LOSSES and not unit:
                kind = "metric"  # "val 3.31", "train 3.25": a phase's loss, printed under the phase's name
            slots.append(_Slot(key, kind, ratio=kind == "metric" and match.group("total") is not None))
        phase = _phase_of(" ".join(literal), [s.key for s in slots])
        names = {i: f"{_PHASES[s.key]}_loss" if s.key in _BARE_PHASE_LOSSES else _phase_name(phase, s.key)
                 for i, s in enumerate(slots) if s.kind == "metric"}
        template = _Template(slots, names)
        for kind, attr in (("global", "counter"), ("epoch", "epoch"), ("progress", "progress")):
            index = next((i for i, s in enumerate(slots) if s.kind == kind), None)
            setattr(template, attr, index)
        if template.names and (template.counter is not None or template.progress is not None):
            after = [*literal[1:], tail]  # the text after each number: "2950.00 ms |", "177725 tok/s"
            template.timings = {i: name for i, s in enumerate(slots) if s.kind == "" and (name := timing_name(
                s.key, matches[i].group("unit") or _spaced_unit(after[i]))) is not None}
        template.kept = [i for i in range(len(slots)) if i in template.names or i in template.timings or i in
                         (template.counter, template.epoch, template.progress)]
        template.values = {i: array("d") for i in template.kept}
        template.totals = {i: array("q") for i in template.kept if matches[i].group("total") is not None}
        return template

    def feed(self, text: str, refuse: Callable[[], bool] | None = None) -> bool:
        """Take one line (ANSI codes removed, stripped); True when it carried a metric or a step.

        ``refuse`` is asked about a line no known template reads at once (not the same print statement as the
        line before): when it says True the line is not learnt (a loss scaler's ``reducing loss scale to 512``
        is a message, not a metric). Lines the known templates read, nearly all of a log, never reach it.
        """
        if " # " in text:  # a config echo's comment ("min_lr = 6e-5 # learning_rate / 10") is no number of it
            text = text.split(" # ", 1)[0]
        last = self.last_template
        if last is not None and last.fast is not None and (m := last.fast.match(text)) is not None:
            # the same print statement as the line before (most lines): its own pattern reads it at once
            groups = m.groups()
            return self._record(last, groups[0::2], groups[1::2])
        if refuse is not None and refuse():
            return False
        masked = _MASKS.sub(" <t> ", text) if _TIMEY.search(text) else text
        matches = list(_NUMBER.finditer(masked))
        if not matches:
            return False
        literal, shape, pos = [], [], 0
        for m in matches:
            start, end, unit, total = m.start(), m.end(), m.group("unit"), m.group("total")
            literal.append(masked[pos:start])
            shape.append((unit or "") + ("/" if total else ""))
            pos = end
        raw = "\x00".join([*literal, masked[pos:], *shape])
        signature = self.signatures.get(raw)
        if signature is None:  # the same print statement gives the same raw text but for its padding
            signature = _WHITESPACE.sub(" ", raw)
            if len(self.signatures) < MAX_SIGNATURES:
                self.signatures[raw] = signature
        if signature in self.ignored_templates:
            return False
        template = self.templates.get(signature)
        if template is None:
            template = self._learn(literal, matches, masked[pos:])
            if not template.names and template.counter is None and template.epoch is None:
                self.ignored_templates.add(signature)
                return False
            self.templates[signature] = template
            template.fast = _own_pattern(literal, masked[pos:], matches)  # reads the lines to come
        self.last_template = template
        return self._record(template, [m.group("num") for m in matches], [m.group("total") for m in matches])

    def _record(self, template: _Template, nums: Sequence[str], totals: Sequence[str | None]) -> bool:
        """Keep one line's numbers (``nums``, and the ``/N`` totals) and the step context they set."""
        self.order += 1
        if template.names:
            template.lines += 1
            template.orders.append(self.order)
            ctx = self._context_step()
            template.contexts.append(math.nan if ctx is None else ctx)
            for i in template.kept:  # float() takes every number the pattern matches (nan, 1e999 -> inf)
                template.values[i].append(float(nums[i]))
                if i in template.totals:
                    template.totals[i].append(small_int(totals[i] or "0") or 0)
        if template.counter is not None:
            step = float(nums[template.counter])
            self.last_global = step if math.isfinite(step) else self.last_global
        elif template.progress is not None and template.names:
            step = self._progress_step(template, nums, totals)
            if template.lines >= self.progress_lines:  # the most printed count (training batches, not evaluation's)
                self.progress_lines, self.last_progress = template.lines, step
        elif not template.names:  # a header line: "Epoch 3/10", "Step 200"
            if template.epoch is not None:
                self.context_epoch = float(nums[template.epoch])
            elif template.progress is not None:
                self.context_step = float(nums[template.progress])
        return True

    def step_now(self) -> float | None:
        """The step most recently printed (or counted) by any template, else the last header's; None before any."""
        return self._context_step()

    def _context_step(self) -> float | None:
        if self.last_global is not None:
            return self.last_global
        if self.last_progress is not None:
            return self.last_progress
        return self.context_step if self.context_step is not None else self.context_epoch

    def _progress_step(self, t: _Template, nums: Sequence[str], totals: Sequence[str | None]) -> float | None:
        """The step of a line counted by an epoch and a progress count (``Train Epoch: 2 [640/60000]``), as
        :meth:`_steps` computes it, so that a line printed after it (``Test set: ...``) can be placed there."""
        n = float(nums[t.progress])
        total = small_int(totals[t.progress] or "0") or 0
        epoch = float(nums[t.epoch]) if t.epoch is not None else None
        if not math.isfinite(n) or (epoch is not None and not math.isfinite(epoch)):
            return None
        t.widest = max(t.widest, n)
        if epoch is None:  # a new pass over the data continues after the last one, as _steps counts it
            if t.last_n is not None and n < t.last_n:
                t.base += total or t.widest
            t.last_n = n
            return t.base + n
        if t.first_epoch is None:
            t.first_epoch = epoch
        return (epoch - t.first_epoch) * (total or t.widest) + n

    def finish(self, cols: Columns) -> tuple[list[str], int]:
        """Add every template's series to ``cols``; returns warnings and how many lines were read."""
        warnings: list[str] = []
        points: list[tuple[int, str, float, float]] = []  # (file order, name, step, value)
        uncounted: list[str] = []
        all_steps = {id(t): self._steps(t) for t in self.templates.values() if t.names}
        renamed = _summary_names(self.templates.values(), all_steps)
        for template in self.templates.values():
            if not template.names:
                continue
            steps = all_steps[id(template)]
            own = template.counter is not None or template.progress is not None or (
                template.epoch is not None and not self._has_steps())
            if not own and template.lines < MIN_PLACED_LINES:
                continue
            if not own and (all(np.ptp(template.values[i]) == 0 for i in template.names)
                            or self._only_preambles(template, all_steps)):
                continue  # a config echo: printed once at the start of each run, or the same value every time
            if steps is None:
                if template.lines < MIN_UNCOUNTED_LINES:
                    continue  # a config echo ("lr = 0.001"), not a log
                steps = [float(k) for k in range(1, template.lines + 1)]
                uncounted.extend(template.names.values())
            columns = {i: template.column(i) for i in (*template.names, *template.timings)}
            ratios = {i: template.totals[i].tolist() for i in template.names if template.slots[i].ratio}
            for k, (order, step) in enumerate(zip(template.orders.tolist(), steps, strict=True)):
                if step is None or not math.isfinite(step):
                    continue
                for i, name in itertools.chain(template.names.items(), template.timings.items()):
                    name = renamed.get((id(template), name), name)
                    value = columns[i][k]
                    if i in ratios and ratios[i][k]:
                        value = value / ratios[i][k]
                    points.append((order, name, step, value))
        past = [p for p in points if not -(2.0**63) <= p[2] < 2.0**63]
        if past:
            warnings.append(f"{len(past)} line(s) with a step past the int64 range were not read.")
            points = [p for p in points if -(2.0**63) <= p[2] < 2.0**63]
        if not points:
            return warnings, 0
        points.sort(key=lambda p: p[0])
        stretches = _stretches(points)
        runs = sum(st.new_run for st in stretches)
        if runs > 1:
            warnings.append(f"the log holds {runs} runs one after another (the step starts again from the "
                            f"beginning); the last one is analysed, the others are kept as "
                            f"{EARLIER_RUN_PREFIX}<k>/<series> and checked for NaN, a stuck or a zero loss.")
        if len(stretches) > runs:
            warnings.append(f"the step counter starts again {len(stretches) - runs} time(s) where the loss picks up "
                            "where it left off (an iteration or stage of one run): the steps are made to run on.")
        bounds = [*(st.start for st in stretches), len(points)]
        run = -1
        for st, (a, b) in zip(stretches, itertools.pairwise(bounds), strict=True):
            run += st.new_run
            prefix = earlier_run_prefix(run, runs)
            for _order, name, step, value in points[a:b]:
                step += st.offset
                if -(2.0**63) <= step < 2.0**63:
                    cols.add(prefix + name, int(step), value)
        start = bounds[-2]
        if uncounted:
            names = ", ".join(dict.fromkeys(uncounted))
            warnings.append(f"lines with {names} carry no step; steps are their line numbers among such lines.")
        return warnings, len(points) - start

    def _steps(self, t: _Template) -> list[float | None] | None:
        """The step of each of the template's lines (see the module docstring), or None when it has none."""
        nan_to_none = lambda xs: [x if math.isfinite(x) else None for x in xs]  # noqa: E731  ("step inf": none)
        if t.counter is not None:
            return nan_to_none(t.column(t.counter))
        contexts = nan_to_none(t.contexts.tolist())
        if t.progress is not None:
            counts = nan_to_none(t.column(t.progress))
            totals = t.totals[t.progress].tolist() if t.progress in t.totals else [0] * len(counts)
            widest = max((n for n in counts if n is not None), default=0.0)
            epochs = nan_to_none(t.column(t.epoch)) if t.epoch is not None else [None] * len(counts)
            first_epoch = next((e for e in epochs if e is not None), None)
            base, last_n, out = 0.0, None, []
            for n, total, epoch in zip(counts, totals, epochs, strict=True):
                per_epoch = total or widest
                if n is None:
                    out.append(None)
                elif epoch is not None and first_epoch is not None:
                    out.append((epoch - first_epoch) * per_epoch + n)
                else:
                    if last_n is not None and n < last_n:  # a new pass over the data: continue after the last one
                        base += per_epoch
                    last_n = n
                    out.append(base + n)
            return out
        if t.epoch is not None:
            if self._has_steps():  # other lines print (or count) the step: place these where they were printed
                return [0.0 if c is None else c for c in contexts]
            return nan_to_none(t.column(t.epoch))
        if any(c is not None for c in contexts):
            # a line printed before any step (llm.c's first "val loss") is at the start of the run
            return [0.0 if c is None and self._has_steps() else c for c in contexts]
        return None

    def _only_preambles(self, t: _Template, steps: dict[int, list[float | None] | None]) -> bool:
        """Whether every line of ``t`` comes before the first step line of its run: before any, or just before
        the step counter starts again (a config echo at each start; a validation line printed before training
        starts is also one, but it repeats during the run and so is not only that)."""
        counted = [c for c in self.templates.values() if c.names and (c.counter is not None or c.progress is not None)
                   and c.lines >= MIN_UNCOUNTED_LINES]  # a counted series, not one stray line that starts with a number
        if not counted:
            return False
        main = max(counted, key=lambda c: c.lines)
        orders, main_steps = main.orders.tolist(), steps.get(id(main)) or []
        for order in t.orders.tolist():
            k = bisect.bisect_left(orders, order)
            if k == len(orders):  # after the last step line: printed during the run
                return False
            if k == 0:  # before the first one
                continue
            before, after = main_steps[k - 1], main_steps[k]
            if before is None or after is None or after > before:
                return False
        return True

    def _has_steps(self) -> bool:
        return self.last_global is not None or self.last_progress is not None


SUMMARY_SHARE = 0.25
"""A template that prints a name another template prints far more often (at most this share of its lines), at
steps off that template's grid, is a summary of it (fairseq's end-of-epoch ``train | loss`` at update 1121
beside its per-update ``train_inner | loss`` every 100 updates). On the grid it is the same print statement
with a field left out (detectron2's last ``iter: 299`` line has no ``eta``), and shares the series."""


def _summary_names(templates, steps: dict[int, list[float | None] | None]) -> dict[tuple[int, str], str]:
    """``(id(template), name) -> name_summary`` for the templates that summarise another's series (see
    :data:`SUMMARY_SHARE`)."""
    by_name: dict[str, list] = {}
    for t in templates:
        for name in t.names.values():
            by_name.setdefault(name, []).append(t)
    out = {}
    for name, ts in by_name.items():
        main = max(ts, key=lambda t: t.lines)
        grid = [x for x in steps.get(id(main)) or [] if x is not None and math.isfinite(x)]
        if len(ts) < 2 or main.lines < 4 or len(grid) < 2:
            continue
        for t in ts:
            if t is main or t.lines > SUMMARY_SHARE * main.lines:
                continue
            own = [x for x in steps.get(id(t)) or [] if x is not None and math.isfinite(x)]
            if not _continues_grid(own, grid):
                out[(id(t), name)] = f"{name}_summary"
    return out


def _continues_grid(own: list[float], grid: list[float]) -> bool:
    """Whether every one of ``own`` (at least one) lies on the grid of steps ``grid`` is logged at (its first
    step plus a whole number of its median intervals) but is none of its logged steps: the grid, continued."""
    interval = float(bn.median(np.diff(grid))) or 1.0
    on_grid = set(grid)
    phases = [(x - grid[0]) / interval for x in own]
    return bool(own) and all(x not in on_grid and abs(k - round(k)) < 1e-9 for x, k in zip(own, phases, strict=True))


def _stretches(points: list[tuple[int, str, float, float]]) -> list[Stretch]:
    """The stretches between restarts of the step counter (:func:`~.collect.split_restarts` on the most-printed
    series), their starts as indices into ``points`` (the first point of the line that restarts)."""
    counts: dict[str, int] = {}
    for _o, name, _s, _v in points:
        counts[name] = counts.get(name, 0) + 1
    main = max(counts, key=lambda k: counts[k])
    at = [i for i, p in enumerate(points) if p[1] == main]
    found = split_restarts([points[i][2] for i in at], [points[i][3] for i in at])
    out = []
    for k, st in enumerate(found):
        if k == 0:
            out.append(Stretch(0, st.new_run, st.offset))
            continue
        first = at[st.start]
        start = _run_start(points, first)
        # lines printed between the last line of the stretch before and this one, at steps no later than this
        # one's first (an evaluation at step 0 printed before the restarted iterations), belong to it
        j = at[st.start - 1] + 1
        while j < start and points[j][2] > points[first][2]:
            j += 1
        out.append(Stretch(_run_start(points, j) if j < start else start, st.new_run, st.offset))
    return out


def _run_start(points: list[tuple[int, str, float, float]], i: int) -> int:
    """The first point of the line that holds point ``i`` (its metrics were printed together)."""
    order = points[i][0]
    while i > 0 and points[i - 1][0] == order:
        i -= 1
    return i
