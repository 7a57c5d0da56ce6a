"""The SQLite store: one file, one writer thread, reads on a read-only connection.

Writes go through :class:`~pigeon.collector.storage._sqlite_writer.Writer`
(grouped transactions, committed before the caller's future completes). Reads
run on their own thread with a read-only connection, so a dashboard query
never waits for a write transaction (WAL readers see the last commit).
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from pigeon.collector.storage._base import RollupRow, StoredEvent, WriteResult, day_of
from pigeon.collector.storage._errors import StoreClosedError
from pigeon.collector.storage._sqlite_rollups import InstallCache, install_key
from pigeon.collector.storage._sqlite_schema import (
    SQLiteLocation,
    connect_reader,
    connect_writer,
    parse_sqlite_url,
)
from pigeon.collector.storage._sqlite_writer import Writer

__all__ = ["SQLiteStore"]

_T = TypeVar("_T")

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

    def __init__(self, location: SQLiteLocation) -> None:
        """Open (creating if needed) the database at ``location``.

        Raises:
            StoreError: the file cannot be created or opened.
        """
        self.location = location
        self._writer = Writer(functools.partial(connect_writer, location))
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pigeon-sqlite-read")
        self._reader_conn: sqlite3.Connection | None = None  # used on the reader thread only
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """Open the store of a ``sqlite:///PATH`` URL."""
        return cls(parse_sqlite_url(url))

    # -- writes --------------------------------------------------------------

    async def write(self, events: Sequence[StoredEvent]) -> WriteResult:
        """Store a batch durably, deduplicated on message id (see the Store protocol)."""
        return await self._writer.write(events)

    async def forget(self, app: str, anonymous_id: str) -> int:
        """Delete one install's raw events and install rows; return raw events deleted."""
        install = install_key(anonymous_id)

        def forget(conn: sqlite3.Connection, cache: InstallCache) -> int:
            deleted = conn.execute(
                "DELETE FROM events WHERE app = ? AND anonymous_id = ?", (app, anonymous_id)
            ).rowcount
            conn.execute(
                "DELETE FROM rollup_installs WHERE app = ? AND install = ?", (app, install)
            )
            cache.clear()  # the cache may remember rows that no longer exist
            return deleted

        deleted: int = await self._writer.call(forget)
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
            deleted: int = await self._writer.call(delete_chunk)
            total += deleted
            if deleted < RETENTION_CHUNK:
                return total

    # -- reads ---------------------------------------------------------------

    async def series(
        self, app: str | None, dimension: str, first_day: int, last_day: int
    ) -> list[RollupRow]:
        """Per-day rows of one dimension (sorted by day, then value)."""
        return await self._read(
            functools.partial(_rollup, app, dimension, first_day, last_day, per_day=True)
        )

    async def totals(
        self, app: str | None, dimension: str, first_day: int, last_day: int
    ) -> list[RollupRow]:
        """One row per value over the range (sorted by events, most first, then value)."""
        return await self._read(
            functools.partial(_rollup, app, dimension, first_day, last_day, per_day=False)
        )

    async def apps(self) -> list[str]:
        """The apps that have data (rollups outlive raw events)."""
        return await self._read(_apps)

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
        await loop.run_in_executor(None, self._writer.stop)
        await loop.run_in_executor(self._reader, self._close_reader)
        self._reader.shutdown(wait=True)

    def _close_reader(self) -> None:
        if self._reader_conn is not None:
            self._reader_conn.close()
            self._reader_conn = None

    async def _read(self, query: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._closed:
            raise StoreClosedError("the store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._run_read, query)

    def _run_read(self, query: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._reader_conn is None:
            self._reader_conn = connect_reader(self.location)
        return query(self._reader_conn)


def _apps(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT app FROM rollup_daily ORDER BY app")]


def _rollup(
    app: str | None,
    dimension: str,
    first_day: int,
    last_day: int,
    conn: sqlite3.Connection,
    *,
    per_day: bool,
) -> list[RollupRow]:
    apps = [app] if app is not None else _apps(conn)
    if not apps or first_day > last_day:
        return []
    # Listing the apps keeps every query on the primary key's (app, dimension, day) prefix.
    where = f"app IN ({', '.join('?' * len(apps))}) AND dimension = ? AND day BETWEEN ? AND ?"
    params = (*apps, dimension, first_day, last_day)
    group = "day, value" if per_day else "value"
    events = conn.execute(
        f"SELECT {group}, SUM(events), SUM(amount) FROM rollup_daily "  # noqa: S608  # fixed SQL
        f"WHERE {where} GROUP BY {group}",
        params,
    ).fetchall()
    installs = {
        tuple(r[:-1]): r[-1]
        for r in conn.execute(
            f"SELECT {group}, COUNT(DISTINCT install) FROM rollup_installs "  # noqa: S608
            f"WHERE {where} GROUP BY {group}",
            params,
        )
    }
    if per_day:
        rows = [
            RollupRow(day, value, int(n), int(amount), int(installs.get((day, value), 0)))
            for day, value, n, amount in events
        ]
        rows.sort(key=lambda r: (r.day, r.value))
    else:
        rows = [
            RollupRow(None, value, int(n), int(amount), int(installs.get((value,), 0)))
            for value, n, amount in events
        ]
        rows.sort(key=lambda r: (-r.events, r.value))
    return rows
