"""Reading rollups: the same rows, in the same order, as the SQLite store returns.

Nothing here relies on background merges having happened: sums are taken with
``sum() ... GROUP BY``, distinct installs with ``uniqExact`` (exact, unlike
``uniq``), and correction rows are collapsed per message id with ``max(copies)``
rather than ``FINAL`` (whose semantics have shifted across releases).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from pigeon.collector.storage._base import RollupRow, SumRow
from pigeon.collector.storage.clickhouse._connection import Connection
from pigeon.collector.storage.clickhouse._rows import as_date
from pigeon.collector.storage.clickhouse._sql import SqlValue, identifier, render

__all__ = ["read_apps", "read_count", "read_distinct_installs", "read_rollup", "read_sums"]

_WHERE: Final = "dimension = %(dimension)s AND day >= %(first)s AND day <= %(last)s"

# 18.16 refuses UNION ALL branches of different types (code 386, no implicit
# common type), so both branches cast to Int64 explicitly.
_EVENTS: Final = """SELECT {keys}, sum(ev) AS n_events, sum(am) AS n_amount FROM (
    SELECT day, value, toInt64(events) AS ev, toInt64(amount) AS am
    FROM {db}.rollup_daily
    WHERE {where}
    UNION ALL
    SELECT day, value, -toInt64(n_copies - 1) AS ev, -toInt64(n_copies - 1) * one_amount AS am
    FROM (
        SELECT day, value, max(copies) AS n_copies, any(amount) AS one_amount
        FROM {db}.rollup_corrections
        WHERE {where}
        GROUP BY app, dimension, day, value, message_id
    )
) GROUP BY {group}"""

_INSTALLS: Final = """SELECT {keys}, uniqExact(install) AS n_installs
FROM {db}.rollup_installs
WHERE {where}
GROUP BY {group}"""


def _range(
    database: str, app: str | None, dimension: str, days: tuple[int, int], *, per_day: bool
) -> tuple[dict[str, str], dict[str, SqlValue]]:
    """The template parts and parameters of a read of one dimension over ``days``."""
    params: dict[str, SqlValue] = {
        "dimension": dimension,
        "first": as_date(days[0]),
        "last": as_date(days[1]),
    }
    where = _WHERE
    if app is not None:
        where = "app = %(app)s AND " + where
        params["app"] = app
    # Date to UInt32 is the day number since the epoch in every release.
    parts = {
        "keys": "toUInt32(day) AS day_number, value" if per_day else "value",
        "group": "day_number, value" if per_day else "value",
        "db": identifier(database),
        "where": where,
    }
    return parts, params


def read_rollup(
    conn: Connection,
    database: str,
    *,
    app: str | None,
    dimension: str,
    first_day: int,
    last_day: int,
    per_day: bool,
) -> list[RollupRow]:
    """Rows of one dimension per day (``per_day``) or over the range, sorted like SQLite's."""
    if first_day > last_day or last_day < 0:
        return []
    parts, params = _range(database, app, dimension, (first_day, last_day), per_day=per_day)
    events = conn.query(render(_EVENTS.format(**parts), params))
    installs = {
        tuple(row[:-1]): int(row[-1])
        for row in conn.query(render(_INSTALLS.format(**parts), params))
    }
    return _rows(events, installs, per_day=per_day)


def read_sums(
    conn: Connection,
    database: str,
    *,
    app: str | None,
    dimension: str,
    first_day: int,
    last_day: int,
) -> list[SumRow]:
    """Each value's events and amount over the range, sorted like SQLite's."""
    if first_day > last_day or last_day < 0:
        return []
    parts, params = _range(database, app, dimension, (first_day, last_day), per_day=False)
    rows = [
        SumRow(value, int(count), int(amount))
        for value, count, amount in conn.query(render(_EVENTS.format(**parts), params))
        if int(count) > 0
    ]
    rows.sort(key=lambda r: (-r.events, r.value))
    return rows


def read_distinct_installs(
    conn: Connection,
    database: str,
    *,
    app: str | None,
    dimension: str,
    first_day: int,
    last_day: int,
    values: Collection[str],
) -> dict[str, int]:
    """Distinct installs over the range of each of ``values`` that has any."""
    if first_day > last_day or last_day < 0 or not values:
        return {}
    parts, params = _range(database, app, dimension, (first_day, last_day), per_day=False)
    params["values"] = tuple(sorted(set(values)))
    parts["where"] += " AND value IN %(values)s"
    rows = conn.query(render(_INSTALLS.format(**parts), params))
    return {str(value): int(count) for value, count in rows if int(count)}


def _rows(
    events: list[tuple[Any, ...]], installs: dict[tuple[Any, ...], int], *, per_day: bool
) -> list[RollupRow]:
    rows: list[RollupRow] = []
    if per_day:
        for day, value, count, amount in events:
            if int(count) > 0:
                rows.append(
                    RollupRow(
                        int(day), value, int(count), int(amount), installs.get((day, value), 0)
                    )
                )
        rows.sort(key=lambda r: (r.day, r.value))
    else:
        for value, count, amount in events:
            if int(count) > 0:
                rows.append(
                    RollupRow(None, value, int(count), int(amount), installs.get((value,), 0))
                )
        rows.sort(key=lambda r: (-r.events, r.value))
    return rows


def read_apps(conn: Connection, database: str) -> list[str]:
    """The apps that have data (rollups outlive raw events)."""
    sql = f"SELECT DISTINCT app FROM {identifier(database)}.rollup_daily"  # noqa: S608  # checked name
    return sorted(str(row[0]) for row in conn.query(sql))


def read_count(conn: Connection, database: str, app: str | None) -> int:
    """Distinct message ids among the raw events (exact whatever the merge state)."""
    sql = f"SELECT uniqExact(message_id) FROM {identifier(database)}.events"  # noqa: S608  # checked name
    if app is not None:
        sql += render(" WHERE app = %(app)s", {"app": app})
    return int(conn.query(sql)[0][0])
