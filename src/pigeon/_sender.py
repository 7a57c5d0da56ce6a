"""The background sender: one lazily started daemon thread draining a bounded queue.

The caller's thread only appends ``(event, properties, time)`` to a ``deque``
(see ``pigeon._client``). This thread validates and encodes (through
``prepare``), batches (:mod:`pigeon._batching`: up to 100 events or 500 KB,
at least every ``interval`` seconds, at once when a batch fills), and hands
each batch to a :class:`~pigeon._transports.Transport`. While the collector
answers one batch, the next one is built. A failed batch is retried as is
(same message ids: the collector de-duplicates) after a back-off
(:mod:`pigeon._backoff`, :mod:`pigeon._outcomes`). It never raises into the
host: internal errors are caught, counted and logged once per kind.

Exit: :meth:`Sender.close` delivers until a deadline, then writes what is
left to the spool (:mod:`pigeon._spool`), which a later run delivers.

Fork safety: the sender records the pid that owns it; in a forked child
(:mod:`pigeon._lifecycle`) it drops the inherited queue and batches (the
parent sends those events), rebuilds every lock and the transport's
connection (the parent's thread may have held any of them at the fork), and
a fresh thread starts on the child's first event. Nothing the thread runs
imports a module (the client imported them all on the caller's thread), so
a fork can never leave the child a half-initialised one.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from pigeon import _lifecycle
from pigeon._backoff import BACKOFF_FILENAME, Backoff, BackoffPolicy
from pigeon._batching import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, Batch, Batcher
from pigeon._ledger import LEDGER_DIRNAME, Ledger, LedgerLimits
from pigeon._outcomes import account
from pigeon._reporting import Counters, logger, warn_once, warned
from pigeon._spool import SPOOL_DIRNAME, Spool, SpoolLimits, restore, store
from pigeon._transports import Delivery, Transport

if TYPE_CHECKING:
    from pigeon._pipeline import Item

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_EVENTS", "Policy", "Sender", "warn_once"]

_INFINITY = float("inf")


class Policy(NamedTuple):
    """The sender's timing and limits.

    Attributes:
        interval: the longest an event waits before its batch is sent (seconds).
        timeout: the budget of one delivery attempt: DNS, connect, TLS, send and read.
        exit_timeout: the budget of the flush at interpreter exit, spool included.
        backoff: retry delays after failures.
        spool: caps of the on-disk spool.
        ledger: caps of the local ledger.
    """

    interval: float = 3.0
    timeout: float = 5.0
    exit_timeout: float = 1.0
    backoff: BackoffPolicy = BackoffPolicy()
    spool: SpoolLimits = SpoolLimits()
    ledger: LedgerLimits = LedgerLimits()


class Sender:
    """Drains a bounded queue on a daemon thread and delivers batches through a transport.

    Attributes:
        queue: what ``track()`` appends to (never replaced: closures hold it).
        capacity: the queue's bound.
        transport: where batches go.
        prepare: turns a queued item into an encoded message (``None``: refused).
        endpoint: the collector, as named in warnings.
        pid: the process that owns the thread and the queue.
    """

    def __init__(
        self,
        transport: Transport,
        prepare: Callable[[Item], str | None],
        *,
        capacity: int = 10_000,
        policy: Policy | None = None,
        home: str | None = None,
        endpoint: str = "",
    ) -> None:
        """Create an idle sender; the thread starts on the first :meth:`kick`.

        Args:
            transport: where batches go.
            prepare: validates and encodes one queued item.
            capacity: beyond this many queued events new ones are dropped and counted.
            policy: timing, back-off and spool limits.
            home: the directory of the id file, where the spool and back-off
                state live (``None``: neither is kept on disk).
            endpoint: the collector, named in warnings and in the back-off state.
        """
        self.queue: deque[Item] = deque()
        self.capacity = capacity
        self.transport = transport
        self.prepare = prepare
        self.endpoint = endpoint
        policy = policy or Policy()
        self._backoff = Backoff(
            policy.backoff, os.path.join(home, BACKOFF_FILENAME) if home else None, endpoint
        )
        self._spool = Spool(os.path.join(home, SPOOL_DIRNAME), policy.spool) if home else None
        self._ledger = Ledger(os.path.join(home, LEDGER_DIRNAME), policy.ledger) if home else None
        self._policy = policy
        self._init_process_state()
        _lifecycle.manage(self)

    def _init_process_state(self) -> None:
        self.pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards the batches and the flags below
        self._progress = threading.Condition(self._lock)  # a batch settled: flush() looks
        self._wake = threading.Event()
        self._counters = Counters()
        self._batches = Batcher()
        self._sending = False
        self._urgent = 0  # flushes waiting: send without waiting for the interval
        self._due: float | None = None  # when the batch being gathered must leave
        self._closing: float | None = None  # the end of delivery at exit
        self._restored = False  # the spool of earlier runs was claimed
        # Per process: a child forked while its parent was closing still delivers its own.
        self._closed = False

    @property
    def policy(self) -> Policy:
        """Timing and limits (may be replaced, e.g. by tests, before the first event)."""
        return self._policy

    @policy.setter
    def policy(self, policy: Policy) -> None:
        self._policy = policy
        self._backoff.policy = policy.backoff
        if self._spool is not None:
            self._spool.limits = policy.spool
        if self._ledger is not None:
            self._ledger.limits = policy.ledger

    @property
    def backoff(self) -> Backoff:
        """The failure streak and when the next attempt is allowed."""
        return self._backoff

    @property
    def counters(self) -> dict[str, int]:
        """A snapshot of the counters (see ``pigeon.Client.counters``)."""
        return self._counters.snapshot()

    def after_fork_in_child(self) -> None:
        """In a forked child: the parent sends what it queued; start empty, thread-less."""
        self.queue.clear()
        self._init_process_state()
        _call_optional(self.transport, "after_fork")

    # -- the caller's side -----------------------------------------------------------------

    def ensure_started(self) -> None:
        """Start the thread if this process has none (the first event, or after a fork)."""
        if self._thread is None or self.pid != os.getpid():
            self._start()

    def kick(self) -> None:
        """Start the thread if needed, and wake it (first event, or a batch is full)."""
        if self._thread is None or self.pid != os.getpid():
            self._start()
        self._wake.set()

    def overflow(self) -> None:
        """Count one event dropped because the queue is full (the thread warns once)."""
        if self._counters.overflow():
            self._wake.set()  # the warning is logged by the sender thread: no I/O here

    def _start(self) -> None:
        if self.pid != os.getpid():
            # Forked without the at-fork hooks (a C extension called fork()).
            self.after_fork_in_child()
        with self._lock:
            if self._closed or self._thread is not None:
                return
            thread = threading.Thread(target=self._run, name="pigeon-sender", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # interpreter shutting down, or out of threads
                self._counters.add("internal_error")
                return
            self._thread = thread

    def flush(self, timeout: float, *, retry: bool = True) -> bool:
        """Wait until everything queued so far is delivered; False on timeout or loss.

        With ``retry=False`` (at exit) give up at the first failed attempt
        instead of waiting for a retry within ``timeout``.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        patience = _INFINITY if retry else 0.0
        self._report_overflow()  # flush() may log; track() never does
        batches = self._batches
        with self._lock:
            target = batches.taken + len(self.queue)
            if batches.done(target):
                return True
            if self._closed:
                return False
            rejected_before = self._counters.get("dropped_rejected")
            self._urgent += 1
        try:
            self.kick()
            with self._progress:
                while not batches.done(target):
                    left = deadline - time.monotonic()
                    thread = self._thread
                    if (
                        left <= 0
                        or self._closed
                        or thread is None
                        or not thread.is_alive()
                        or self._backoff.wait() > min(left, patience)
                    ):
                        return False
                    self._progress.wait(left)
                return self._counters.get("dropped_rejected") == rejected_before
        finally:
            with self._lock:
                self._urgent -= 1

    def discard(self, timeout: float) -> int:
        """Drop every event not yet delivered, spool included (``client.forget()``).

        Waits (up to ``timeout``) for a request in flight, so that no event of
        the old id lands after the collector forgot it. Returns how many were dropped.
        """
        deadline = time.monotonic() + timeout
        batches = self._batches
        with self._lock:
            dropped = len(self.queue) + batches.discard()
            batches.taken += len(self.queue)
            batches.settled = batches.taken
            self.queue.clear()
            self._progress.notify_all()
            while self._sending and deadline > time.monotonic():
                self._progress.wait(deadline - time.monotonic())
        if self._spool is not None:
            self._spool.clear()
        self._counters.add("dropped_forgotten", dropped)
        return dropped

    def close(self, deadline: float) -> bool:
        """Deliver until ``deadline`` (monotonic), write the rest to the spool, stop.

        Returns:
            True when everything was delivered.
        """
        return self._settle(deadline, final=True)

    def checkpoint(self, deadline: float) -> bool:
        """Like :meth:`close`, but keep running: for a process about to be killed.

        Some servers end their workers in ways that skip every exit hook
        (uvicorn re-raises the SIGTERM it caught once it has shut down): their
        shutdown hook calls this instead, and the next run sends the spool.
        """
        return self._settle(deadline, final=False)

    def _settle(self, deadline: float, *, final: bool) -> bool:
        with self._lock:
            if self._closed:
                return not self.queue
            work = bool(self.queue) or self._batches.waiting()
        delivered = not work
        if work:
            # Keep time to encode and write what is left (about 10 us an event).
            left = deadline - time.monotonic()
            reserve = min(0.05 + 10e-6 * len(self.queue), left / 2)
            self._closing = deadline - reserve
            # Backing off (even for a second): spool now rather than spend the
            # host's exit on a collector that just failed.
            if self._backoff.wait() <= 0:
                delivered = self.flush(left - reserve, retry=False)
        if not self._lock.acquire(timeout=max(0.01, deadline - time.monotonic())):
            return False  # the thread is wedged inside a batch: nothing safe to take
        try:
            if final:
                self._closed = True
            else:
                self._closing = None  # back to sending as usual
            entries = self._batches.leftovers()
            raw = list(self.queue)
            self.queue.clear()
            sending = self._sending
            self._progress.notify_all()
        finally:
            self._lock.release()
        self._wake.set()
        if sending:
            _call_optional(self.transport, "abort")  # unblock the thread's request
        self._report_overflow()
        for item in raw:
            message = self._prepare_safely(item)
            if message is not None:
                entries.append((item[2], message))
        store(self._spool, entries, self._counters)
        return delivered and not entries

    # -- the sender thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._backoff.load()
            _call_optional(self.transport, "warm")
        except Exception:
            self._internal_error()
        with self._progress:
            self._progress.notify_all()  # flush() re-reads the back-off state
        while True:
            try:
                if not self._step():
                    _call_optional(self.transport, "close")  # this thread is its only user
                    return
            except Exception:
                self._internal_error()
                self._wake.wait(self._policy.interval)  # never spin on a persistent bug
                self._wake.clear()

    def _step(self) -> bool:
        self._report_overflow()
        with self._lock:
            if self._closed:
                return False
            wait = self._wait_time()
        if wait > 0:
            self._wake.wait(None if wait == _INFINITY else wait)
            self._wake.clear()
            return True
        self._deliver_one()
        return True

    def _wait_time(self) -> float:
        """Seconds until the next batch is due (under the lock)."""
        if not (self.queue or self._batches.waiting()):
            self._due = None
            return _INFINITY
        if self._closing is not None and time.monotonic() >= self._closing:
            return _INFINITY  # out of time: close() spools the rest
        blocked = self._backoff.wait()
        if blocked > 0:
            return blocked
        if self._batches.pending or self._batches.next or self._more_now():
            return 0.0
        now = time.monotonic()
        if self._due is None:
            self._due = now + self._policy.interval
        return max(0.0, self._due - now)

    def _more_now(self) -> bool:
        """Whether events not in a batch yet should leave at once (under the lock)."""
        batches = self._batches
        return bool(
            batches.carry
            or batches.outbox
            or self._urgent
            or self._closing is not None
            or len(self.queue) >= MAX_BATCH_EVENTS
        )

    def _deliver_one(self) -> None:
        if not self._restored:
            self._restore_spool()
        batches = self._batches
        with self._lock:
            batch = batches.pending
            if batch is None:
                batch = batches.next or batches.take(self.queue, self._prepare_safely)
                batches.next = None
                self._due = None
                if not batch.messages:  # everything in it was refused
                    batches.settle(batch)
                    self._progress.notify_all()
                    return
                batches.pending = batch
            timeout = self._policy.timeout
            if self._closing is not None:
                timeout = min(timeout, self._closing - time.monotonic())
            if timeout <= 0:
                return
            self._sending = True
        try:
            outcome = self._send(batch, timeout)
        except Exception:
            self._internal_error()
            # Retried like a network failure: a passing fault must not cost the batch.
            outcome = Delivery(delivered=False, retry=True, reason="internal_error")
        self._record(outcome, len(batch.messages))  # before the batch settles: flush() waits
        notes: list[tuple[str, str]] = []
        with self._lock:
            self._sending = False
            if batch is batches.pending:  # else discarded or spooled meanwhile
                where = self.endpoint or "the telemetry transport"
                verdict = account(
                    outcome, len(batch.messages), where, self._counters, self._backoff
                )
                if verdict.settled:
                    batches.settle(batch)
                notes = verdict.notes
        for kind, note in notes:  # logged outside the lock, before flush() returns
            warn_once(kind, note)
        with self._lock:
            self._progress.notify_all()

    def _send(self, batch: Batch, timeout: float) -> Delivery:
        """Send ``batch``; while the collector works on it, build the next one."""
        start: Callable[[list[str], float], Callable[[], Delivery]] | None = getattr(
            self.transport, "start", None
        )
        if start is None:
            return self.transport.send(batch.messages, timeout)
        finish = start(batch.messages, timeout)
        batches = self._batches
        with self._lock:
            if (
                batches.next is None
                and batches.pending is batch
                and (self.queue or batches.carry or batches.outbox)
                and self._more_now()
            ):
                batches.next = batches.take(self.queue, self._prepare_safely)
        return finish()

    def _record(self, outcome: Delivery, events: int) -> None:
        """Append what left the process (or, in ``local`` mode, would have) to the ledger."""
        if not (outcome.delivered and outcome.body) or self._ledger is None:
            return
        mode = "local" if outcome.local else "on"
        if not self._ledger.append(outcome.body, events=events, mode=mode, endpoint=self.endpoint):
            self._counters.add("ledger_failed")

    def _prepare_safely(self, item: Item) -> str | None:
        """The encoded message, or ``None`` (refused by the catalog, or a bug: counted)."""
        try:
            message = self.prepare(item)
        except Exception:  # a bad item must not take the batch down with it
            self._internal_error()
            return None
        if message is None:
            self._counters.add("refused")
        return message

    def _restore_spool(self) -> None:
        self._restored = True
        if self._spool is None:
            return
        entries = restore(self._spool, self._counters)
        with self._lock:
            closed = self._closed
            if not closed:
                self._batches.outbox.extend(entries)
        if closed:  # exit began meanwhile: put them back
            store(self._spool, entries, self._counters)

    def _report_overflow(self) -> None:
        if self._counters.overflowed and not warned("queue_full"):
            warn_once(
                "queue_full",
                f"the telemetry queue is full ({self.capacity} events): new events are "
                f"dropped and counted",
            )

    def _internal_error(self) -> None:
        self._counters.add("internal_error")
        logger.debug("pigeon: sender error", exc_info=True)
        warn_once("internal_error", "internal error in the telemetry sender (events may be lost)")


def _call_optional(transport: object, name: str) -> None:
    """Call a transport's optional method (``warm``, ``abort``, ``close``, ``after_fork``)."""
    method: Callable[[], object] | None = getattr(transport, name, None)
    if method is not None:
        method()
