"""``log_message``: messages a text log printed that bear on training (OOM, NaN detected, numerical warnings,
NCCL, data loader, exceptions), grouped by kind.

Detector: :func:`traintriage.detectors.messages.log_message_findings`, over what the text reader collected
(:mod:`traintriage.sources.messages`). A group at the steps of a loss event joins its issue as evidence (the
``var(): degrees of freedom is <= 0`` warning printed just before a NaN loss), and the NaN rule weighs it as
a numerics signal; standing alone, the kind of message is the cause.
"""

from __future__ import annotations

from ..base import Cause, Rule, Signal, Step


def _kind_is(*kinds: str):
    def observe(s) -> str | None:
        kind = s.anchor.details.get("kind")
        if s.anchor.code != "log_message" or kind not in kinds:
            return None
        return f"{s.anchor.details.get('count')} message(s): \"{s.anchor.details.get('first_text', '')[:120]}\""
    return observe


def _explain(s, fired) -> str:
    d = s.anchor.details
    return (f"The log itself says what happened: \"{d.get('first_text', '')[:200]}\" (line {d.get('first_line')}, "
            f"{d.get('count')} such message(s)).")


def _cause(category: str, name: str, kinds: tuple[str, ...], weight: float, why: str) -> Cause:
    return Cause(category, _explain, (Signal(name, weight, why, _kind_is(*kinds)),))


def _fix(s) -> Step:
    """The fix for the kind of message the issue's finding groups (the detector writes it), and what the next
    run's log must not print."""
    d = s.anchor.details
    kind = d.get("kind", "message")
    return Step(
        d.get("fix") or "read the message and the frame that raised it",
        f"no {kind} message in the log" + (" and the run goes on past it" if d.get("ended_run") else ""),
        "low",
        f"log: {kind}",
        f"no {kind} message (this run printed {d.get('count')}, the first at line {d.get('first_line')})",
    )


RULE = Rule(
    code="log_message",
    meaning="messages in a text log that bear on training (OOM, NaN detected, numerical warnings, NCCL, data "
    "loader), grouped by kind",
    area="messages",
    default_severity="warning",
    anchor_rank=213,
    detectors=("traintriage.detectors.messages:log_message_findings",),
    # Each kind of message points to one category (a traceback to none: its exception says which).
    causes=(
        _cause("memory", "oom_message", ("oom",), 0.8,
               "An out-of-memory error printed by the framework is the failure itself, not an inference; what to "
               "cut (batch, activations, a leak) is for the plan."),
        _cause("numerics", "numerical_message", ("numerical_warning", "nan_detected"), 0.6,
               "A numerical warning or a NaN check names the operation that went non-finite, but a warning can "
               "also be printed by a harmless statistic: likely, not certain."),
        _cause("data", "data_message", ("data",), 0.7,
               "A killed data-loader worker or a corrupt sample is the input pipeline failing, said in so many "
               "words; the worker may have been killed for memory, which the message does not always say."),
        _cause("pipeline", "distributed_message", ("distributed",), 0.6,
               "An NCCL timeout says a collective waited too long, not why: one rank slower (a save, an uneven "
               "batch) or dead; the pipeline is the likely place."),
    ),
    plan=lambda s: [_fix(s)],
    attaches_to_loss_event=True,
)
