"""The single writer thread of the SQLite store.

Requests hand it jobs through a queue and await an asyncio future. The thread
takes everything waiting in the queue at once, so concurrent requests share
one transaction (one WAL commit), and completes their futures only after
``COMMIT`` returned: the HTTP 200 never precedes durability.

Per group of writes: duplicates inside the group are dropped in Python, and
the rows and rollup deltas are prepared *before* the write lock is taken, so
other processes writing the same store (``_sqlite_shared``) wait only for
SQLite's own work. The raw rows go in with ``INSERT OR IGNORE`` under a
savepoint, and only when some id was already stored (a retried batch) is the
insert redone knowing which, and the rollups recomputed for the events
actually stored: each message id is counted once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from pigeon.collector.storage._base import CommitObserver, StoredEvent, WriteResult
from pigeon.collector.storage._errors import StoreClosedError, StoreError
from pigeon.collector.storage._sqlite_installs import record_apps, record_new_installs
from pigeon.collector.storage._sqlite_rollups import (
    BucketMemo,
    InstallCache,
    RollupDelta,
    rollup_delta,
)
from pigeon.collector.storage._sqlite_shared import WriteLock, read_generation
from pigeon.collector.storage._sqlite_statements import (
    existing_ids,
    insert_events,
    insert_installs,
    row_of,
    upsert_daily,
    upsert_weekly,
)

__all__ = ["Writer"]

logger = logging.getLogger("pigeon.collector")

MAX_GROUP_EVENTS: Final = 10_000
"""A transaction takes at most about this many events (latency stays bounded)."""

WriterCall = Callable[[sqlite3.Connection, InstallCache], Any]
"""A maintenance job (forget, retention): runs in its own transaction on the writer thread."""


class _Job:
    __slots__ = ("call", "events", "future", "loop")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop | None,
        future: asyncio.Future[Any] | None,
        events: Sequence[StoredEvent] = (),
        call: WriterCall | None = None,
    ) -> None:
        self.loop = loop
        self.future = future
        self.events = events
        self.call = call


_STOP: Final = _Job(None, None)


def _settle(outcomes: list[tuple[asyncio.Future[Any], object]]) -> None:
    for future, outcome in outcomes:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class Writer:
    """Owns the writing connection; runs every write and maintenance job in order."""

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], lock: WriteLock | None = None
    ) -> None:
        """Start the thread and open the connection on it.

        Args:
            connect: opens the writing connection (called on the writer thread).
            lock: taken around every transaction, when other processes may
                write the same store.

        Raises:
            StoreError: the connection could not be opened (from ``connect``).
        """
        self._lock = lock
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._cache = InstallCache()
        self._buckets = BucketMemo()
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._closed = False
        self.observer: CommitObserver | None = None
        """Told ``(events, seconds)`` after each committed group of writes."""
        self._thread = threading.Thread(
            target=self._run, args=(connect,), name="pigeon-sqlite-writer", daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._open_error is not None:
            raise self._open_error

    # -- event-loop side -----------------------------------------------------

    async def write(self, events: Sequence[StoredEvent]) -> WriteResult:
        """Store ``events``; returns after they are committed."""
        if not events:
            return WriteResult(0, 0)
        result: WriteResult = await self._submit(events, None)
        return result

    async def call(self, call: WriterCall) -> Any:
        """Run ``call(connection, cache)`` in its own transaction, after earlier jobs."""
        return await self._submit((), call)

    def _submit(
        self, events: Sequence[StoredEvent], call: WriterCall | None
    ) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self._closed:
            future.set_exception(StoreClosedError("the store is closed"))
            return future
        self._queue.put(_Job(loop, future, events, call))
        return future

    def stop(self) -> None:
        """Finish every queued job, then close the connection (blocks until done)."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()

    # -- writer thread -------------------------------------------------------

    def _run(self, connect: Callable[[], sqlite3.Connection]) -> None:
        try:
            conn = connect()
        except BaseException as exc:  # handed to the constructor, which re-raises
            self._open_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._serve(conn)
        finally:
            conn.close()
            if self._lock is not None:
                self._lock.close()

    def _serve(self, conn: sqlite3.Connection) -> None:
        while True:
            jobs = self._take()
            try:
                if self._run_jobs(conn, jobs):
                    break
            except Exception as exc:  # a bug must never leave a request waiting forever
                logger.exception("the SQLite writer failed")
                _rollback(conn)
                self._finish(jobs, [StoreError(f"store failure: {exc}")] * len(jobs))
                if any(job is _STOP for job in jobs):
                    break
        # Jobs queued after the stop marker (a race with close) are refused, never lost silently.
        late = self._drain(0, limit=None)
        self._finish(late, [StoreClosedError("the store is closed")] * len(late))
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA optimize")

    def _take(self) -> list[_Job]:
        """Wait for a job, then take every job already waiting (up to a group's size)."""
        first = self._queue.get()
        return [first, *self._drain(len(first.events))]

    def _drain(self, size: int, limit: int | None = MAX_GROUP_EVENTS) -> list[_Job]:
        """Take the jobs already waiting, while the group holds fewer than ``limit`` events."""
        taken: list[_Job] = []
        while limit is None or size < limit:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            taken.append(job)
            size += len(job.events)
        return taken

    def _run_jobs(self, conn: sqlite3.Connection, jobs: list[_Job]) -> bool:
        """Run jobs in order, consecutive writes in one transaction; True after the stop marker."""
        stop = False
        writes: list[_Job] = []
        for job in jobs:
            if job is _STOP:
                stop = True
            elif job.call is None:
                writes.append(job)
            else:
                if writes:
                    self._write_group(conn, writes)
                    writes = []
                self._run_call(conn, job)
        if writes:
            self._write_group(conn, writes)
        return stop

    def _finish(self, jobs: list[_Job], outcomes: Sequence[object]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], object]]] = {}
        for job, outcome in zip(jobs, outcomes, strict=True):
            if job.loop is not None and job.future is not None:
                by_loop.setdefault(job.loop, []).append((job.future, outcome))
        for loop, items in by_loop.items():
            # A closed loop raises RuntimeError: nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, items)

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        return self._lock.held() if self._lock is not None else contextlib.nullcontext()

    def _begin(self, conn: sqlite3.Connection) -> bool:
        """Start a write transaction; True if the cache was dropped (another process forgot)."""
        conn.execute("BEGIN IMMEDIATE")
        generation = read_generation(conn)
        if generation == self._cache.generation:
            return False
        self._cache.clear()
        self._cache.generation = generation
        return True

    def _run_call(self, conn: sqlite3.Connection, job: _Job) -> None:
        assert job.call is not None
        try:
            with self._transaction():
                self._begin(conn)
                outcome: object = job.call(conn, self._cache)
                conn.execute("COMMIT")
        except Exception as exc:
            _rollback(conn)
            self._cache.clear()
            outcome = StoreError(f"store maintenance failed: {exc}")
        self._finish([job], [outcome])

    def _write_group(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        seen: set[str] = set()
        fresh: list[StoredEvent] = []
        owners: list[int] = []
        duplicates = [0] * len(jobs)
        for index, job in enumerate(jobs):
            for event in job.events:
                if event.message_id in seen:
                    duplicates[index] += 1
                    continue
                seen.add(event.message_id)
                fresh.append(event)
                owners.append(index)
        rows = [row_of(event) for event in fresh]
        # Assumes every event is new and the cache current: redone below if not.
        delta: RollupDelta | None = rollup_delta(fresh, self._cache, self._buckets)
        started = time.perf_counter()
        try:
            with self._transaction():
                if self._begin(conn):
                    delta = None
                stored = _insert_new(conn, fresh, rows)
                if delta is None or len(stored) != len(fresh):
                    delta = rollup_delta((fresh[i] for i in stored), self._cache, self._buckets)
                record_apps(conn, delta.apps, self._cache)
                new = record_new_installs(conn, insert_installs(conn, delta.installs), self._cache)
                upsert_daily(conn, delta.daily, new)
                upsert_weekly(conn, delta.weekly)
                conn.execute("COMMIT")
        except Exception as exc:  # every waiting request must get an answer
            _rollback(conn)
            self._cache.clear()  # it may hold ordinals and apps of the rolled back transaction
            error = StoreError(f"could not store the events: {exc}")
            self._finish(jobs, [error] * len(jobs))
            return
        # Before the answers, so that a client holding its 200 finds its commit counted.
        _tell(self.observer, len(fresh) + sum(duplicates), time.perf_counter() - started)
        self._cache.add_all(delta.install_hashes)
        counts = [0] * len(jobs)
        for i in stored:
            counts[owners[i]] += 1
        results = [
            WriteResult(stored=counts[k], duplicates=len(job.events) - counts[k])
            for k, job in enumerate(jobs)
        ]
        self._finish(jobs, results)


def _insert_new(
    conn: sqlite3.Connection, events: list[StoredEvent], rows: list[tuple[object, ...]]
) -> Sequence[int]:
    """Insert the events (as ``rows``) not stored yet; return their positions in ``events``."""
    if not events:
        return ()
    conn.execute("SAVEPOINT raw")
    before = conn.total_changes
    insert_events(conn, rows)
    if conn.total_changes - before == len(rows):
        conn.execute("RELEASE raw")
        return range(len(rows))
    # Some ids were already stored (a retried batch): redo knowing which ones.
    conn.execute("ROLLBACK TO raw")
    existing = existing_ids(conn, [event.message_id for event in events])
    positions = [i for i, event in enumerate(events) if event.message_id not in existing]
    if positions:
        insert_events(conn, [rows[i] for i in positions])
    conn.execute("RELEASE raw")
    return positions


def _tell(observer: CommitObserver | None, events: int, seconds: float) -> None:
    # A failing observer (metrics) must not fail a write already committed.
    if observer is None:
        return
    try:
        observer(events, seconds)
    except Exception:
        logger.exception("the commit observer failed")


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
