"""The transport seam: where encoded batches go.

A :class:`Transport` takes a batch of encoded messages (JSON object texts) and
reports a :class:`Delivery`. The sender thread owns batching, retries and
back-off; a transport only moves one batch once.

- ``HTTPTransport`` (``pigeon._http``): gzip + HTTP Basic auth to a collector.
- :class:`DebugTransport`: one JSON line per message on stderr, nothing sent.
- :class:`MemoryTransport`: keeps the messages, for tests.
"""

from __future__ import annotations

import sys
import threading
from typing import NamedTuple, Protocol, TextIO, runtime_checkable

__all__ = ["DebugTransport", "Delivery", "MemoryTransport", "Transport"]


class Delivery(NamedTuple):
    """What became of one batch.

    Attributes:
        delivered: the collector acknowledged the batch.
        retry: the failure is transient (network error, 429, 5xx): try again later.
        retry_after: seconds the collector asked us to wait (``Retry-After``), if any.
        reason: a short failure kind for counters and the once-per-kind warning
            (``"refused"``, ``"timeout"``, ``"http_500"``...); empty when delivered.
    """

    delivered: bool
    retry: bool = False
    retry_after: float | None = None
    reason: str = ""


DELIVERED = Delivery(delivered=True)
"""The one successful outcome."""


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
        stream = self._stream or sys.stderr
        with self._lock:
            try:
                stream.write("".join(f"{m}\n" for m in messages))
                stream.flush()
            except (OSError, ValueError):
                return Delivery(delivered=False, reason="debug_stream")
        return DELIVERED


class MemoryTransport:
    """Keeps every delivered message in memory, for tests (``pigeon.testing``)."""

    def __init__(self) -> None:
        """Start empty."""
        self.batches: list[list[str]] = []
        self._lock = threading.Lock()

    def send(self, messages: list[str], timeout: float) -> Delivery:
        """Record the batch; always delivered."""
        with self._lock:
            self.batches.append(list(messages))
        return DELIVERED

    @property
    def messages(self) -> list[dict[str, object]]:
        """Every delivered message, decoded, in order."""
        import json

        with self._lock:
            return [json.loads(m) for batch in self.batches for m in batch]
