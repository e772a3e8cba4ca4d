"""Series and their roles: what every analysis sees, whatever format the run was logged in.

A *source* (TensorBoard event files, ``trainer_state.json``, CSV, ...) produces named
:class:`Series`; :func:`infer_roles` then decides which one is the training loss, the validation
loss, the learning rate, the per-component gradient norms and so on, from the naming conventions
users actually have (plain ``SummaryWriter`` code, HF Trainer, PyTorch Lightning, Keras, EpiForecaster).
Analyses only ever look at roles, so a new log format needs a reader, never a new detector.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError
from .record import Field, Record

if TYPE_CHECKING:  # numpy is imported by the code that builds series, not by the server's start-up
    import numpy as np

    from .sources.messages import LogMessages


@dataclass(frozen=True, slots=True, eq=False)
class Series:
    """One scalar time series: steps sorted ascending and unique, values kept as logged (NaN/Inf too).

    ``steps`` is int64, ``values`` and ``wall_times`` float64 (wall time NaN when the format has none).
    """

    name: str
    steps: np.ndarray
    values: np.ndarray
    wall_times: np.ndarray

    def __post_init__(self) -> None:
        if not (len(self.steps) == len(self.values) == len(self.wall_times)):
            raise ValueError(f"series {self.name!r}: steps, values and wall_times differ in length")

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    @classmethod
    def from_arrays(
        cls,
        name: str,
        steps: Iterable[int] | np.ndarray,
        values: Iterable[float] | np.ndarray,
        wall_times: Iterable[float] | np.ndarray | None = None,
    ) -> Series:
        """Build a series, sorting by step and keeping the LAST value logged for a repeated step.

        Repeated steps come from resumed runs: the run restarted from a checkpoint and logged the
        same steps again, and the later write is the one that describes the model that went on.
        """
        import numpy as np

        steps_arr = np.asarray(steps, dtype=np.int64)
        values_arr = np.asarray(values, dtype=np.float64)
        walls_arr = np.full(steps_arr.shape, np.nan) if wall_times is None else np.asarray(wall_times, dtype=np.float64)
        steps_arr, values_arr, walls_arr, _ = dedupe_last(steps_arr, values_arr, walls_arr)
        return cls(name, steps_arr, values_arr, walls_arr)


def dedupe_last(
    steps: np.ndarray, values: np.ndarray, wall_times: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Sort by step (stable, so write order is kept among equal steps) and keep the last of each step.

    Returns the arrays and how many points were dropped as repeats.
    """
    import numpy as np

    if steps.size == 0:
        return steps, values, wall_times, 0
    if np.all(steps[1:] > steps[:-1]):
        return steps, values, wall_times, 0
    order = np.argsort(steps, kind="stable")
    steps, values, wall_times = steps[order], values[order], wall_times[order]
    keep = np.ones(steps.shape, dtype=bool)
    keep[:-1] = steps[1:] != steps[:-1]
    dropped = int(steps.size - keep.sum())
    return steps[keep], values[keep], wall_times[keep], dropped


# ----------------------------------------------------------------------------------------------
# Roles
# ----------------------------------------------------------------------------------------------

ROLE_NAMES = (
    "train_loss",
    "val_loss",
    "lr",
    "grad_total",
    "grad_preclip",
    "grad_postclip",
    "clip_threshold",
    "grad_component",
    "memory",
    "stage",
    "epoch",
    "loss_scale",
    "collapse_metric",
)


SINGLE_ROLES = ("train_loss", "lr", "grad_total", "grad_preclip", "grad_postclip", "clip_threshold", "stage", "epoch",
                "loss_scale")
"""Roles held by one series (the others, val_loss, memory and grad components, hold several)."""


class Roles(Record):
    """Which series plays which part. Every tool result reports these, so a wrong guess is visible.

    ``grad_components`` maps a component name (``MobilityGNN``, ``layers.3``) to its series.
    """

    train_loss: str | None = None
    val_loss: list[str] = Field(default_factory=list)
    lr: str | None = None
    grad_total: str | None = None
    grad_preclip: str | None = None
    grad_postclip: str | None = None
    clip_threshold: str | None = None
    grad_components: dict[str, str] = Field(default_factory=dict)
    memory: list[str] = Field(default_factory=list)
    stage: str | None = None
    epoch: str | None = None
    loss_scale: str | None = None
    """fp16 dynamic loss scale (``loss_scale``, ``scaler/scale``, ``grad_scale``): neither a loss nor a gradient."""
    collapse_metric: list[str] = Field(default_factory=list)
    """Metrics that should keep varying (prediction std or variance, output entropy, diversity, halting or
    ponder statistics, a count of distinct outputs): ``metric_collapse`` watches them."""

    def role_of(self, series_name: str) -> str | None:
        """The role a series plays, or None."""
        for role in SINGLE_ROLES:
            if getattr(self, role) == series_name:
                return role
        if series_name in self.val_loss:
            return "val_loss"
        if series_name in self.memory:
            return "memory"
        if series_name in self.collapse_metric:
            return "collapse_metric"
        for component, name in self.grad_components.items():
            if name == series_name:
                return f"grad_component:{component}"
        return None


def _norm(name: str) -> str:
    """Lower-case and unify separators so that ``Loss/Train_step`` and ``loss/train-step`` compare equal."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


_SPLIT_RE = re.compile(r"[/._\-\s]+")
_STEP_SUFFIX_RE = re.compile(r"(?:[/_.](?:step|steps|iter|batch))$")
_EPOCH_SUFFIX_RE = re.compile(r"(?:[/_.]epoch)$")

_VAL_WORDS = ("val", "valid", "validation", "eval", "evaluation", "dev", "test", "holdout", "tel")
_TRAIN_WORDS = ("train", "training", "trn", "trl")  # trl / tel: llm.c's log file (train loss, test/eval loss)
_LOSS_WORDS = ("loss", "losses", "xent", "nll", "trl", "tel")
_TOTAL_NORMS = frozenset({"norm", "gnorm", "total_norm", "grad_norm", "gradient_norm"})
"""A gradient norm printed on its own (llm.c's ``norm``, fairseq's ``gnorm``): the total gradient norm."""
_GRAD_PREFIX_RE = re.compile(
    r"^(?:(?:train|training)[/_.])?(?:grad[_\-]?norms?|gradnorms?|gradient[_\-]?norms?|grad_2\.0_norm|grads?)"
    r"(?:[/_.](?P<rest>.+))?$",
    re.IGNORECASE,
)
_LR_RE = re.compile(r"(?:^|[/_.])(?:lr|learning[_\-]?rate)\d*(?:$|[/_.\-])|^lr[\-_]|^learning_rate", re.IGNORECASE)
_MEMORY_RE = re.compile(
    r"(?:^|[/_.])(?:mem|memory|gpu_mem|cuda_mem|rss|vram|allocated|reserved|max_allocated|"
    r"memory_allocated|memory_reserved)(?:$|[/_.])",
    re.IGNORECASE,
)
_LOSS_SCALE_RE = re.compile(
    r"(?:^|[/_.])(?:loss[_\-]?scale|grad[_\-]?scale|scaler(?:[/_.]scale)?|amp[/_.]scale)(?:$|[/_.])", re.I
)
"""fp16 loss-scale names: tried before the gradient and loss names, which ``grad_scale`` and ``loss_scale``
would otherwise match."""

_COLLAPSE_PREFIXES = ("halting", "ponder", "distinct")


def is_collapse_metric_name(name: str) -> bool:
    """A metric that should keep varying, by its name: ``*entropy*`` (not a cross-entropy), ``*_std``,
    ``*var*`` (a variance, not a variable), ``*diversity*``, ``halting*``, ``ponder*``, ``distinct*``."""
    words = name_words(name)
    low = name.lower()
    if "entropy" in low and not any(w in ("cross", "xent") or w.startswith("cross") for w in words):
        return True
    if "std" in words:
        return True
    if any(w.startswith("var") and not w.startswith("variab") for w in words) or "diversity" in low:
        return True
    return any(w.startswith(_COLLAPSE_PREFIXES) for w in words)


_STAGE_RE = re.compile(r"(?:^|[/_.])(?:stage|curriculum|phase|curriculum_stage|data_stage)(?:$|[/_.])", re.I)


def name_words(name: str) -> list[str]:
    """The lower-case words of a series name, split at ``/ . _ -`` and blanks (``train/box_loss``: train, box,
    loss)."""
    return [w for w in _SPLIT_RE.split(name.lower()) if w]


def is_loss_name(name: str) -> bool:
    """A loss, by its name: a word ``loss``/``losses`` or ending in ``loss`` (``total_loss``, ``valloss``), or
    ``xent``/``nll`` (OpenNMT's cross-entropy), ``trl``/``tel`` (llm.c); not a loss *scale* or weight, nor a
    running best (``best_loss``: the minimum so far, not the loss)."""
    words = name_words(name)
    return any(w in _LOSS_WORDS or w.endswith("loss") for w in words) and not any(
        w in ("scale", "scaler", "weight", "weights", "coef", "ratio", "best") for w in words
    )


def is_total(leaf: str) -> bool:
    """A loss name that is the whole loss, not one of its parts: ``loss``, ``total_loss``, ``loss_total``..."""
    words = name_words(leaf)
    return words in (["loss"], ["losses"]) or any(w in ("total", "sum", "overall") for w in words)


def loss_flavour(name: str) -> str:
    """'val', 'train' or 'plain' (no word says which)."""
    words = name_words(name)
    if any(w in _VAL_WORDS or w.startswith(("val", "eval")) for w in words):
        return "val"
    if any(w in _TRAIN_WORDS for w in words):
        return "train"
    return "plain"


def _train_loss_rank(name: str) -> tuple[int, int, int]:
    """Lower is better: prefer a per-step total loss over epoch aggregates and sub-losses."""
    low = name.lower()
    words = name_words(name)
    is_epoch = bool(_EPOCH_SUFFIX_RE.search(low)) or "epoch" in words
    is_step = bool(_STEP_SUFFIX_RE.search(low)) or "step" in words
    # Sub-losses (loss/recon, kl_loss, ...) rank after the total.
    exact = {
        "loss",
        "train_loss",
        "train/loss",
        "loss/train",
        "training_loss",
        "loss/train_step",
        "train_loss_step",
        "epoch_loss",
        "train/epoch_loss",
        "loss/total",
        "total_loss",
    }
    canonical = 0 if (_norm(name) in exact or words in (["loss"], ["train", "loss"], ["loss", "train"])
                      or "total" in words) else 1
    return (0 if is_step else (2 if is_epoch else 1), canonical, len(name))


def _component_name(rest: str) -> str:
    return rest.strip("/._")


TIMING_PREFIX = "timing/"
"""Timing numbers of a counted step line (``373.97 ms``, ``step_avg:45ms``, ``data_time: 0.01``, ``177725 tok/s``)
are kept as ``timing/<name>_<unit>`` series: never metrics (a ``nan`` timing is no NaN loss), read by the time
analysis (:mod:`traintriage.timing`) for time per step and throughput."""


EARLIER_RUN_PREFIX = "earlier-run-"
"""Series of an earlier run in the same log file (``earlier-run-2/loss``): a file that holds several runs one
after another is analysed on its last run; the earlier ones are kept under this prefix, play no role, and
are checked for NaN, a stuck or a zero loss (see ``detectors.loss.analyze``)."""


def earlier_run_of(name: str) -> tuple[int, str] | None:
    """``(k, rest)`` for ``earlier-run-k/rest``, else None."""
    if not name.startswith(EARLIER_RUN_PREFIX):
        return None
    head, _, rest = name[len(EARLIER_RUN_PREFIX) :].partition("/")
    return (int(head), rest) if head.isdigit() and rest else None


PER_STEP_MARGIN = 4
"""A plain ``loss`` logged at least this many times as often as a ``train loss`` is the per-step training loss,
and the other an occasional estimate (nanoGPT prints ``iter N: loss`` every step and ``step N: train loss``
at each evaluation)."""


def infer_roles(
    names: Iterable[str], overrides: Mapping[str, str] | None = None, sizes: Mapping[str, int] | None = None
) -> Roles:
    """Guess roles from series names; ``overrides`` (role -> series name) always win. ``sizes`` (points per
    series, when known) break one tie: see :data:`PER_STEP_MARGIN`.

    Override keys are role names (``train_loss``, ``val_loss``, ``lr``, ``grad_total``,
    ``grad_preclip``, ``grad_postclip``, ``clip_threshold``, ``memory``, ``stage``, ``epoch``, ``loss_scale``,
    ``collapse_metric``) or
    ``grad_component:<name>``. An override naming a series that does not exist is an error that
    lists the series that do.
    """
    names = list(names)
    known = set(names)
    roles = Roles()

    train_candidates: list[str] = []
    val_candidates: list[str] = []
    plain_candidates: list[str] = []
    for name in names:
        if name.startswith(EARLIER_RUN_PREFIX):  # an earlier run in the same file: context, no role
            continue
        low = name.lower()
        if _LOSS_SCALE_RE.search(name):
            roles.loss_scale = roles.loss_scale or name
            continue
        grad = _GRAD_PREFIX_RE.match(name)
        if _norm(name) in _TOTAL_NORMS and not grad:
            roles.grad_total = roles.grad_total or name
            continue
        if grad:
            _assign_grad(roles, name, grad.group("rest"))
            continue
        if is_loss_name(name):
            flavour = loss_flavour(name)
            (
                val_candidates if flavour == "val" else train_candidates if flavour == "train" else plain_candidates
            ).append(name)
            continue
        if _norm(low) in ("clip_threshold", "max_grad_norm", "grad_clip", "clip_value", "gradient_clip_val"):
            roles.clip_threshold = roles.clip_threshold or name
            continue
        if _LR_RE.search(name):
            if roles.lr is None or len(name) < len(roles.lr):
                roles.lr = name
            continue
        if _MEMORY_RE.search(name):
            roles.memory.append(name)
            continue
        if _STAGE_RE.search(name):
            roles.stage = roles.stage or name
            continue
        if _norm(low).split("/")[-1] in ("epoch", "epochs"):
            roles.epoch = roles.epoch or name
            continue
        if is_collapse_metric_name(name):
            roles.collapse_metric.append(name)

    train_pool = train_candidates or plain_candidates
    if train_pool:
        roles.train_loss = min(train_pool, key=_train_loss_rank)
        if train_candidates and plain_candidates and sizes:
            plain = min(plain_candidates, key=_train_loss_rank)
            if sizes.get(plain, 0) >= PER_STEP_MARGIN * max(1, sizes.get(roles.train_loss, 0)):
                roles.train_loss = plain
    # Validation losses: prefer total losses, keep several validation sets (eval_<name>_loss).
    # A held-out test loss (logged once, at the end) comes after validation losses. The parts of a loss
    # whose total is logged beside them (val/box_loss next to val/total_loss) are context, not validation sets.
    totals = {n.rpartition("/")[0] for n in val_candidates if is_total(n.rpartition("/")[2])}
    val_candidates = [n for n in val_candidates
                      if is_total(n.rpartition("/")[2]) or "/" not in n or n.rpartition("/")[0] not in totals]
    roles.val_loss = sorted(val_candidates, key=lambda n: (_train_loss_rank(n)[1], "test" in name_words(n), n))

    for role, series_name in (overrides or {}).items():
        _apply_override(roles, role, series_name, known)
    return roles


def _assign_grad(roles: Roles, name: str, rest: str | None) -> None:
    if rest is None:
        roles.grad_total = roles.grad_total or name
        return
    key = _norm(rest)
    compact = key.replace("_", "").replace("/", "")
    if compact in ("total", "totalnorm", "all", "global", "norm", "l2"):
        roles.grad_total = name
    elif ("pre" in compact and "clip" in compact) or compact in ("unclipped", "raw"):
        roles.grad_preclip = name
    elif "clip" in compact:  # Clipped_Total, post_clip, clipped
        roles.grad_postclip = name
    elif compact.endswith("total") or compact.startswith("total"):
        roles.grad_total = roles.grad_total or name
    else:
        roles.grad_components[_component_name(rest)] = name


def _apply_override(roles: Roles, role: str, series_name: str, known: set[str]) -> None:
    if series_name not in known:
        raise InputError(
            f"--role {role}={series_name}: there is no series named {series_name!r}.",
            hint="Series in this run: " + ", ".join(sorted(known)[:60]),
        )
    if role.startswith("grad_component:"):
        roles.grad_components[role.split(":", 1)[1]] = series_name
    elif role in ("val_loss", "memory", "collapse_metric"):
        current = getattr(roles, role)
        setattr(roles, role, [series_name] + [n for n in current if n != series_name])
    elif role in ROLE_NAMES and role != "grad_component":
        setattr(roles, role, series_name)
    else:
        raise InputError(
            f"unknown role {role!r}.",
            hint="Roles: " + ", ".join(r for r in ROLE_NAMES if r != "grad_component") + ", grad_component:<name>",
        )
    # A series overridden into one role leaves the others it was guessed for.
    for other in SINGLE_ROLES:
        if other != role and getattr(roles, other) == series_name:
            setattr(roles, other, None)
    if role != "collapse_metric" and series_name in roles.collapse_metric:
        roles.collapse_metric.remove(series_name)


def parse_role_overrides(items: Iterable[str] | Mapping[str, str] | None) -> dict[str, str]:
    """``["train_loss=my/tag", ...]`` (CLI) or a mapping (MCP) -> ``{role: series}``."""
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return dict(items)
    out: dict[str, str] = {}
    for item in items:
        role, sep, name = item.partition("=")
        if not sep or not role.strip() or not name.strip():
            raise InputError(f"bad role override {item!r}.", hint="Write it as ROLE=SERIES, e.g. train_loss=loss/total")
        out[role.strip()] = name.strip()
    return out


# ----------------------------------------------------------------------------------------------
# A run, as the analyses see it
# ----------------------------------------------------------------------------------------------


class SeriesInfo(Record):
    name: str
    role: str | None
    points: int
    first_step: int | None
    last_step: int | None


class RunInfo(Record):
    """What was read: every tool result carries it, so an agent can check the tool looked at the right thing."""

    path: str = Field(description="Resolved path of the run (directory or file).")
    source: str = Field(description="Format that was read, e.g. 'tensorboard', 'trainer_state'.")
    resolution: str = Field(description="How the target was resolved to this path, and why.")
    files: list[str] = Field(description="Files read, relative to the run path (first 50).")
    files_total: int
    series: list[SeriesInfo]
    roles: Roles
    first_step: int | None
    last_step: int | None


@dataclass
class RunData:
    """A run read from disk: its series by name, the roles chosen, and what could not be read."""

    path: Path
    source: str
    series: dict[str, Series]
    roles: Roles
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    resolution: str = ""
    timings: dict[str, Series] = field(default_factory=dict)
    """A text log's timing fields (``timing/ms``, ``timing/step_avg_ms``): kept apart from ``series`` (no role,
    never a metric, a ``nan`` in them no NaN loss) for the time analysis (:mod:`traintriage.timing`)."""
    messages: list[LogMessages] = field(default_factory=list)
    """What the run's text logs printed besides metrics (OOM, NaN detected, NCCL...), per file."""

    def get(self, name: str | None) -> Series | None:
        return None if name is None else self.series.get(name)

    def require(self, name: str) -> Series:
        """The named series, or an error listing what exists."""
        try:
            return self.series[name]
        except KeyError:
            raise InputError(
                f"no series named {name!r} in {self.path}.",
                hint="Series in this run: " + ", ".join(sorted(self.series)[:80]),
            ) from None

    def info(self) -> RunInfo:
        steps_lo = [int(s.steps[0]) for s in self.series.values() if len(s)]
        steps_hi = [int(s.steps[-1]) for s in self.series.values() if len(s)]
        rel = []
        for f in self.files[:50]:
            try:
                rel.append(str(f.relative_to(self.path)) if self.path.is_dir() else f.name)
            except ValueError:
                rel.append(str(f))
        return RunInfo(
            path=str(self.path),
            source=self.source,
            resolution=self.resolution,
            files=rel,
            files_total=len(self.files),
            series=[
                SeriesInfo(
                    name=name,
                    role=self.roles.role_of(name),
                    points=len(s),
                    first_step=int(s.steps[0]) if len(s) else None,
                    last_step=int(s.steps[-1]) if len(s) else None,
                )
                for name, s in sorted(self.series.items())
            ],
            roles=self.roles,
            first_step=min(steps_lo) if steps_lo else None,
            last_step=max(steps_hi) if steps_hi else None,
        )

