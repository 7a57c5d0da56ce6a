"""Real ClickHouse engines for tests: Debian's server (18.16) and chdb (current, in process).

A pytest plugin (``pytest_plugins = ["tests._clickhouse"]`` in ``tests/conftest.py``)
providing:

- ``clickhouse_server``: the address of a running ``clickhouse-server``. It is the
  one named by ``PIGEON_TEST_CLICKHOUSE_URL`` when set (CI may start one with
  ``scripts/clickhouse-server start``), else one this session starts with that
  script in a temporary directory and stops at the end. Without a server binary
  the tests that need one are skipped, unless ``PIGEON_TEST_REQUIRE_CLICKHOUSE=1``
  makes that a failure (CI sets it, so a missing package cannot pass silently);
  the same goes for chdb.
- ``clickhouse_url``: a store URL for a fresh database on that server, dropped after
  the test.
- ``clickhouse_cluster`` and ``clickhouse_cluster_urls``: two servers forming a
  cluster of two shards, and store URLs (one per node, ``cluster=pigeon``) for a
  fresh database spread over them.
- ``chdb_session`` and ``chdb_connect``: the in-process engine, and a
  :data:`~pigeon.collector.storage.clickhouse.Connect` on a fresh database in it.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pigeon.collector.storage.clickhouse import Connect, Connection
from pigeon.collector.storage.clickhouse._sql import SqlValue, identifier, values_list

__all__ = [
    "CLUSTER",
    "ChdbConnection",
    "ServerAddress",
    "chdb_connect",
    "chdb_session",
    "clickhouse_cluster",
    "clickhouse_cluster_urls",
    "clickhouse_server",
    "clickhouse_url",
    "drop_database",
    "server_start",
    "server_stop",
]

SERVER_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "clickhouse-server"
URL_VARIABLE = "PIGEON_TEST_CLICKHOUSE_URL"
REQUIRE_VARIABLE = "PIGEON_TEST_REQUIRE_CLICKHOUSE"
TEST_FLUSH_INTERVAL = 0.02
"""Tests write one small batch after another: a short interval keeps them quick."""
CLUSTER = "pigeon"
"""The cluster ``scripts/clickhouse-server start --shards N`` defines."""


@dataclass(frozen=True)
class ServerAddress:
    """Where a ClickHouse server listens (native protocol)."""

    host: str
    port: int
    user: str = "default"
    password: str = ""

    def url(self, database: str, **options: str) -> str:
        """A ``clickhouse://`` store URL for ``database`` on this server."""
        query = urllib.parse.urlencode(options)
        auth = f"{urllib.parse.quote(self.user)}:{urllib.parse.quote(self.password)}"
        return f"clickhouse://{auth}@{self.host}:{self.port}/{database}" + (
            f"?{query}" if query else ""
        )


def server_start(directory: Path, shards: int = 1) -> list[ServerAddress]:
    """Start servers with ``scripts/clickhouse-server``, their data in ``directory``.

    With ``shards`` > 1 they form the cluster :data:`CLUSTER`, one shard each.
    """
    command = [sys.executable, str(SERVER_SCRIPT), "start", "--dir", str(directory)]
    done = subprocess.run(
        [*command, "--shards", str(shards)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"clickhouse-server did not start: {done.stderr.strip()}")
    values = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    ports = values["PIGEON_CLICKHOUSE_PORTS"].split(",")
    return [ServerAddress("127.0.0.1", int(port)) for port in ports]


def server_stop(directory: Path) -> None:
    """Stop the server started in ``directory``."""
    subprocess.run(
        [sys.executable, str(SERVER_SCRIPT), "stop", str(directory), "--keep"],
        capture_output=True,
        timeout=120,
        check=True,
    )


def _server_binary() -> str | None:
    return shutil.which("clickhouse-server") or shutil.which("/usr/sbin/clickhouse-server")


def _require_server_binary() -> None:
    if _server_binary() is None:
        reason = "clickhouse-server is not installed (apt-get install clickhouse-server)"
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(f"{REQUIRE_VARIABLE}=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerAddress]:
    """A running ClickHouse server for the whole session."""
    given = os.environ.get(URL_VARIABLE)
    if given:
        parts = urllib.parse.urlsplit(given)
        yield ServerAddress(
            parts.hostname or "127.0.0.1",
            parts.port or 9000,
            urllib.parse.unquote(parts.username or "default"),
            urllib.parse.unquote(parts.password or ""),
        )
        return
    _require_server_binary()
    directory = tmp_path_factory.mktemp("clickhouse-server")
    (address,) = server_start(directory)
    try:
        yield address
    finally:
        server_stop(directory)


@pytest.fixture(scope="session")
def clickhouse_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerAddress]]:
    """Two servers forming the cluster :data:`CLUSTER` (two shards, no replication)."""
    _require_server_binary()
    directory = tmp_path_factory.mktemp("clickhouse-cluster")
    addresses = server_start(directory, shards=2)
    try:
        yield addresses
    finally:
        server_stop(directory)


def drop_database(address: ServerAddress, database: str) -> None:
    """Drop ``database`` on the server (after a test)."""
    from clickhouse_driver import Client

    client = Client(
        host=address.host, port=address.port, user=address.user, password=address.password
    )
    try:
        client.execute(f"DROP DATABASE IF EXISTS {identifier(database)}")
    finally:
        client.disconnect()


def _database_name() -> str:
    return f"pigeon_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def clickhouse_url(clickhouse_server: ServerAddress) -> Iterator[str]:
    """A store URL on a fresh database (created by the store, dropped afterwards)."""
    database = _database_name()
    yield clickhouse_server.url(database, flush_interval=str(TEST_FLUSH_INTERVAL))
    drop_database(clickhouse_server, database)


@pytest.fixture
def clickhouse_cluster_urls(clickhouse_cluster: list[ServerAddress]) -> Iterator[list[str]]:
    """Store URLs, one per node, on a fresh database spread over the cluster's shards."""
    database = _database_name()
    yield [
        node.url(database, flush_interval=str(TEST_FLUSH_INTERVAL), cluster=CLUSTER)
        for node in clickhouse_cluster
    ]
    for node in clickhouse_cluster:
        drop_database(node, database)


# -- chdb: the current ClickHouse engine, in this process ---------------------


class ChdbConnection:
    """A :class:`~pigeon.collector.storage.clickhouse.Connection` to chdb's engine.

    chdb runs one engine per process, not safe for concurrent queries: every
    connection of a session shares it under one lock.
    """

    def __init__(self, session: Any, lock: threading.Lock) -> None:
        """Use ``session`` (a ``chdb.session.Session``) under ``lock``."""
        self._session = session
        self._lock = lock

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run a ``SELECT``; integers come back as ``int``, everything else as text."""
        with self._lock:
            result = self._session.query(sql, "JSONCompact")
        text = result.data() if hasattr(result, "data") else str(result)
        if not text.strip():
            return []
        decoded = json.loads(text)
        integer = ["Int" in column["type"] for column in decoded["meta"]]
        return [
            tuple(int(v) if is_int else v for v, is_int in zip(row, integer, strict=True))
            for row in decoded["data"]
        ]

    def command(self, sql: str) -> None:
        """Run a statement that returns nothing."""
        with self._lock:
            self._session.query(sql, "CSV")

    def insert(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[SqlValue, ...]]
    ) -> None:
        """Insert ``rows`` as one ``INSERT ... VALUES`` statement."""
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values_list(rows)}"
        self.command(sql)

    def close(self) -> None:
        """Nothing to close: the session belongs to the fixture."""


@dataclass
class ChdbSession:
    """chdb's engine for this test session, with the lock its connections share."""

    session: Any
    lock: threading.Lock

    def connect(self, database: str) -> Connect:
        """A :data:`Connect` for ``database`` (created on first use)."""

        def connect() -> Connection:
            connection = ChdbConnection(self.session, self.lock)
            connection.command(f"CREATE DATABASE IF NOT EXISTS {identifier(database)}")
            return connection

        return connect


@pytest.fixture(scope="session")
def chdb_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbSession]:
    """chdb's in-process engine, its data in a temporary directory."""
    try:
        session_module: Any = importlib.import_module("chdb.session")
    except ImportError:
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(f"{REQUIRE_VARIABLE}=1 but chdb is not installed (pip install chdb)")
        pytest.skip("chdb is not installed (pip install chdb)")
    session = session_module.Session(str(tmp_path_factory.mktemp("chdb")))
    try:
        yield ChdbSession(session, threading.Lock())
    finally:
        session.close()


@pytest.fixture
def chdb_connect(chdb_session: ChdbSession) -> Iterator[tuple[Connect, str]]:
    """A ``(connect, database)`` pair on a fresh chdb database, dropped afterwards."""
    database = _database_name()
    yield chdb_session.connect(database), database
    ChdbConnection(chdb_session.session, chdb_session.lock).command(
        f"DROP DATABASE IF EXISTS {identifier(database)}"
    )
