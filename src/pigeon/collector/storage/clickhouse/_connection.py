"""Connections to ClickHouse: what the store needs of one, the native one, and a pool.

The store speaks to ClickHouse through :class:`Connection` only: SQL text in,
rows of plain Python values (``int``, ``str``) out. :class:`NativeConnection` uses
``clickhouse-driver`` (the native TCP protocol), which talks to every server
release from Debian's 18.16 to current ones; tests plug the in-process engine
(``chdb``) into the same seam to prove the SQL on a current release.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from pigeon.collector.storage._errors import StoreError
from pigeon.collector.storage.clickhouse._sql import SqlValue
from pigeon.collector.storage.clickhouse._url import ClickHouseLocation

__all__ = [
    "Connect",
    "Connection",
    "ConnectionPool",
    "NativeConnection",
    "error_reason",
    "native_connect",
]

UNKNOWN_DATABASE = 81
"""ClickHouse's error code for a database that does not exist."""


class Connection(Protocol):
    """One session with a ClickHouse server; used by one thread at a time."""

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a ``SELECT``; return its rows."""
        ...

    def command(self, sql: str) -> None:
        """Run a statement that returns nothing (DDL, ``ALTER``)."""
        ...

    def insert(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[SqlValue, ...]]
    ) -> None:
        """Insert ``rows`` into ``table`` (a quoted, qualified name) as one ``INSERT``."""
        ...

    def close(self) -> None:
        """Close the session."""
        ...


Connect = Callable[[], Connection]
"""Opens a new connection to the store's database."""


class NativeConnection:
    """A :class:`Connection` over ClickHouse's native protocol (``clickhouse-driver``)."""

    def __init__(self, location: ClickHouseLocation, database: str | None = None) -> None:
        """Prepare a session (the driver connects on first use).

        Raises:
            StoreError: ``clickhouse-driver`` is not installed.
        """
        try:
            from clickhouse_driver import Client
        except ImportError:
            raise StoreError(
                "the ClickHouse store needs clickhouse-driver: "
                "pip install 'pigeon-telemetry[clickhouse]'"
            ) from None
        self._client = Client(
            host=location.host,
            port=location.port,
            user=location.user,
            password=location.password,
            database=database or location.database,
            secure=location.secure,
            connect_timeout=10,
            send_receive_timeout=300,
            client_name="pigeon",
            # On a cluster, an insert returns once the shards stored it (not once a
            # local spool did): the collector's 200 keeps meaning "stored".
            settings={"insert_distributed_sync": 1} if location.cluster else {},
        )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a ``SELECT``; return its rows."""
        rows: list[tuple[Any, ...]] = self._client.execute(sql)
        return rows

    def command(self, sql: str) -> None:
        """Run a statement that returns nothing."""
        self._client.execute(sql)

    def insert(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[SqlValue, ...]]
    ) -> None:
        """Insert ``rows`` as one native-protocol block stream (one ``INSERT``)."""
        self._client.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", rows)

    def close(self) -> None:
        """Close the socket."""
        self._client.disconnect()


def error_reason(exc: BaseException) -> str:
    """The first line of an error: the server's message without its stack trace."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def _server_code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


def native_connect(location: ClickHouseLocation) -> Connect:
    """A :data:`Connect` for ``location``; creates the database on first use if missing."""
    created = threading.Event()

    def connect() -> Connection:
        connection = NativeConnection(location)
        if created.is_set():
            return connection
        try:
            connection.query("SELECT 1")
        except Exception as exc:
            connection.close()
            if _server_code(exc) != UNKNOWN_DATABASE:
                raise
            bootstrap = NativeConnection(location, database="default")
            try:
                bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{location.database}`")
            finally:
                bootstrap.close()
            connection = NativeConnection(location)
        created.set()
        return connection

    return connect


class ConnectionPool:
    """Connections for worker threads: each borrows one, uses it alone, gives it back."""

    def __init__(self, connect: Connect, size: int) -> None:
        """Open connections lazily through ``connect``, keeping at most ``size`` idle."""
        self._connect = connect
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue(maxsize=size)

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """Borrow a connection; one that failed is closed rather than reused."""
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = self._connect()
        try:
            yield connection
        except BaseException:
            with contextlib.suppress(Exception):
                connection.close()
            raise
        try:
            self._idle.put_nowait(connection)
        except queue.Full:
            connection.close()

    def close(self) -> None:
        """Close every idle connection."""
        while True:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                return
            with contextlib.suppress(Exception):
                connection.close()
