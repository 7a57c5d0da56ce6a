"""What one delivery attempt means: counters, back-off, and the warning to log (once).

- delivered: ``sent`` (minus the events the collector rejected one by one,
  counted as ``dropped_rejected``); the failure streak ends.
- refused (4xx but 408 and 429): the batch is dropped (``dropped_rejected``) and
  not retried: sending it again would be refused again. The collector did
  answer, so the failure streak ends too.
- transient (network, timeout, 408, 429, 5xx): the batch is kept for a retry
  after the back-off, which ``Retry-After`` can only lengthen.

Every failed attempt also counts once under ``failed_<reason>``.
"""

from __future__ import annotations

from typing import NamedTuple

from pigeon._backoff import Backoff
from pigeon._reporting import Counters
from pigeon._transports import Delivery

__all__ = ["Accounted", "account"]


class Accounted(NamedTuple):
    """The verdict on one attempt.

    Attributes:
        settled: the batch is done with (delivered or dropped); else it is retried.
        notes: ``(kind, message)`` warnings, to be logged once per kind.
    """

    settled: bool
    notes: list[tuple[str, str]]


def account(
    outcome: Delivery, events: int, where: str, counters: Counters, backoff: Backoff
) -> Accounted:
    """Count the outcome of sending ``events`` events to ``where``; update the back-off."""
    detail = f": {outcome.detail}" if outcome.detail else ""
    if outcome.delivered and outcome.local:
        counters.add("recorded_locally", events)
        return Accounted(True, [])
    if outcome.delivered:
        counters.add("sent", events - outcome.rejected)
        counters.add("dropped_rejected", outcome.rejected)
        backoff.success()
        if outcome.rejected:
            return Accounted(True, [("rejected", f"{where} rejected {outcome.rejected} event(s)")])
        return Accounted(True, [])
    reason = outcome.reason or "unknown"
    counters.add(f"failed_{reason}")
    if not outcome.retry:
        counters.add("dropped_rejected", events)
        backoff.success()  # the collector answered: it is reachable
        return Accounted(True, [(reason, f"{where} refused a batch ({reason}{detail}): dropped")])
    delay = backoff.failure(outcome.retry_after)
    notes = [
        (
            reason,
            f"could not deliver telemetry to {where} ({reason}{detail}); "
            f"will retry in {duration(delay)}",
        )
    ]
    if backoff.long:
        notes.append(
            (
                "long_backoff",
                f"{where} failed {backoff.failures} times in a row: pausing telemetry "
                f"delivery for {duration(delay)}",
            )
        )
    return Accounted(False, notes)


def duration(seconds: float) -> str:
    """A delay for humans: ``0.4 s``, ``45 s``, ``12 min``, ``6.0 h``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
