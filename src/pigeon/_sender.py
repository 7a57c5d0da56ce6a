"""The background sender: one lazily started daemon thread draining a bounded queue.

The caller's thread only appends ``(event, properties, time)`` to a ``deque``
(see ``pigeon._client``); this thread validates, encodes, batches and hands
batches to a :class:`~pigeon._transports.Transport`. It never raises into the
host: internal errors are caught, counted and logged once per kind.

Fork safety: the sender records the pid that owns it; in a forked child,
``os.register_at_fork`` clears the inherited queue (the parent sends those
events) and a fresh thread starts on the child's first event.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable

from pigeon._pipeline import Item
from pigeon._transports import Delivery, Transport

__all__ = ["Sender"]

logger = logging.getLogger("pigeon")

MAX_BATCH_EVENTS = 100
"""A batch holds at most this many events..."""
MAX_BATCH_BYTES = 500_000
"""...and at most this many bytes of encoded JSON (the collector's request limit)."""


class Sender:
    """Drains a bounded queue on a daemon thread and delivers batches through a transport."""

    def __init__(
        self,
        transport: Transport,
        prepare: Callable[[Item], str | None],
        *,
        capacity: int = 10_000,
        interval: float = 3.0,
        timeout: float = 3.0,
    ) -> None:
        """Create an idle sender; the thread starts on :meth:`kick`.

        Args:
            transport: where batches go.
            prepare: turns a queued item into an encoded message (or ``None`` to skip it).
            capacity: the queue's bound; beyond it new events are dropped and counted.
            interval: the longest an event waits before its batch is sent.
            timeout: the transport's time budget for one batch.
        """
        self.queue: deque[Item] = deque()
        self.capacity = capacity
        self._transport = transport
        self._prepare = prepare
        self._interval = interval
        self._timeout = timeout
        self.counters: Counter[str] = Counter()
        self._warned: set[str] = set()
        self._init_thread_state()
        ref = weakref.WeakMethod(self._after_fork_in_child)
        os.register_at_fork(after_in_child=lambda: _call_weak(ref))

    def _init_thread_state(self) -> None:
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._busy = False
        self._closed = False
        self._pending: list[str] = []
        self._carry: str | None = None

    def _after_fork_in_child(self) -> None:
        # The parent still owns and will send what it queued: the child starts empty.
        self.queue.clear()
        self._init_thread_state()

    # -- caller side ---------------------------------------------------------

    def kick(self) -> None:
        """Start the thread if needed, and wake it (a batch is full, or the queue was empty)."""
        if self._thread is None or self._pid != os.getpid():
            self._start()
        self._wake.set()

    def overflow(self) -> None:
        """Count one event dropped because the queue is full (warn once)."""
        self.counters["dropped_queue_full"] += 1
        self.warn_once("queue_full", "telemetry queue is full: new events are dropped")

    def _start(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self._thread is not None and self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="pigeon-sender", daemon=True)
            self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is delivered; False on timeout or failure."""
        deadline = time.monotonic() + max(0.0, timeout)
        if not self.queue and not self._pending:
            return True
        self.kick()
        with self._idle:
            while self.queue or self._pending or self._carry is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.set()
                self._idle.wait(min(left, 0.05))
        return True

    def shutdown(self, timeout: float) -> bool:
        """Flush within ``timeout`` and stop the thread; later events are dropped."""
        delivered = self.flush(timeout)
        with self._lock:
            self._closed = True
        self._wake.set()
        return delivered

    def warn_once(self, kind: str, message: str) -> None:
        """Log ``message`` at most once per ``kind`` per process."""
        if kind in self._warned:
            return
        self._warned.add(kind)
        logger.warning("pigeon: %s", message)

    # -- sender thread -------------------------------------------------------

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._drain()
            except Exception:  # a telemetry bug must never kill the host's process
                self.counters["internal_error"] += 1
                logger.debug("pigeon: sender error", exc_info=True)
                self.warn_once("internal_error", "internal error in the telemetry sender")
            with self._idle:
                self._idle.notify_all()

    def _drain(self) -> None:
        while self.queue or self._pending or self._carry is not None:
            with self._lock:
                self._busy = True
            try:
                if not self._pending:
                    self._pending = self._take_batch()
                if not self._pending:
                    continue
                outcome = self._transport.send(self._pending, self._timeout)
                if not self._settle(outcome):
                    return
            finally:
                with self._idle:
                    self._busy = False
                    self._idle.notify_all()

    def _take_batch(self) -> list[str]:
        batch: list[str] = []
        size = 0
        if self._carry is not None:
            batch.append(self._carry)
            size = len(self._carry)
            self._carry = None
        queue = self.queue
        prepare = self._prepare
        while queue and len(batch) < MAX_BATCH_EVENTS:
            message = prepare(queue.popleft())
            if message is None:
                self.counters["refused"] += 1
                continue
            if size + len(message) > MAX_BATCH_BYTES and batch:
                self._carry = message  # it opens the next batch
                break
            batch.append(message)
            size += len(message)
        return batch

    def _settle(self, outcome: Delivery) -> bool:
        """Account for a delivery; True to go on draining, False to wait."""
        count = len(self._pending)
        if outcome.delivered:
            self.counters["sent"] += count
            self._pending = []
            return True
        self.counters[f"failed_{outcome.reason or 'unknown'}"] += 1
        self.warn_once(outcome.reason, f"could not deliver telemetry ({outcome.reason})")
        if not outcome.retry:
            self.counters["dropped_rejected"] += count
            self._pending = []
            return True
        return False


def _call_weak(ref: weakref.WeakMethod[Callable[[], None]]) -> None:
    method = ref()
    if method is not None:
        method()
