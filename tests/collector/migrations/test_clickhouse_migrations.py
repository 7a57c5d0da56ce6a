"""ClickHouse: the layout is recorded, the release's databases are recognised, newer ones refused.

Layout 1 is the only ClickHouse layout shipped; the release did not record it.
A database it wrote is the tables of ``fixtures/clickhouse-layout-1.sql`` (the
release's statements) without ``pigeon_layout``: the tests make one by
writing the history and dropping that table, check its tables and columns
are the release's, and reopen it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest

from pigeon.collector.storage import StoreError
from pigeon.collector.storage.clickhouse import ClickHouseStore
from pigeon.collector.storage.clickhouse._layout import LAYOUT_TABLE, LAYOUT_VERSION
from tests._clickhouse import ServerAddress, drop_database
from tests.collector import test_clickhouse_store
from tests.collector.migrations._stores import FIXTURES, RANGES, numbers_of, write_history

Engine = test_clickhouse_store.Engine
engine = test_clickhouse_store.engine  # the fixture: a fresh database on each engine

RELEASE_DDL = FIXTURES / "clickhouse-layout-1.sql"


def node_query(engine: Engine, sql: str) -> list[list[tuple[Any, ...]]]:
    """``sql`` on every node (one for a single server)."""
    if "cluster" not in engine.options:
        return [engine.query(sql)]
    ports = engine.query("SELECT port FROM system.clusters WHERE cluster = 'pigeon'")
    results = []
    for (port,) in ports:
        conn = engine.options["node_connect"]("127.0.0.1", port)()
        try:
            results.append(conn.query(sql.format(db=f"`{engine.database}`")))
        finally:
            conn.close()
    return results


def recorded(engine: Engine) -> list[list[int]]:
    return [
        sorted(int(row[0]) for row in rows)
        for rows in node_query(engine, f"SELECT version FROM {{db}}.{LAYOUT_TABLE}")
    ]


def history_numbers(engine: Engine) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        store = engine.store()
        try:
            return await numbers_of(store, RANGES[:1])
        finally:
            await store.close()

    return asyncio.run(run())


def test_a_new_database_records_its_layout(engine: Engine) -> None:
    store = engine.store()
    asyncio.run(store.close())
    assert store.migration.source is None
    assert store.migration.target == LAYOUT_VERSION
    nodes = len(node_query(engine, "SELECT 1"))
    assert recorded(engine) == [[int(LAYOUT_VERSION)]] * nodes
    again = engine.store()  # opening again records nothing more
    asyncio.run(again.close())
    assert again.migration.source == LAYOUT_VERSION
    assert recorded(engine) == [[int(LAYOUT_VERSION)]] * nodes


def test_a_database_the_release_wrote_opens_with_its_numbers(engine: Engine) -> None:
    async def write() -> None:
        store = engine.store()
        try:
            await write_history(store)
        finally:
            await store.close()

    asyncio.run(write())
    before = history_numbers(engine)
    assert before["events"] > 0
    suffix = "_local" if "cluster" in engine.options else ""
    # Each node's layout table goes: the database is as the release left it.
    node_query(engine, f"DROP TABLE {{db}}.{LAYOUT_TABLE}")
    tables = f"SELECT name FROM system.tables WHERE database = '{engine.database}'"
    for rows in node_query(engine, tables):
        names = {row[0] for row in rows}
        assert f"events{suffix}" in names
        assert LAYOUT_TABLE not in names
    store = engine.store()
    asyncio.run(store.close())
    assert store.migration.source == "1"
    assert not store.migration.needed
    assert history_numbers(engine) == before
    assert recorded(engine) == [[int(LAYOUT_VERSION)]] * len(node_query(engine, "SELECT 1"))


def release_statements(database: str) -> list[str]:
    text = RELEASE_DDL.read_text().replace("`pigeon_release`", f"`{database}`")
    return [part.strip() for part in text.split(";\n") if part.strip().rstrip(";")]


def columns_of(engine: Engine, database: str) -> list[tuple[Any, ...]]:
    return sorted(
        engine.query(
            f"SELECT table, name, type FROM system.columns WHERE database = '{database}' "
            f"AND table != '{LAYOUT_TABLE}'"
        )
    )


@pytest.mark.parametrize("engine", ["clickhouse-18.16", "chdb"], indirect=True)
def test_the_release_statements_make_the_tables_of_a_database_today(engine: Engine) -> None:
    store = engine.store()
    asyncio.run(store.close())
    release = f"{engine.database}_release"
    conn = engine.connect()
    try:
        conn.command(f"CREATE DATABASE IF NOT EXISTS `{release}`")
        for statement in release_statements(release):
            conn.command(statement.rstrip(";"))
        assert columns_of(engine, release) == columns_of(engine, engine.database)
        # A database made by the release's statements opens as layout 1.
        opened = ClickHouseStore(engine.connect, release, flush_interval=0.05)
        asyncio.run(opened.close())
        assert opened.migration.source == "1"
    finally:
        conn.command(f"DROP DATABASE IF EXISTS `{release}`")
        conn.close()


def test_a_newer_layout_is_refused(engine: Engine) -> None:
    asyncio.run(engine.store().close())
    # INSERT ... SELECT: clickhouse-driver would wait for data after a VALUES.
    node_query(engine, f"INSERT INTO {{db}}.{LAYOUT_TABLE} (version, recorded_at) SELECT 9, now()")
    with pytest.raises(StoreError, match="layout 9 was written by a newer pigeon"):
        engine.store()


def pigeon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pigeon", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_on_a_clickhouse_store(clickhouse_server: ServerAddress) -> None:
    database = "pigeon_migrate_cli"
    url = clickhouse_server.url(database)
    try:
        dry = pigeon("migrate", "--store", url, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "no store at" in dry.stdout
        done = pigeon("migrate", "--store", url)
        assert done.returncode == 0, done.stderr
        assert "created clickhouse://" in done.stdout
        assert "at layout 1" in done.stdout
        again = pigeon("migrate", "--store", url, "--dry-run")
        assert "up to date (layout 1)" in again.stdout
        if clickhouse_server.password:
            assert clickhouse_server.password not in again.stdout + done.stdout
    finally:
        drop_database(clickhouse_server, database)
