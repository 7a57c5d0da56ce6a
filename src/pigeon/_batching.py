"""Batches in order: building them in one pass, and knowing which events are settled.

A batch takes, in this order: the message carried over from the previous batch
(it did not fit), messages spooled by an earlier run, then items from the
queue (validated and encoded by ``prepare`` as they are taken). It holds at
most :data:`MAX_BATCH_EVENTS` messages and :data:`MAX_BATCH_BYTES` bytes.

Two batches may exist at once: the *pending* one (sent, or being retried with
the same message ids) and the *next* one, built while the collector answers.
Queue positions make ``flush()`` exact: every item popped from the queue gets
a position, a batch records the last position it covers, and batches settle
in order, so "everything up to position N is settled" is one comparison.

Not thread-safe: the sender holds its lock around every call.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pigeon._pipeline import Item

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_EVENTS", "Batch", "Batcher", "Entry"]

MAX_BATCH_EVENTS = 100
"""A batch holds at most this many events..."""
MAX_BATCH_BYTES = 500_000
"""...and at most this many bytes of encoded JSON (the collector's request limit)."""

Entry = tuple[float, str]
"""An encoded message and the time of its event (for the spool's age cap)."""


class Batch:
    """Messages sent together, retried together."""

    __slots__ = ("end", "messages", "spooled", "times")

    def __init__(self, messages: list[str], times: list[float], end: int, spooled: int) -> None:
        """``end``: the last queue position covered; ``spooled``: messages from the spool."""
        self.messages = messages
        self.times = times
        self.end = end
        self.spooled = spooled

    def entries(self) -> list[Entry]:
        """``(time, message)`` pairs, for the spool."""
        return list(zip(self.times, self.messages, strict=True))


class Batcher:
    """Builds batches from the queue and tracks what is settled."""

    def __init__(self) -> None:
        """Start with nothing taken."""
        self.outbox: deque[Entry] = deque()  # spooled messages of earlier runs, sent first
        self.carry: Entry | None = None
        self.pending: Batch | None = None
        self.next: Batch | None = None
        self.taken = 0  # queue positions handed out so far
        self.settled = 0  # every position up to this one is delivered or dropped

    def waiting(self) -> bool:
        """Whether anything besides the queue awaits sending."""
        return bool(self.pending or self.next or self.carry or self.outbox)

    def done(self, target: int) -> bool:
        """Whether queue positions up to ``target`` and all spooled messages are settled."""
        if self.settled < target or self.outbox:
            return False
        return not any(b is not None and b.spooled for b in (self.pending, self.next))

    def take(self, queue: deque[Item], prepare: Callable[[Item], str | None]) -> Batch:
        """Build the next batch in one pass (refused items leave no trace but a position)."""
        messages: list[str] = []
        times: list[float] = []
        budget = MAX_BATCH_BYTES - 64  # the batch envelope
        if self.carry is not None:
            t, message = self.carry
            self.carry = None
            messages.append(message)
            times.append(t)
            budget -= _size(message)
        outbox = self.outbox
        spooled = 0
        while outbox and len(messages) < MAX_BATCH_EVENTS:
            t, message = outbox[0]
            size = _size(message) + 1
            if messages and size > budget:
                break
            outbox.popleft()
            messages.append(message)
            times.append(t)
            budget -= size
            spooled += 1
        popleft = queue.popleft
        taken = self.taken
        while queue and len(messages) < MAX_BATCH_EVENTS:
            item = popleft()
            taken += 1
            encoded = prepare(item)
            if encoded is None:
                continue
            size = len(encoded) + 1 if encoded.isascii() else len(encoded.encode()) + 1
            if messages and size > budget:
                self.carry = (item[2], encoded)  # it opens the next batch
                break
            messages.append(encoded)
            times.append(item[2])
            budget -= size
        self.taken = taken
        return Batch(messages, times, taken - (self.carry is not None), spooled)

    def settle(self, batch: Batch) -> None:
        """The pending batch was delivered or dropped."""
        if batch is self.pending:
            self.pending = None
        self.settled = max(self.settled, batch.end)

    def leftovers(self) -> list[Entry]:
        """Take every message not yet delivered, in order (exit: for the spool)."""
        entries: list[Entry] = []
        for batch in (self.pending, self.next):
            if batch is not None:
                entries += batch.entries()
        if self.carry is not None:
            entries.append(self.carry)
        entries += self.outbox
        self.pending = self.next = self.carry = None
        self.outbox.clear()
        self.settled = self.taken
        return entries

    def discard(self) -> int:
        """Drop every message not yet delivered; return how many."""
        return len(self.leftovers())


def _size(message: str) -> int:
    return len(message) if message.isascii() else len(message.encode())
