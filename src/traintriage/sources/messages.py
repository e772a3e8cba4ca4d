"""Messages a text log prints besides its metrics, grouped by kind, each with the step it was printed at.

A training log says why a run failed in words: ``CUDA out of memory``, ``DataLoader worker (pid 2978) is
killed``, ``var(): degrees of freedom is <= 0``, NCCL's watchdog timing out, DeepSpeed's ``OVERFLOW!``. The
text reader (:mod:`.textlog`) hands every line to a :class:`MessageCollector` together with the step it
is at (the nearest step line before it, in the same units as the log's series), in the same pass that
reads the metrics: a 1 GB log is read once.

Kinds (:data:`KINDS`), tried in this order (the first that matches a line wins):

- ``overflow``: fp16 loss scaling skipped a step (apex ``Gradient overflow.  Skipping step``, DeepSpeed
  ``OVERFLOW! ... reducing to``, hand-written scalers' ``OVERFLOW! Scale value 4294967296 -> 2147483648``,
  fairseq ``overflow detected, ... setting loss scale to``), with the new scale when the line gives it; and
  the scale bottoming out (``Minimum loss scale reached``, ``Current loss scale already at minimum``). Read
  by ``mixed_precision_overflow``, not ``log_message``.
- ``data``: a DataLoader worker killed or exiting, a corrupt or skipped sample;
- ``oom``: CUDA/CPU out of memory, the kernel's ``Killed``;
- ``distributed``: NCCL errors and watchdog timeouts, failed ranks (torchrun's ``ChildFailedError``);
- ``nan_detected``: anomaly mode (``returned nan values in its 0th output``), ``loss is nan``, ``non-finite``;
- ``numerical_warning``: ``RuntimeWarning: invalid value / overflow / divide by zero``, ``degrees of freedom
  is <= 0``;
- ``traceback``: a ``Traceback (most recent call last):`` whose exception is none of the above (its
  exception line is kept as the message).

Plain warnings (a ``FutureWarning`` about ``torch.cuda.amp.GradScaler``, a deprecation) are not messages:
they bear on no failure. Every line is tested against one cheap pattern first (:data:`_MAYBE`); only the
few that pass it are classified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ..untrusted import as_float

Kind = Literal["overflow", "data", "oom", "distributed", "nan_detected", "numerical_warning", "traceback"]
KINDS: tuple[Kind, ...] = ("overflow", "data", "oom", "distributed", "nan_detected", "numerical_warning",
                           "traceback")
MAX_TEXT = 300
"""A message's text is cut to this many characters (a NCCL line runs to 400; a pasted tensor to megabytes)."""
MAX_SCALES = 100_000
"""Loss-scale points kept from overflow messages (one float pair each); later ones are counted only."""

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NEEDLES = ("overflow", "OVERFLOW", "emory", "OOM", "Killed", "killed", "DataLoader", "orrupt", "kipp", "Watchdog",
            "NCCL", "ncclInternal", "ncclSystem", "ncclUnhandled", "ncclInvalid", "ncclRemote", "ChildFailed",
            "DistBackend", "Rank ", "nan", "NaN", "Nan", "finite", "RuntimeWarning", "egrees of freedom",
            "Mean of empty", "Traceback", "allocate", "oss scale")
_MAYBE = re.compile("|".join(re.escape(n) for n in _NEEDLES))
"""Every line is searched for these fragments, one of which each pattern below needs; a line with none of them is
no message (most lines). Plain literals: Python's regex engine scans for them ~10x faster than for character
classes (``[Mm]emory``), which matters on a 1 GB log."""

_PATTERNS: tuple[tuple[Kind, re.Pattern], ...] = (
    ("overflow", re.compile(
        r"Gradient overflow\.\s+Skipping step(?:.*?reducing loss scale to\s*(?P<scale>" + _NUM + "))?"
        r"|OVERFLOW!.*?(?:[Ss]kipping step|[Ss]cale)(?:.*?(?:reducing to|->)\s*(?P<scale2>" + _NUM + "))?"
        r"|overflow detected,(?: ignoring gradient,)? setting loss scale to:?\s*(?P<scale3>" + _NUM + ")"
        r"|(?P<floor>Minimum loss scale reached|loss scale already at minimum)")),
    ("data", re.compile(
        r"DataLoader worker \(pid[^)]*\) (?:is killed|exited unexpectedly)|DataLoader worker.{0,40}(?:killed|exited)"
        r"|\bcorrupt(?:ed)?\b.{0,60}\b(?:image|file|sample|record|example|shard|data)"
        r"|\b(?:image|file|sample|record|example|shard)s?\b.{0,60}\bcorrupt(?:ed)?\b"
        r"|[Ss]kipp(?:ing|ed) (?:a |the )?(?:bad|corrupt(?:ed)?|invalid|broken|unreadable) "
        r"(?:sample|image|file|example|record|batch|shard)", re.I)),
    ("oom", re.compile(
        r"CUDA out of memory|OutOfMemoryError|\bout of memory\b|\bOOM\b(?![ =:]*\d)|^\s*Killed\s*$"
        r"|[Cc]annot allocate memory|can't allocate memory|\bMemoryError\b|Out of memory: Killed process")),
    ("distributed", re.compile(
        r"Watchdog caught collective operation timeout|NCCL (?:error|timeout|communicator was aborted)"
        r"|nccl(?:InternalError|SystemError|UnhandledCudaError|InvalidUsage|RemoteError)"
        r"|ProcessGroupNCCL.{0,80}(?:timed out|[Tt]imeout|failed)|ChildFailedError"
        r"|Rank \d+ (?:failed|exited|crashed)|DistBackendError")),
    ("nan_detected", re.compile(
        r"returned nan values in its|[Ll]oss (?:is|became|becomes|was) (?:nan|NaN|inf|infinite)"
        r"|[Ll]oss became infinite or NaN|[Nn]o?n-?finite (?:loss|value|values|gradient|gradients|grad)"
        r"|NaN or Inf found in input tensor|(?:[Dd]etected|[Ff]ound|[Ee]ncountered) (?:a )?(?:NaN|nan|inf)\b")),
    ("numerical_warning", re.compile(
        r"RuntimeWarning: (?:invalid value|overflow|divide by zero|underflow)|[Dd]egrees of freedom (?:is )?<= ?0"
        r"|Mean of empty slice")),
)
_TRACEBACK = re.compile(r"^\W*Traceback \(most recent call last\)")
_EXCEPTION = re.compile(r"^\W*(?:[\w.]+\.)?(?P<name>\w*(?:Error|Exception|Interrupt|Exit)\w*)\b(?::|$)")
_BENIGN_EXITS = frozenset({"KeyboardInterrupt", "SystemExit", "SignalException"})
"""Exceptions that say the run was stopped from outside (Ctrl-C, ``sys.exit``, torchrun passing on a SIGTERM or
SIGHUP from a scheduler or a closed terminal), not that training failed."""


@dataclass
class LogMessage:
    """One message: its kind, text (cut to :data:`MAX_TEXT`), line number and the step it was printed at."""

    kind: Kind
    text: str
    line: int
    step: int | None


@dataclass
class MessageGroup:
    """Every message of one kind in a log: how many, the first and the last."""

    kind: Kind
    count: int
    first: LogMessage
    last: LogMessage
    exceptions: dict[str, int] = field(default_factory=dict)
    """For tracebacks: how many ended in each exception (``ValueError``, ``KeyboardInterrupt``)."""


@dataclass
class LogMessages:
    """What a log said in words: its message groups, the loss scales its overflow messages gave, and the
    line of its last step (a message after it ended the run)."""

    groups: dict[str, MessageGroup] = field(default_factory=dict)
    scales: list[tuple[int | None, float]] = field(default_factory=list)
    """(step, new loss scale) of each overflow message that gave one, in the order printed."""
    floor_reached: bool = False
    """The scaler said it could go no lower (fairseq's ``Minimum loss scale reached``, DeepSpeed's
    ``already at minimum``): the run stopped there."""
    last_step_line: int = 0
    file: str = ""

    def __bool__(self) -> bool:
        return bool(self.groups)

    def after_last_step(self, group: MessageGroup) -> bool:
        """Whether the group's last message came after the last line that printed a step: the run ended there."""
        return group.last.line > self.last_step_line


class MessageCollector:
    """Feed it lines with their step (:meth:`line`), then take :meth:`finish`."""

    def __init__(self) -> None:
        self.out = LogMessages()
        self.open_traceback: LogMessage | None = None

    def stepped(self, line_no: int) -> None:
        """``line_no`` printed a step (a metric line): messages after it are not the run's last words."""
        self.out.last_step_line = line_no

    def line(self, line_no: int, text: str, step: float | None) -> Kind | None:
        """Classify one line printed at ``step``; the kind of message it is, or None (most lines)."""
        if self.open_traceback is not None and self._close_traceback(line_no, text, step):
            return "traceback"
        if _MAYBE.search(text) is None:
            return None
        step_int = int(step) if step is not None and abs(step) < 2**62 else None
        for kind, pattern in _PATTERNS:
            match = pattern.search(text)
            if match is None:
                continue
            self._add(LogMessage(kind, _excerpt(text, match.start()), line_no, step_int))
            if kind == "overflow":
                self._overflow(match, step_int)
            if self.open_traceback is not None:  # the traceback ended in this message: it is that message
                self.open_traceback = None
            return kind
        if _TRACEBACK.search(text):
            self.open_traceback = LogMessage("traceback", text[:MAX_TEXT], line_no, step_int)
            return "traceback"
        return None

    def _overflow(self, match: re.Match, step: int | None) -> None:
        if match.group("floor"):
            self.out.floor_reached = True
            return
        raw = match.group("scale") or match.group("scale2") or match.group("scale3")
        value = as_float(raw) if raw else None
        if value is not None and len(self.out.scales) < MAX_SCALES:
            self.out.scales.append((step, value))

    def _close_traceback(self, line_no: int, text: str, step: float | None) -> bool:
        """The exception line that ends an open traceback (the first unindented ``SomeError: ...``): a
        traceback message named by its exception, unless a kind above claims the line."""
        if text[:1] in (" ", "\t") or text.lstrip().startswith("File "):
            return False
        match = _EXCEPTION.match(text)
        if match is None:
            if not text.strip() or text.lstrip().startswith(("^", "~", "During handling", "The above exception")):
                return False
            self.open_traceback = None  # something else: the traceback was cut off
            return False
        if any(pattern.search(text) for _kind, pattern in _PATTERNS):
            return False  # "RuntimeError: CUDA out of memory": the oom message names it
        opened = self.open_traceback
        self.open_traceback = None
        message = LogMessage("traceback", text.strip()[:MAX_TEXT], opened.line, opened.step)
        group = self._add(message)
        name = match.group("name")
        group.exceptions[name] = group.exceptions.get(name, 0) + 1
        return True

    def _add(self, message: LogMessage) -> MessageGroup:
        group = self.out.groups.get(message.kind)
        if group is None:
            group = self.out.groups[message.kind] = MessageGroup(message.kind, 0, message, message)
        group.count += 1
        group.last = message
        return group

    def finish(self) -> LogMessages:
        """The groups; a traceback still open at the end of the log (cut before its exception) counts too."""
        if self.open_traceback is not None:
            self._add(self.open_traceback)
            self.open_traceback = None
        return self.out


LEAD_IN = 60
"""A message that starts further into its line than this was printed after something else on the same line (a
progress bar without a newline, a timestamped prefix): its text starts at the message."""


def _excerpt(text: str, start: int) -> str:
    text = text.strip() if start <= LEAD_IN else "..." + text[start:].strip()
    return text[:MAX_TEXT]


def benign_exit(group: MessageGroup) -> bool:
    """Tracebacks that all end in a stop from outside (:data:`_BENIGN_EXITS`)."""
    return bool(group.exceptions) and set(group.exceptions) <= _BENIGN_EXITS
