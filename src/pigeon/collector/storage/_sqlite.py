"""The SQLite store: one file, one writer thread per process, reads on read-only connections.

Writes go through :class:`~pigeon.collector.storage._sqlite_writer.Writer`
(grouped transactions, committed before the caller's future completes). Reads
run on their own thread with a read-only connection, so a dashboard query
never waits for a write transaction (WAL readers see the last commit).
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from pigeon.collector.storage._base import (
    CohortRow,
    CommitObserver,
    RollupRow,
    StoredEvent,
    SumRow,
    WriteResult,
    day_of,
)
from pigeon.collector.storage._errors import StoreClosedError, StoreError
from pigeon.collector.storage._installs import install_key
from pigeon.collector.storage._migration import Migration
from pigeon.collector.storage._sqlite_cohorts import cohorts
from pigeon.collector.storage._sqlite_installs import forget_install
from pigeon.collector.storage._sqlite_migrate import migrate_sqlite
from pigeon.collector.storage._sqlite_reads import apps, distinct_installs, rollup, sums
from pigeon.collector.storage._sqlite_rollups import InstallCache
from pigeon.collector.storage._sqlite_schema import (
    SCHEMA_VERSION,
    SQLiteLocation,
    connect_reader,
    connect_writer,
    parse_sqlite_url,
)
from pigeon.collector.storage._sqlite_shared import InUseLock, WriteLock
from pigeon.collector.storage._sqlite_writer import Writer

__all__ = ["SQLiteStore"]

_T = TypeVar("_T")

READERS: Final = 1
"""Reader threads, each with its own read-only connection.

One: the sqlite3 module releases the GIL around every row it steps, so two
readers fetching thousands of rows hand the GIL to each other row by row. At
10M events two readers made the ``errors`` view (totals and series at once)
take 77 ms instead of 48 ms, and the whole dashboard 211 ms instead of 175 ms.
"""

RETENTION_CHUNK: Final = 10_000
"""Retention deletes this many rows per transaction, so ingestion keeps flowing."""


class SQLiteStore:
    """A :class:`~pigeon.collector.storage.Store` in one SQLite file (WAL mode).

    Example::

        store = SQLiteStore.from_url("sqlite:///./pigeon-data/pigeon.db")
        await store.write(events)
        rows = await store.totals("argilla", "version", first_day, last_day)
        await store.close()
    """

    kind = "sqlite"

    def __init__(self, location: SQLiteLocation, *, read_only: bool = False) -> None:
        """Open (creating if needed) the database at ``location``.

        Args:
            location: where the database is.
            read_only: only read an existing store (never create or change
                anything); writes then raise :class:`StoreError`.

        Raises:
            StoreError: the file cannot be created or opened, holds a layout
                newer than this pigeon's, or cannot be migrated; or, read-only,
                there is no store of this layout version at ``location``.
            StoreInUseError: ``pigeon restore`` is replacing the file.
        """
        self.location = location
        self.read_only = read_only
        self.migration = Migration(str(location.path), None, SCHEMA_VERSION)
        """What opening did to an older layout (writing stores migrate it in place)."""
        self._writer: Writer | None = None
        # Writers only: a restore must not pull the file from under a collector,
        # while a reader (a report) just reads whichever file is there.
        self._in_use: InUseLock | None = None
        if read_only:
            connect_reader(location, check=True).close()  # a clear error now, not at first read
        else:
            # Before taking the store as in use: a migration claims it alone.
            self.migration = migrate_sqlite(location)
            self._in_use = InUseLock(location.path)
            self._in_use.share()
            try:
                self._writer = Writer(
                    functools.partial(connect_writer, location), WriteLock(location.path)
                )
            except BaseException:
                self._in_use.release()
                raise
        # Reads queue on READERS threads (see there for why one).
        self._reader = ThreadPoolExecutor(
            max_workers=READERS, thread_name_prefix="pigeon-sqlite-read"
        )
        self._local = threading.local()  # each reader thread's own connection
        self._reader_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_url(cls, url: str, *, read_only: bool = False) -> SQLiteStore:
        """Open the store of a ``sqlite:///PATH`` URL (see the constructor)."""
        return cls(parse_sqlite_url(url), read_only=read_only)

    def _writing(self) -> Writer:
        if self._writer is None:
            raise StoreError(f"the store at {self.location.path} was opened read-only")
        return self._writer

    # -- writes --------------------------------------------------------------

    async def write(self, events: Sequence[StoredEvent]) -> WriteResult:
        """Store a batch durably, deduplicated on message id (see the Store protocol)."""
        return await self._writing().write(events)

    def observe_commits(self, observer: CommitObserver | None) -> None:
        """Call ``observer(events, seconds)`` after each commit (see the Store protocol)."""
        if self._writer is not None:
            self._writer.observer = observer

    async def forget(self, app: str, anonymous_id: str) -> int:
        """Delete one install's raw events and install rows; return raw events deleted."""
        install = install_key(anonymous_id)

        def forget(conn: sqlite3.Connection, cache: InstallCache) -> int:
            deleted = conn.execute(
                "DELETE FROM events WHERE app = ? AND anonymous_id = ?", (app, anonymous_id)
            ).rowcount
            forget_install(conn, app, install, cache)
            return deleted

        deleted: int = await self._writing().call(forget)
        return deleted

    async def apply_retention(self, days: int, now_ms: int | None = None) -> int:
        """Delete raw events of days before ``today - days`` (rollups stay); return how many."""
        if days < 0:
            raise ValueError("retention days must be >= 0")
        now = int(time.time() * 1000) if now_ms is None else now_ms
        cutoff = day_of(now) - days

        def delete_chunk(conn: sqlite3.Connection, cache: InstallCache) -> int:
            return conn.execute(
                "DELETE FROM events WHERE message_id IN "
                "(SELECT message_id FROM events WHERE day < ? LIMIT ?)",
                (cutoff, RETENTION_CHUNK),
            ).rowcount

        total = 0
        while True:
            deleted: int = await self._writing().call(delete_chunk)
            total += deleted
            if deleted < RETENTION_CHUNK:
                return total

    # -- reads ---------------------------------------------------------------

    async def series(
        self, app: str | None, dimension: str, first_day: int, last_day: int
    ) -> list[RollupRow]:
        """Per-day rows of one dimension (sorted by day, then value)."""
        return await self._rollup(app, dimension, first_day, last_day, per_day=True)

    async def totals(
        self, app: str | None, dimension: str, first_day: int, last_day: int
    ) -> list[RollupRow]:
        """One row per value over the range (sorted by events, most first, then value)."""
        return await self._rollup(app, dimension, first_day, last_day, per_day=False)

    async def sums(
        self, app: str | None, dimension: str, first_day: int, last_day: int
    ) -> list[SumRow]:
        """Each value's events and amount over the range, without distinct installs."""
        query = functools.partial(
            sums, app=app, dimension=dimension, first_day=first_day, last_day=last_day
        )
        return await self._read(query)

    async def distinct_installs(
        self,
        app: str | None,
        dimension: str,
        first_day: int,
        last_day: int,
        values: Collection[str],
    ) -> dict[str, int]:
        """Distinct installs over the range of each of ``values`` (from their bitmap rows only)."""
        query = functools.partial(
            distinct_installs,
            app=app,
            dimension=dimension,
            first_day=first_day,
            last_day=last_day,
            values=values,
        )
        return await self._read(query)

    async def _rollup(
        self, app: str | None, dimension: str, first_day: int, last_day: int, *, per_day: bool
    ) -> list[RollupRow]:
        query = functools.partial(
            rollup,
            app=app,
            dimension=dimension,
            first_day=first_day,
            last_day=last_day,
            per_day=per_day,
        )
        return await self._read(query)

    async def cohorts(self, app: str | None, first_week: int, last_week: int) -> list[CohortRow]:
        """Installs by first-seen week and their weekly activity since (see the Store protocol)."""
        query = functools.partial(cohorts, app=app, first_week=first_week, last_week=last_week)
        return await self._read(query)

    async def apps(self) -> list[str]:
        """The apps that have data (rollups outlive raw events)."""
        return await self._read(apps)

    async def count_events(self, app: str | None = None) -> int:
        """How many raw events are stored, for one app or all."""

        def count(conn: sqlite3.Connection) -> int:
            if app is None:
                row = conn.execute("SELECT COUNT(*) FROM events").fetchone()
            else:
                row = conn.execute("SELECT COUNT(*) FROM events WHERE app = ?", (app,)).fetchone()
            return int(row[0])

        return await self._read(count)

    async def close(self) -> None:
        """Commit every queued write, then close both connections (idempotent)."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        if self._writer is not None:
            await loop.run_in_executor(None, self._writer.stop)
        await loop.run_in_executor(None, self._reader.shutdown, True)
        with self._conns_lock:
            conns, self._reader_conns = self._reader_conns, []
        for conn in conns:  # no reader thread is left to use them
            conn.close()
        if self._in_use is not None:
            self._in_use.release()

    async def _read(self, query: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._closed:
            raise StoreClosedError("the store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._run_read, query)

    def _run_read(self, query: Callable[[sqlite3.Connection], _T]) -> _T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect_reader(self.location, same_thread=False)
            with self._conns_lock:
                self._reader_conns.append(conn)
        return query(conn)
