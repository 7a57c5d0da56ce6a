"""The ClickHouse layout's version, and the steps that upgrade an older one.

Each node keeps its layout in ``pigeon_layout`` (one row per layout it was
brought to, the highest version wins; a local table, never distributed, so
each node of a cluster says what it holds). Releases before this table existed
wrote layout 1: a database with pigeon's tables and no ``pigeon_layout`` is
that.

Opening a store runs :func:`ensure_layout` on every node: the layout's
``CREATE ... IF NOT EXISTS`` statements (which add whatever a newer layout
adds), then each step's idempotent DDL and backfill, then the version row.
ClickHouse has no transactions, so every step must be safe to run again after
an interruption: the version is written last, and a step that was cut off
is simply run again at the next start.

Layout 1 is the only layout shipped so far, so there is no step yet; a
future change adds its :class:`Step` to :data:`STEPS` (for example
``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` and an ``INSERT ... SELECT``
that backfills a new rollup from the kept one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from pigeon.collector.storage._errors import StoreError
from pigeon.collector.storage._migration import Migration, Step, steps_between, summaries
from pigeon.collector.storage.clickhouse._connection import Connection
from pigeon.collector.storage.clickhouse._schema import schema_statements
from pigeon.collector.storage.clickhouse._sql import identifier, render

__all__ = [
    "LAYOUTS",
    "LAYOUT_TABLE",
    "LAYOUT_VERSION",
    "STEPS",
    "ClickHouseStep",
    "ensure_layout",
    "find_layout",
    "plan",
]

LAYOUTS: Final = ("1",)
"""Every layout a pigeon release wrote, oldest first."""

LAYOUT_VERSION: Final = LAYOUTS[-1]
"""The layout this pigeon writes."""

LAYOUT_TABLE: Final = "pigeon_layout"


ClickHouseStep = Step[Callable[[Connection, str, str], None]]
"""A step run on one node: ``(connection, database, table suffix)``; safe to run again."""


STEPS: Final[dict[str, ClickHouseStep]] = {}
"""Layout -> the step that upgrades it (none yet: layout 1 is the only one)."""


def find_layout(conn: Connection, database: str, suffix: str = "") -> str | None:
    """The layout of ``database`` on the node behind ``conn``; ``None``: no pigeon tables yet.

    Raises:
        StoreError: the layout is newer than this pigeon or not one pigeon wrote.
    """
    tables = {
        str(name)
        for (name,) in conn.query(
            render("SELECT name FROM system.tables WHERE database = %(db)s", {"db": database})
        )
    }
    version: str | None = None
    if LAYOUT_TABLE in tables:
        rows = conn.query(f"SELECT max(version) FROM {_table(database)}")  # noqa: S608
        found = int(rows[0][0]) if rows and rows[0][0] is not None else 0
        version = str(found) if found else None
    if version is None and f"events{suffix}" in tables:
        version = "1"  # written before the layout was recorded
    if version is not None and version not in LAYOUTS:
        raise StoreError(_problem(database, version))
    return version


def _problem(database: str, version: str) -> str:
    if version.isdigit() and int(version) > int(LAYOUT_VERSION):
        return (
            f"database {database}: store layout {version} was written by a newer pigeon "
            f"(this one knows layouts up to {LAYOUT_VERSION}): upgrade pigeon"
        )
    return f"database {database}: store layout {version!r} was not written by any pigeon release"


def plan(version: str | None, store: str) -> Migration:
    """The migration from ``version`` (``None``: a new database) to this pigeon's layout."""
    return Migration(
        store, version, LAYOUT_VERSION, summaries(steps_between(STEPS, version, LAYOUT_VERSION))
    )


def ensure_layout(
    conn: Connection,
    database: str,
    cluster: str | None,
    store: str,
    say: Callable[[str], None] | None = None,
) -> Migration:
    """Create or upgrade the layout on the node behind ``conn``; record its version.

    Raises:
        StoreError: the layout is newer than this pigeon or not one pigeon wrote.
    """
    suffix = "" if cluster is None else "_local"
    version = find_layout(conn, database, suffix)
    steps = steps_between(STEPS, version, LAYOUT_VERSION)
    for statement in schema_statements(database, cluster):
        conn.command(statement)
    conn.command(
        f"CREATE TABLE IF NOT EXISTS {_table(database)} "
        "(version UInt32, recorded_at DateTime) ENGINE = ReplacingMergeTree ORDER BY version"
    )
    for step in steps:
        if say is not None:
            say(f"migrating {store} from layout {step.source} to {step.target}")
        step.run(conn, database, suffix)
    if version != LAYOUT_VERSION or not _recorded(conn, database):
        conn.command(
            # INSERT ... SELECT: clickhouse-driver would wait for data after a VALUES.
            f"INSERT INTO {_table(database)} (version, recorded_at) "
            f"SELECT {int(LAYOUT_VERSION)}, now()"
        )
    return Migration(store, version, LAYOUT_VERSION, summaries(steps), created=version is None)


def _table(database: str) -> str:
    """The quoted name of the layout table (``identifier`` quotes and checks the name)."""
    return f"{identifier(database)}.{LAYOUT_TABLE}"


def _recorded(conn: Connection, database: str) -> bool:
    rows = conn.query(f"SELECT count() FROM {_table(database)}")  # noqa: S608
    return bool(rows and int(rows[0][0]))
