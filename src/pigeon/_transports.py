"""The transport seam: where encoded batches go.

A :class:`Transport` takes a batch of encoded messages (JSON object texts) and
reports a :class:`Delivery`. The sender thread owns batching, retries and
back-off; a transport only moves one batch once.

- ``HTTPTransport`` (``pigeon._http``): gzip + HTTP Basic auth to a collector.
- :class:`DebugTransport`: one JSON line per message on stderr, nothing sent.
- :class:`MemoryTransport`: keeps the messages, for tests.
- :class:`LocalTransport`: ``local`` mode; sends nothing, the sender records
  each batch in the local ledger.

A transport may also offer ``forget(anonymous_id, timeout) -> bool`` (ask the
collector to delete an install's events), ``warm()``, ``abort()`` and
``after_fork()``; the sender calls them when present.
"""

from __future__ import annotations

import sys
import threading
from typing import NamedTuple, Protocol, TextIO, runtime_checkable

from pigeon._wire import encode_batch

__all__ = [
    "DELIVERED",
    "DebugTransport",
    "Delivery",
    "LocalTransport",
    "MemoryTransport",
    "Transport",
]


class Delivery(NamedTuple):
    """What became of one batch.

    Attributes:
        delivered: the collector acknowledged the batch.
        retry: the failure is transient (network error, 429, 5xx): try again later.
        retry_after: seconds the collector asked us to wait (``Retry-After``), if any.
        reason: a short failure kind for counters and the once-per-kind warning
            (``"dns"``, ``"connect"``, ``"timeout"``, ``"http_500"``...); empty when delivered.
        rejected: events of a delivered batch that the collector refused one by one.
        detail: a human explanation of a failure, for the one warning of its kind.
        body: the batch body exactly as it left the process (for the local ledger);
            empty when nothing left (debug output, a failure).
        local: ``local`` mode: nothing was sent, the batch is only recorded.
    """

    delivered: bool
    retry: bool = False
    retry_after: float | None = None
    reason: str = ""
    rejected: int = 0
    detail: str = ""
    body: bytes = b""
    local: bool = False


DELIVERED = Delivery(delivered=True)
"""The usual successful outcome."""


@runtime_checkable
class Transport(Protocol):
    """Moves one batch of encoded messages somewhere."""

    def send(self, messages: list[str], timeout: float) -> Delivery:
        """Deliver ``messages`` within ``timeout`` seconds; never raise."""
        ...


class DebugTransport:
    """Prints each message as one JSON line on a stream (stderr) and sends nothing."""

    def __init__(self, stream: TextIO | None = None) -> None:
        """Print to ``stream``, or to the ``sys.stderr`` of the moment when ``None``."""
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, messages: list[str], timeout: float) -> Delivery:
        """Write the messages; always delivered."""
        return self._write("".join(f"{m}\n" for m in messages))

    def forget(self, anonymous_id: str, timeout: float) -> bool:
        """Print the deletion request that would be sent."""
        return self._write(f'{{"forget":"{anonymous_id}"}}\n').delivered

    def after_fork(self) -> None:
        """In a forked child: the parent's sender thread may have held the lock."""
        self._lock = threading.Lock()

    def _write(self, text: str) -> Delivery:
        stream = self._stream or sys.stderr
        with self._lock:
            try:
                stream.write(text)
                stream.flush()
            except (OSError, ValueError):
                return Delivery(delivered=False, reason="debug_stream")
        return DELIVERED


class MemoryTransport:
    """Keeps every delivered message in memory, for tests (``pigeon.testing``).

    Attributes:
        batches: every batch received, in order.
        forgotten: the install ids whose deletion was requested.
    """

    def __init__(self) -> None:
        """Start empty."""
        self.batches: list[list[str]] = []
        self.forgotten: list[str] = []
        self._lock = threading.Lock()

    def send(self, messages: list[str], timeout: float) -> Delivery:
        """Record the batch; always delivered."""
        with self._lock:
            self.batches.append(list(messages))
        return DELIVERED

    def forget(self, anonymous_id: str, timeout: float) -> bool:
        """Record the deletion request; always confirmed."""
        with self._lock:
            self.forgotten.append(anonymous_id)
        return True

    def after_fork(self) -> None:
        """In a forked child: the parent's sender thread may have held the lock."""
        self._lock = threading.Lock()

    @property
    def messages(self) -> list[dict[str, object]]:
        """Every delivered message, decoded, in order."""
        import json

        with self._lock:
            return [json.loads(m) for batch in self.batches for m in batch]


class LocalTransport:
    """``local`` mode: nothing leaves the process; each batch is recorded in the ledger.

    Opens no socket. The batch body is built as the HTTP transport would build
    it, so that the ledger shows exactly what ``on`` mode would send.
    """

    def send(self, messages: list[str], timeout: float) -> Delivery:
        """Build the body and hand it back for the ledger; always "delivered"."""
        return Delivery(delivered=True, body=encode_batch(messages), local=True)
