"""The ClickHouse store: several stateless collectors, one ClickHouse database.

Writes are grouped by a :class:`GroupCommitter` into one large insert per
``flush_interval`` (see ``_writes`` for the dedup protocol that keeps counts exact
across collectors); forgets are grouped the same way into one mutation per table.
Reads and maintenance run on a small thread pool, each borrowing a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
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
from pigeon.collector.storage._migration import Migration
from pigeon.collector.storage.clickhouse._cluster import (
    Node,
    NodeConnect,
    cluster_nodes,
    create_cluster_layout,
    open_shards,
    shard_leaders,
)
from pigeon.collector.storage.clickhouse._cohorts import read_cohorts
from pigeon.collector.storage.clickhouse._committer import GroupCommitter
from pigeon.collector.storage.clickhouse._connection import (
    Connect,
    Connection,
    ConnectionPool,
    NativeConnection,
    error_reason,
    native_connect,
)
from pigeon.collector.storage.clickhouse._layout import ensure_layout, find_layout, plan
from pigeon.collector.storage.clickhouse._maintenance import Shards, forget_installs, retention
from pigeon.collector.storage.clickhouse._reads import (
    read_apps,
    read_count,
    read_distinct_installs,
    read_rollup,
    read_sums,
)
from pigeon.collector.storage.clickhouse._url import (
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_MAX_BATCH,
    DEFAULT_MIN_BATCH,
    ClickHouseLocation,
    parse_clickhouse_url,
)
from pigeon.collector.storage.clickhouse._writes import write_group

__all__ = ["ClickHouseStore"]

_T = TypeVar("_T")

READ_THREADS: Final = 4
"""Reads and maintenance run concurrently on this many threads (one connection each)."""

MUTATION_TIMEOUT: Final = 120.0
"""Seconds ``forget`` waits for its mutations; they finish later if it is exceeded."""


class ClickHouseStore:
    """A :class:`~pigeon.collector.storage.Store` in a ClickHouse database.

    Example::

        store = ClickHouseStore.from_url("clickhouse://pigeon:secret@127.0.0.1:9000/pigeon")
        await store.write(events)
        rows = await store.totals("argilla", "version", first_day, last_day)
        await store.close()
    """

    kind = "clickhouse"

    def __init__(
        self,
        connect: Connect,
        database: str,
        *,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        min_batch: int = DEFAULT_MIN_BATCH,
        max_batch: int = DEFAULT_MAX_BATCH,
        mutation_timeout: float = MUTATION_TIMEOUT,
        description: str = "ClickHouse",
        cluster: str | None = None,
        node_connect: NodeConnect | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        """Connect, create or upgrade the layout and start the inserter.

        Args:
            connect: opens a connection to the server (the native one in production).
            database: the database that holds pigeon's tables.
            flush_interval: seconds between two inserts unless ``min_batch`` events wait.
            min_batch: this many waiting events are inserted at once.
            max_batch: most events in one insert.
            mutation_timeout: how long ``forget`` waits for its deletes to finish.
            description: names the server in error messages (no password).
            cluster: spread the tables over this cluster's shards (see ``_cluster``).
            node_connect: how to connect to one node of ``cluster``.
            say: told each migration stage as it starts.

        Raises:
            StoreError: the server cannot be reached or refuses the layout, or
                the database holds a layout newer than this pigeon's.
        """
        self.database = database
        self._description = description
        self._mutation_timeout = mutation_timeout
        self._pool = ConnectionPool(connect, READ_THREADS + 2)
        self._node_connect = node_connect
        self._leaders: list[Node] = []
        if cluster is not None and node_connect is None:
            raise ValueError("a cluster needs node_connect")
        try:
            with self._pool.connection() as conn:
                if cluster is None:
                    self.migration = ensure_layout(conn, database, None, description, say)
                else:
                    assert node_connect is not None
                    nodes = cluster_nodes(conn, cluster)
                    self.migration = create_cluster_layout(
                        nodes, database, cluster, node_connect, store=description, say=say
                    )
                    self._leaders = shard_leaders(nodes)
            self._insert_conn: Connection = connect()
            self._forget_conn: Connection = connect()
        except Exception as exc:
            self._pool.close()
            reason = str(exc) if isinstance(exc, StoreError) else error_reason(exc)
            raise StoreError(f"cannot open the ClickHouse store {description}: {reason}") from None
        self._executor = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="pigeon-clickhouse")
        self._retention_lock = threading.Lock()
        self._closed = False
        self._inserter: GroupCommitter[StoredEvent, WriteResult] = GroupCommitter(
            "pigeon-clickhouse-insert",
            self._flush_writes,
            interval=flush_interval,
            min_items=min_batch,
            max_items=max_batch,
            what="store the events",
        )
        self._forgetter: GroupCommitter[tuple[str, str], int] = GroupCommitter(
            "pigeon-clickhouse-forget",
            self._flush_forgets,
            interval=0.0,
            min_items=1,
            max_items=1_000,
            what="forget the installs",
        )

    @classmethod
    def from_url(cls, url: str, say: Callable[[str], None] | None = None) -> ClickHouseStore:
        """Open the store of a ``clickhouse://USER:PASSWORD@HOST:PORT/DATABASE`` URL."""
        location = parse_clickhouse_url(url)

        def node_connect(host: str, port: int) -> Connect:
            return native_connect(dataclasses.replace(location, host=host, port=port))

        return cls(
            native_connect(location),
            location.database,
            flush_interval=location.flush_interval,
            min_batch=location.min_batch,
            max_batch=location.max_batch,
            description=_description(location),
            cluster=location.cluster,
            node_connect=node_connect,
            say=say,
        )

    @classmethod
    def migrate_url(
        cls, url: str, *, dry_run: bool = False, say: Callable[[str], None] | None = None
    ) -> Migration:
        """Bring the database of ``url`` to this layout (``dry_run``: only say what that does).

        Raises:
            StoreError: the server cannot be reached, or the layout is newer than this pigeon's.
        """
        if not dry_run:
            store = cls.from_url(url, say=say)
            asyncio.run(store.close())
            return store.migration
        location = parse_clickhouse_url(url)
        description = _description(location)
        try:
            # On the default database: a dry run must not create the store's.
            conn: Connection = NativeConnection(location, database="default")
            conn.query("SELECT 1")
        except Exception as exc:
            reason = str(exc) if isinstance(exc, StoreError) else error_reason(exc)
            raise StoreError(f"cannot reach the ClickHouse store {description}: {reason}") from None
        try:
            suffix = "" if location.cluster is None else "_local"
            return plan(find_layout(conn, location.database, suffix), description)
        finally:
            conn.close()

    @property
    def inserts(self) -> int:
        """How many grouped inserts ran so far (each holds one or more writes)."""
        return self._inserter.flushes

    # -- writes --------------------------------------------------------------

    async def write(self, events: Sequence[StoredEvent]) -> WriteResult:
        """Store a batch, deduplicated on message id across collectors.

        Returns after the insert holding these events succeeded. When two
        collectors insert the same id at the same moment, both report it stored
        and the rollups still count it once.
        """
        if not events:
            return WriteResult(0, 0)
        return await self._inserter.submit(events)

    def _flush_writes(self, batches: list[Sequence[StoredEvent]]) -> list[WriteResult]:
        return write_group(self._insert_conn, self.database, batches)

    def observe_commits(self, observer: CommitObserver | None) -> None:
        """Call ``observer(events, seconds)`` after each grouped insert (see the Store protocol)."""
        self._inserter.observer = observer

    async def forget(self, app: str, anonymous_id: str) -> int:
        """Delete one install's raw events and install rows; return raw events deleted."""
        return await self._forgetter.submit([(app, anonymous_id)])

    @contextlib.contextmanager
    def _shards(self, conn: Connection) -> Iterator[Shards]:
        """Where ``ALTER`` goes: ``conn``'s server, or each shard of the cluster."""
        if not self._leaders:
            yield Shards(self.database, [conn])
            return
        assert self._node_connect is not None
        with open_shards(self.database, self._leaders, self._node_connect) as shards:
            yield shards

    def _flush_forgets(self, requests: list[Sequence[tuple[str, str]]]) -> list[int]:
        pairs = [pair for request in requests for pair in request]
        with self._shards(self._forget_conn) as shards:
            counts = forget_installs(self._forget_conn, shards, pairs, self._mutation_timeout)
        results: list[int] = []
        position = 0
        for request in requests:
            results.append(sum(counts[position : position + len(request)]))
            position += len(request)
        return results

    async def apply_retention(self, days: int, now_ms: int | None = None) -> int:
        """Drop raw events by whole months once past ``today - days``; return how many.

        A month is dropped when its last day is before the cutoff, so raw events
        outlive ``days`` by less than a month. Rollups are kept.
        """
        if days < 0:
            raise ValueError("retention days must be >= 0")
        now = int(time.time() * 1000) if now_ms is None else now_ms
        cutoff = day_of(now) - days

        def run(conn: Connection) -> int:
            with self._retention_lock, self._shards(conn) as shards:
                return retention(conn, shards, cutoff)

        return await self._read(run, "apply retention")

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
            read_sums,
            database=self.database,
            app=app,
            dimension=dimension,
            first_day=first_day,
            last_day=last_day,
        )
        return await self._read(query, "read the rollups")

    async def distinct_installs(
        self,
        app: str | None,
        dimension: str,
        first_day: int,
        last_day: int,
        values: Collection[str],
    ) -> dict[str, int]:
        """Distinct installs over the range of each of ``values``."""
        query = functools.partial(
            read_distinct_installs,
            database=self.database,
            app=app,
            dimension=dimension,
            first_day=first_day,
            last_day=last_day,
            values=values,
        )
        return await self._read(query, "read the rollups")

    async def _rollup(
        self, app: str | None, dimension: str, first_day: int, last_day: int, *, per_day: bool
    ) -> list[RollupRow]:
        query = functools.partial(
            read_rollup,
            database=self.database,
            app=app,
            dimension=dimension,
            first_day=first_day,
            last_day=last_day,
            per_day=per_day,
        )
        return await self._read(query, "read the rollups")

    async def cohorts(self, app: str | None, first_week: int, last_week: int) -> list[CohortRow]:
        """Installs by first-seen week and their weekly activity since (see the Store protocol)."""
        query = functools.partial(
            read_cohorts,
            database=self.database,
            app=app,
            first_week=first_week,
            last_week=last_week,
        )
        return await self._read(query, "read the cohorts")

    async def apps(self) -> list[str]:
        """The apps that have data (rollups outlive raw events)."""
        return await self._read(functools.partial(read_apps, database=self.database), "list apps")

    async def count_events(self, app: str | None = None) -> int:
        """How many distinct raw events are stored, for one app or all."""
        query = functools.partial(read_count, database=self.database, app=app)
        return await self._read(query, "count the events")

    async def close(self) -> None:
        """Insert everything queued, then close every connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._inserter.close)
        await loop.run_in_executor(None, self._forgetter.close)
        self._executor.shutdown(wait=True)
        for conn in (self._insert_conn, self._forget_conn):
            with contextlib.suppress(Exception):  # a broken socket: nothing left to save
                conn.close()
        self._pool.close()

    async def _read(self, query: Callable[[Connection], _T], what: str) -> _T:
        if self._closed:
            raise StoreClosedError("the store is closed")

        def run() -> _T:
            try:
                with self._pool.connection() as conn:
                    return query(conn)
            except (StoreError, ValueError):
                raise
            except Exception as exc:
                reason = error_reason(exc)
                raise StoreError(f"could not {what} in {self._description}: {reason}") from None

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)


def _description(location: ClickHouseLocation) -> str:
    return f"{location.host}:{location.port}/{location.database}"
