"""Plain-text training logs, as printed to stdout (``*.log``, ``*.out``, ``*.txt``).

Only tried when nothing structured was found (the format is last in the registry). Each line is
matched against a small, fixed set of patterns, in this order; the first that matches wins:

1. ``TRAINTRIAGE_LOG_REGEX`` (environment variable), when set: a Python regex searched in each line.
   The named group ``step`` (optional) is the step; every other named group that matched is a
   series named after the group. Example:
   ``TRAINTRIAGE_LOG_REGEX='it (?P<step>\\d+) .*?loss (?P<loss>\\S+) lr (?P<lr>\\S+)'``
2. Hugging Face dict lines: ``{'loss': 0.53, 'grad_norm': 1.2, 'learning_rate': 2e-05, 'epoch': 0.3}``
   and eval dicts ``{'eval_loss': ..., 'epoch': 1.0}`` (read with ``ast.literal_eval``; bare
   ``nan``/``inf`` accepted). They carry no step: train records are numbered 1, 2, ... (multiply
   by ``logging_steps``), an eval record takes the number of the train record before it. The final
   summary (``train_runtime``) is skipped.
3. PyTorch examples' tables: ``| epoch   1 |   200/ 2983 batches | lr 20.00 | ms/batch 45.2 | loss  7.64 |``
   (step = (epoch-1) * batches + batch), ``| end of epoch   1 | ... | valid loss  5.84 |`` (step at the
   epoch's end; names joined with ``_``: ``valid_loss``) and ``| End of training | test loss ...``.
   Tables with a header row of names, markdown or printed (``| epoch | train_loss | val_acc |`` then rows of
   numbers): series named by the header, step from the column named like a step or epoch; a row whose
   step cell is not a number (``eval``, ``total``) is a summary and is skipped.
4. Keras progress: ``Epoch 3/10`` then ``... - loss: 0.41 - val_loss: 0.52``: step = the epoch as
   printed (from 1); the last line of an epoch wins.
5. tqdm postfixes: ``Epoch 1:  45%|███ | 450/1000 [00:10<00:12, loss=0.123, lr=1e-4]`` (also
   ``450it [...]``): step = the bar count, continued across restarted bars (epochs).
6. Every other line: the log's own line templates, learned from the log (:mod:`.templates`): nanoGPT's
   ``iter 250: loss 3.1416, time 120.50ms`` and ``step 500: train loss 2.71, val loss 2.83``, llm.c's
   ``s:42 trl:3.25 lr:0.000600 norm:0.87`` and ``step 42/5000 | train loss 3.25 | norm 0.87 | ...``,
   modded-nanogpt's ``step:125/6200 val_loss:4.4410``, fairseq, detectron2's stdout, the PyTorch MNIST
   example's ``Train Epoch: 1 [640/60000 (1%)]  Loss: 2.28``, behind timestamps, ranks or logging prefixes.

The messages a log prints besides its metrics (out of memory, NaN detected, numerical warnings, NCCL, data
loader, fp16 overflows, tracebacks) are collected in the same pass, each with the step of the nearest line before
it that printed one (:mod:`.messages`); they are looked for only on the lines no known template reads at once.

Only fields whose names look like metrics (:func:`~.collect.looks_like_metric`: ``loss``, ``lr``,
``grad_norm``, ``acc``, ``ppl``...) become series in patterns 2-6, so ``ms/batch nan`` or
``eta=nan`` is never read as a NaN loss, while ``loss nan`` is. Values with units (``12345ms``) are
not numbers. A file with no recognised line contributes nothing, with a warning. (A CSV file named
``training.log``, as Keras' ``CSVLogger`` docs write it, is recognised as CSV by its content and read by
:mod:`.csvlog`.)
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..signals import EARLIER_RUN_PREFIX, Series
from ..untrusted import (
    MAX_LINE_CHARS,
    as_float,
    as_step,
    bounded_lines,
    clean_text,
    held_line_note,
    in_int64,
    literal,
    open_text,
    short_repr,
    small_int,
    still_written,
)
from .collect import Columns, LineProblems, earlier_run_prefix, looks_like_metric, merge_files
from .filecache import cached
from .formats import NO, Head, SourceFormat, suffix_claim

if TYPE_CHECKING:  # the learner and the message reader are imported when a text log is read, not listed
    from .messages import LogMessages

REGEX_ENV = "TRAINTRIAGE_LOG_REGEX"
SUFFIXES = (".log", ".out", ".txt")
_NOT_LOGS = re.compile(
    r"^(requirements|constraints|readme|license|licence|notice|authors|changelog|cmakelists|vocab|merges|"
    r"special_tokens|added_tokens|tokenizer|dict|labels|classes|notes|todo|license)\b",
    re.I,
)


_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?i:nan|inf(?:inity)?)"
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NONFINITE_RE = re.compile(r"(:\s*)(-?(?:nan|NaN|inf|Infinity))(?=\s*[,}])")
_TORCH_BATCH_RE = re.compile(r"^\|\s*epoch\s+(\d+)\s*\|\s*(\d+)\s*/\s*(\d+)\s+batches\s*\|(.*)$", re.I)
_TORCH_END_RE = re.compile(r"^\|\s*end of (epoch\s+(\d+)|training)\s*\|(.*)$", re.I)
_TORCH_FIELD_RE = re.compile(rf"^\s*([A-Za-z][\w/ ]*?)\s*:?\s+({_NUM})\s*$")
_TABLE_RULE_RE = re.compile(r"^:?-{3,}:?$")
_TABLE_STEP_NAMES = frozenset({"step", "steps", "global_step", "iter", "iteration", "it", "epoch", "epochs"})
_KERAS_EPOCH_RE = re.compile(r"^\s*Epoch\s+(\d+)/(\d+)\s*$")
_KERAS_PAIR_RE = re.compile(rf"(?:^|\s)-\s+([A-Za-z_][\w/.]*):\s*({_NUM})(?=\s|$)")
_TQDM_RE = re.compile(r"(?:\d+%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)|(?P<n2>\d+)it)\s*\[(?P<info>[^\]]*)\]")
_TQDM_PAIR_RE = re.compile(rf"([A-Za-z_][\w/.\-]*)=({_NUM})(?=,|\s*$)")
_VAL_PREFIX_RE = re.compile(r"^(?:val|valid|validation|eval|test)(?:[_/.\-]|$)", re.I)


def _user_regex() -> tuple[re.Pattern | None, str | None]:
    text = os.environ.get(REGEX_ENV)
    if not text:
        return None, None
    try:
        pattern = re.compile(text)
    except re.error as err:
        return None, f"{REGEX_ENV} is not a valid regular expression ({err}); ignored."
    if not pattern.groupindex or set(pattern.groupindex) == {"step"}:
        return None, f"{REGEX_ENV} has no named metric group such as (?P<loss>...); ignored."
    return pattern, None


class _Reader:
    """State carried from line to line of one file (current epoch, bar offsets, record numbers)."""

    def __init__(self, path: Path, user: re.Pattern | None) -> None:
        self.path = path
        self.user = user
        self.cols = Columns()
        self.problems = LineProblems(path)
        self.used: set[str] = set()
        self.hf_train = 0
        self.hf_eval = 0
        self.hf_runs: list[Columns] = [Columns()]  # one per Trainer run: a summary record ends one
        self.torch_batches: int | None = None
        self.torch_step = 0
        self.keras_epoch: int | None = None
        self.keras_lines = 0
        self.bar_base = 0
        self.bar_last_n = -1
        self.bar_last_total = 0
        self.bar_last_val: dict[str, str] = {}
        self.user_lines = 0
        self.table_header: list[str] | None = None
        self.table_step: int | None = None
        from .messages import MessageCollector
        from .templates import TemplateLearner, timing_name

        self.timing_name = timing_name
        self.learner = TemplateLearner()
        self.learned_points = 0
        self.messages = MessageCollector()
        self.step_now: float | None = None  # the step the last line with one printed (patterns 1-5)
        self.step_from_learner = False  # ... or the learner's, when its lines were the last to print one

    def _stepped(self, step: float, line_no: int) -> None:
        self.step_now, self.step_from_learner = step, False
        self.messages.stepped(line_no)

    def current_step(self) -> float | None:
        """The step of the nearest line before this one that printed one, in the units of the series read."""
        return self.learner.step_now() if self.step_from_learner else self.step_now

    def step_fits(self, step: int, line_no: int) -> bool:
        """A step an int64 holds; else the line is reported (a 30-digit step, or one computed from huge parts)."""
        if in_int64(step):
            return True
        self.problems.add(line_no, f"step {short_repr(step, 40)} is past the int64 range")
        return False

    def add_pairs(self, pattern: str, step: int, pairs, line_no: int, cols: Columns | None = None) -> bool:
        if not self.step_fits(step, line_no):
            return False
        added = False
        timings = []
        for name, raw in pairs:
            if not looks_like_metric(name):
                timing = self.timing_name(name, "")
                if timing is not None and (value := as_float(raw)) is not None:
                    timings.append((timing, value))
                continue
            value = as_float(raw)  # None for 10**400 from a dict line, which float() cannot take
            if value is None:
                self.problems.add(line_no, f"{name!r} is not a number ({short_repr(raw, 60)})")
                continue
            (self.cols if cols is None else cols).add(name, step, value)
            added = True
        if added:
            self.used.add(pattern)
            for timing, value in timings:  # kept beside the metrics of a step line, never as metrics
                (self.cols if cols is None else cols).add(timing, step, value)
            self._stepped(step, line_no)
        return added

    def line(self, line_no: int, line: str) -> None:
        if "\x1b" in line:
            line = _ANSI_RE.sub("", line)
        text = line.strip()
        if not text:
            return
        if self.user is not None and self._user(line_no, text):
            return
        if "{'" in text and text.endswith("}") and self._hf_dict(line_no, text):
            return
        if text.startswith("|") and (self._torch(line_no, text) or self._pipe_table(line_no, text)):
            return
        keras = _KERAS_EPOCH_RE.match(text)
        if keras:
            epoch = small_int(keras.group(1))
            if epoch is None:
                self.problems.add(line_no, "epoch number too long to be one")
            else:
                self.keras_epoch = epoch
                self.learner.feed(text)  # also the epoch of the lines after it that are not Keras's own
            return
        if " - " in text and self._keras(line_no, text):
            return
        step = self.current_step()  # the nearest step before this line, for a message on it
        if "[" in text and self._tqdm(line_no, text):
            self.messages.line(line_no, line.rstrip(), step)  # NCCL's watchdog printed right after a progress bar
            return
        # Messages are looked for on the lines no known template reads at once: metric lines are the same few print
        # statements over and over. A loss scaler's "reducing loss scale to 512.0" is a message, not learnt.
        said = lambda: self.messages.line(line_no, line.rstrip(), step) == "overflow"  # noqa: E731
        if self.learner.feed(text, refuse=said) and self.learner.step_now() is not None:
            self.step_from_learner = True
            self.messages.stepped(line_no)

    def _user(self, line_no: int, text: str) -> bool:
        match = self.user.search(text)
        if not match:
            return False
        groups = match.groupdict()
        self.user_lines += 1
        step = self.user_lines - 1
        if groups.get("step") is not None:
            value = as_step(groups["step"])
            if value is None:
                self.problems.add(line_no, f"step {short_repr(groups['step'], 60)} is not a number")
                return True
            step = value
        for name, raw in groups.items():
            if name == "step" or raw is None:
                continue
            value = as_float(raw)
            if value is None:
                self.problems.add(line_no, f"{name!r} is not a number ({raw!r})")
                continue
            self.cols.add(name, step, value)
            self.used.add("user regex")
            self._stepped(step, line_no)
        return True

    def _hf_dict(self, line_no: int, text: str) -> bool:
        body = text[text.index("{'") :]
        if len(body) > 20_000:
            return False
        try:
            record = literal(_NONFINITE_RE.sub(r"\1'\2'", body))
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            if re.match(r"\{'\w+': ", body):  # looks like an HF record: say we could not read it
                self.problems.add(line_no, "unreadable dict line")
                return True
            return False
        if not isinstance(record, dict) or not all(isinstance(k, str) for k in record):
            return False
        record = {clean_text(k): v for k, v in record.items()}  # '\udcff' escapes: no UTF-8 output takes them
        if "train_runtime" in record:  # the end of a Trainer run: what follows is another one
            if self.hf_runs[-1].keys():
                self.hf_runs.append(Columns())
                self.hf_train = self.hf_eval = 0
            return True
        explicit = next((record[k] for k in ("step", "global_step") if k in record), None)
        if explicit is not None and as_float(explicit) is not None:
            step = as_step(explicit)
            if step is None:  # NaN, Inf, 1e300
                self.problems.add(line_no, f"step {short_repr(explicit, 40)} is not a step number")
                return True
        elif any(k.startswith("eval_") for k in record):
            self.hf_eval += 1
            step = self.hf_train
        else:
            self.hf_train += 1
            step = self.hf_train
        pairs = [
            (k, v) for k, v in record.items() if k not in ("step", "global_step") and not isinstance(v, dict | list)
        ]
        self.add_pairs("hf dict", step, pairs, line_no, self.hf_runs[-1])
        self.used.add("hf dict")
        return True

    def _torch(self, line_no: int, text: str) -> bool:
        batch = _TORCH_BATCH_RE.match(text)
        if batch:
            epoch, n, total = small_int(batch.group(1)), small_int(batch.group(2)), small_int(batch.group(3))
            if epoch is None or n is None or total is None:
                self.problems.add(line_no, "epoch or batch number too long to be one")
                return True
            self.torch_batches = total
            self.torch_step = (epoch - 1) * total + n
            fields = [_TORCH_FIELD_RE.match(seg) for seg in batch.group(4).split("|")]
            pairs = [(m.group(1).strip().replace(" ", "_"), m.group(2)) for m in fields if m]
            self.add_pairs("pytorch table", self.torch_step, pairs, line_no)
            return True
        end = _TORCH_END_RE.match(text)
        if end:
            if end.group(2) is not None:
                epoch = small_int(end.group(2))
                if epoch is None:
                    self.problems.add(line_no, "epoch number too long to be one")
                    return True
                self.torch_step = epoch * self.torch_batches if self.torch_batches else epoch
            fields = [_TORCH_FIELD_RE.match(seg) for seg in end.group(3).split("|")]
            pairs = [(m.group(1).strip().replace(" ", "_"), m.group(2)) for m in fields if m]
            self.add_pairs("pytorch table", self.torch_step, pairs, line_no)
            return True
        return False

    def _pipe_table(self, line_no: int, text: str) -> bool:
        """A table with a header row of names (``| epoch | train_loss | val_acc |``: markdown, or a results table
        printed by a script), then rows of numbers; the step is the column named like a step or epoch."""
        cells = [c.strip() for c in text.strip().strip("|").split("|")]
        if len(cells) < 2:
            return False
        if all(_TABLE_RULE_RE.match(c) for c in cells):  # the |---|:---:| under a markdown header
            return self.table_header is not None
        numbers = [as_float(c) for c in cells]
        if all(n is None and c for n, c in zip(numbers, cells, strict=True)):
            names = [re.sub(r"\s+", "_", c.lower()) for c in cells]
            step = next((i for i, n in enumerate(names) if n in _TABLE_STEP_NAMES), None)
            if step is None or not any(looks_like_metric(n) for n in names):
                return False
            self.table_header, self.table_step = names, step
            return True
        if self.table_header is None or self.table_step is None or len(cells) != len(self.table_header):
            return False
        step = numbers[self.table_step]
        if step is None or not math.isfinite(step) or not self.step_fits(int(step), line_no):
            return True  # a summary row of the table ("eval", "total"): no step
        pairs = [(name, cell) for i, (name, cell) in enumerate(zip(self.table_header, cells, strict=True))
                 if i != self.table_step and numbers[i] is not None]
        self.add_pairs("pipe table", int(step), pairs, line_no)
        return True

    def _keras(self, line_no: int, text: str) -> bool:
        pairs = _KERAS_PAIR_RE.findall(text)
        if not pairs or not any(looks_like_metric(name) for name, _ in pairs):
            return False
        if self.keras_epoch is None:
            self.keras_lines += 1
            step = self.keras_lines
        else:
            step = self.keras_epoch
        return self.add_pairs("keras progress", step, pairs, line_no)

    def _tqdm(self, line_no: int, text: str) -> bool:
        match = _TQDM_RE.search(text)
        if not match:
            return False
        pairs = _TQDM_PAIR_RE.findall(match.group("info"))
        if not any(looks_like_metric(name) for name, _ in pairs):
            return False
        n = small_int(match.group("n") or match.group("n2"))
        total = small_int(match.group("total") or "0")
        if n is None or total is None:
            self.problems.add(line_no, "progress-bar count too long to be one")
            return True
        if n < self.bar_last_n:  # a new bar (next epoch): continue counting after the last one
            self.bar_base += self.bar_last_total or self.bar_last_n
        self.bar_last_n, self.bar_last_total = n, total
        # Validation metrics stay in the postfix until the next evaluation: keep them only when they change.
        fresh = []
        for name, raw in pairs:
            if _VAL_PREFIX_RE.match(name):
                if self.bar_last_val.get(name) == raw:
                    continue
                self.bar_last_val[name] = raw
            fresh.append((name, raw))
        return self.add_pairs("tqdm postfix", self.bar_base + n, fresh, line_no) or bool(pairs)

    def finish(self) -> tuple[dict[str, Series], list[str]]:
        """The series read, and what the template learner has to say about them."""
        learned, self.learned_points = self.learner.finish(self.cols)
        if self.learned_points:
            self.used.add("learned templates")
        runs = [c for c in self.hf_runs if c.keys()]
        for k, cols in enumerate(runs):
            self.cols.extend(cols, earlier_run_prefix(k, len(runs)))
        if len(runs) > 1:
            learned.append(f"holds {len(runs)} Hugging Face Trainer runs one after another; the last one is analysed, "
                           f"the others are kept as {EARLIER_RUN_PREFIX}<k>/<series>.")
        return self.cols.to_series(), [f"{self.path}: {w}" for w in learned]


def _parse(path: Path) -> tuple[dict[str, Series], list[str], LogMessages]:
    held: list[str] = []
    hold = held if still_written(path) else None
    user, note = _user_regex()
    reader = _Reader(path, user)
    warnings = [note] if note else []
    try:
        with open_text(path) as fh:  # universal newlines: tqdm's \r splits lines
            for line_no, line in enumerate(bounded_lines(fh, held=hold), 1):
                if line is None:
                    reader.problems.add(line_no, f"line longer than {MAX_LINE_CHARS:,} characters; skipped")
                    continue
                reader.line(line_no, line)
    except OSError as err:
        from .messages import LogMessages

        return {}, [f"{path}: cannot read ({err})"], LogMessages()
    series, learned = reader.finish()
    messages = reader.messages.finish()
    messages.file = str(path)
    warnings.extend(learned)
    if not series:
        warnings.append(
            f"{path}: no recognised training-log lines (HF dicts, key:value with a step, PyTorch tables, Keras "
            f"progress, tqdm postfixes); set {REGEX_ENV} to a regex with named groups, e.g. "
            "(?P<step>\\d+) and (?P<loss>[\\d.eE+-]+|nan)."
        )
    elif "hf dict" in reader.used and any("loss" in c for c in reader.hf_runs):
        warnings.append(
            f"{path}: Hugging Face log lines carry no step; steps are log-record numbers (multiply by logging_steps)."
        )
    if held:
        warnings.append(held_line_note(path))
    return series, warnings + reader.problems.finish(), messages


def load(run_dir: Path, files: list[Path]) -> tuple[dict[str, Series], list[str], list[LogMessages]]:
    """Every text log of the run; names repeated across files are prefixed by the later file's path. Also
    the messages each file printed (:mod:`.messages`), read in the same pass."""
    variant = os.environ.get(REGEX_ENV, "")
    per_file: list[tuple[Path, dict[str, Series]]] = []
    warnings: list[str] = []
    said: list[LogMessages] = []
    for path in files:
        series, warns, messages = cached(path, _parse, variant)
        warnings.extend(warns)
        if series:
            per_file.append((path, series))
        if messages:
            said.append(messages)
    merged, merge_warnings = merge_files(run_dir, per_file)
    return merged, warnings + merge_warnings, said


def _sniff(head: Head) -> bool:
    """Training-log lines in the head: two points at least (one, in a file that ends within the head)."""
    if head.binary:
        return False
    reader = _Reader(head.path, _user_regex()[0])
    for line_no, line in enumerate(head.lines, 1):
        reader.line(line_no, line)
    series, _ = reader.finish()
    points = sum(len(s) for s in series.values())
    return points >= 2 or (points == 1 and head.complete)


FORMAT = SourceFormat(
    "textlog",
    "plain-text stdout logs, whatever their name (*.log, *.out, *.txt; a notes .md passed explicitly): line "
    "templates learned from the log itself (nanoGPT, llm.c, fairseq, detectron2, PyTorch examples, logging "
    "prefixes), HF dict lines, PyTorch example tables, Keras progress, tqdm postfixes, or TRAINTRIAGE_LOG_REGEX",
    lambda path: NO if _NOT_LOGS.match(path.name.lower()) else suffix_claim(path, SUFFIXES),
    _sniff,
    load,
)
