"""Deleting: forgetting installs (mutations) and retention (dropping whole partitions).

ClickHouse deletes rows by *mutation*: ``ALTER TABLE ... DELETE WHERE`` rewrites
every data part holding a matching row, in the background. That is heavy, so
concurrent forget requests are folded into one mutation per table (see
``forget_installs``), and retention never mutates: raw events are partitioned by
month and a month is dropped whole (``DROP PARTITION``, instant) once its last day
is past the retention horizon. Raw events thus outlive ``--retention-days`` by
less than a month; rollups are never deleted by retention.

On a cluster, ``ALTER`` cannot go through the ``Distributed`` tables: it runs on
each shard's local table (``<name>_local``), one connection per shard (a
replicated table passes it on to its other replicas by itself). Counting goes
through the ``Distributed`` tables, like every read.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pigeon.collector.storage._installs import install_key
from pigeon.collector.storage.clickhouse._connection import Connection
from pigeon.collector.storage.clickhouse._rows import as_date
from pigeon.collector.storage.clickhouse._sql import SqlValue, identifier, literal, render

__all__ = ["Shards", "droppable_months", "forget_installs", "retention", "wait_for_mutations"]

RAW_TABLES: Final = ("events", "message_copies")
"""Tables partitioned by the month of the raw events, dropped together by retention."""

_POLL: Final = 0.05


@dataclass(frozen=True)
class Shards:
    """Where ``ALTER`` statements go: one connection per shard, and the local tables' suffix.

    A single server is one shard whose tables carry pigeon's own names.
    """

    database: str
    connections: Sequence[Connection]
    suffix: str = ""

    def local(self, table: str) -> str:
        """The table's name on a shard, unquoted (for ``system`` tables)."""
        return f"{table}{self.suffix}"

    def qualified(self, table: str) -> str:
        """The table's quoted, qualified name on a shard (for ``ALTER``)."""
        return f"{identifier(self.database)}.{identifier(self.local(table))}"


def wait_for_mutations(
    conn: Connection, database: str, tables: Sequence[str], timeout: float
) -> bool:
    """Wait until no mutation of ``tables`` is pending; ``False`` if ``timeout`` passed first.

    A mutation is durable once its ``ALTER`` returned (ClickHouse resumes it after a
    restart), so a timeout means "still running", not "lost".
    """
    sql = render(
        "SELECT count() FROM system.mutations "
        "WHERE database = %(db)s AND table IN %(tables)s AND is_done = 0",
        {"db": database, "tables": tuple(tables)},
    )
    deadline = time.monotonic() + timeout
    while True:
        if int(conn.query(sql)[0][0]) == 0:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)


def forget_installs(
    conn: Connection, shards: Shards, installs: Sequence[tuple[str, str]], timeout: float
) -> list[int]:
    """Delete the raw events and install rows of ``(app, anonymous_id)`` pairs.

    Returns the raw events deleted per pair. One mutation per table and shard
    covers every pair; the call waits (up to ``timeout`` seconds) until they are done.
    """
    if not installs:
        return []
    raw = " OR ".join(
        render("(app = %(app)s AND anonymous_id = %(id)s)", {"app": app, "id": anonymous_id})
        for app, anonymous_id in installs
    )
    rollup = " OR ".join(
        render("(app = %(app)s AND install = %(key)s)", {"app": app, "key": install_key(aid)})
        for app, aid in installs
    )
    counts = {
        (str(app), str(anonymous_id)): int(count)
        for app, anonymous_id, count in conn.query(
            f"SELECT app, anonymous_id, uniqExact(message_id) "  # noqa: S608  # literals quoted by render()
            f"FROM {identifier(shards.database)}.events WHERE {raw} GROUP BY app, anonymous_id"
        )
    }
    for shard in shards.connections:
        shard.command(f"ALTER TABLE {shards.qualified('events')} DELETE WHERE {raw}")
        shard.command(f"ALTER TABLE {shards.qualified('rollup_installs')} DELETE WHERE {rollup}")
    tables = (shards.local("events"), shards.local("rollup_installs"))
    for shard in shards.connections:
        wait_for_mutations(shard, shards.database, tables, timeout)
    return [counts.get(pair, 0) for pair in installs]


def droppable_months(partitions: Sequence[str], cutoff_day: int) -> list[int]:
    """The ``YYYYMM`` partitions whose every day is before ``cutoff_day``."""
    cutoff = as_date(cutoff_day)
    months: list[int] = []
    for partition in partitions:
        text = partition.strip("'")
        if not (len(text) == 6 and text.isdigit()):
            continue  # not a month partition: never ours to drop
        year, month = divmod(int(text), 100)
        next_month = (
            datetime.date(year + 1, 1, 1) if month == 12 else datetime.date(year, month + 1, 1)
        )
        if next_month <= cutoff:
            months.append(int(text))
    return sorted(set(months))


def _partitions(shard: Connection, shards: Shards) -> list[str]:
    sql = render(
        "SELECT DISTINCT partition FROM system.parts "
        "WHERE database = %(db)s AND table IN %(tables)s AND active",
        {"db": shards.database, "tables": tuple(shards.local(t) for t in RAW_TABLES)},
    )
    return [str(row[0]) for row in shard.query(sql)]


def retention(conn: Connection, shards: Shards, cutoff_day: int) -> int:
    """Drop the raw months entirely before ``cutoff_day``; return the events dropped."""
    per_shard = [
        droppable_months(_partitions(shard, shards), cutoff_day) for shard in shards.connections
    ]
    months = sorted({month for found in per_shard for month in found})
    if not months:
        return 0
    month_set: tuple[SqlValue, ...] = tuple(months)
    dropped = int(
        conn.query(
            f"SELECT uniqExact(message_id) FROM {identifier(shards.database)}.events "  # noqa: S608  # integers only
            f"WHERE toYYYYMM(day) IN {literal(month_set)}"
        )[0][0]
    )
    for shard, found in zip(shards.connections, per_shard, strict=True):
        for table in RAW_TABLES:
            for month in found:  # dropping a month a table lacks is a no-op
                shard.command(f"ALTER TABLE {shards.qualified(table)} DROP PARTITION {month}")
    return dropped
