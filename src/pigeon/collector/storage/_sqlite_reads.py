"""The SQLite store's reads: rollup rows per day or over a range, from small tables only.

Events and amounts are sums over ``rollup_daily``. Distinct installs per day
and value are its ``installs`` column (one app), or an OR of the day's
bitmaps (several apps: an install may report to more than one). Distinct
installs over a range are an OR of the weekly bitmaps of the whole weeks in
it and the daily ones of its edge days (see ``_sqlite_bitmaps``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from pigeon.collector.storage._base import RollupRow
from pigeon.collector.storage._sqlite_bitmaps import day_span_of_weeks

__all__ = ["apps", "rollup"]


def apps(conn: sqlite3.Connection) -> list[str]:
    """The apps that have data."""
    return [r[0] for r in conn.execute("SELECT app FROM apps ORDER BY app")]


def _where(apps: Sequence[str], period: str) -> str:
    # Listing the apps keeps every query on the primary key's (app, dimension, period) prefix.
    marks = ", ".join("?" * len(apps))
    return f"app IN ({marks}) AND dimension = ? AND {period} BETWEEN ? AND ?"


def _distinct(
    conn: sqlite3.Connection,
    apps: Sequence[str],
    dimension: str,
    parts: Sequence[tuple[str, str, int, int]],
    *,
    per_day: bool,
) -> dict[tuple[object, ...], int]:
    """Distinct installs per value (or per day and value) from bitmap rows."""
    unions: dict[tuple[object, ...], int] = {}
    get = unions.get
    from_bytes = int.from_bytes
    for table, period, low, high in parts:
        # The key is (value, chunk) or (day, value, chunk): the columns as selected.
        keys = "day, value, chunk" if per_day else "value, chunk"
        sql = f"SELECT {keys}, bits FROM {table} WHERE {_where(apps, period)}"  # noqa: S608  # fixed names
        cursor = conn.execute(sql, (*apps, dimension, low, high))
        cursor.row_factory = _key_and_bits
        for key, blob in cursor:
            unions[key] = get(key, 0) | from_bytes(blob, "little")
    counts: dict[tuple[object, ...], int] = {}
    for key, bits in unions.items():
        bucket = key[:-1]
        counts[bucket] = counts.get(bucket, 0) + bits.bit_count()
    return counts


def _key_and_bits(_cursor: sqlite3.Cursor, row: tuple[object, ...]) -> tuple[object, ...]:
    return row[:-1], row[-1]


def _rollup_row(_cursor: sqlite3.Cursor, row: tuple[int, str, int, int, int]) -> RollupRow:
    return RollupRow(*row)


def _range_parts(first_day: int, last_day: int) -> list[tuple[str, str, int, int]]:
    """Which bitmap rows cover ``first_day..last_day``: whole weeks, then edge days."""
    weeks = day_span_of_weeks(first_day, last_day)
    if weeks is None:
        return [("rollup_bitmaps", "day", first_day, last_day)]
    first_week, last_week = weeks
    parts = [("rollup_bitmaps_weekly", "week", first_week, last_week)]
    if first_day < 7 * first_week - 3:
        parts.append(("rollup_bitmaps", "day", first_day, 7 * first_week - 4))
    if 7 * last_week + 3 < last_day:
        parts.append(("rollup_bitmaps", "day", 7 * last_week + 4, last_day))
    return parts


def rollup(
    conn: sqlite3.Connection,
    app: str | None,
    dimension: str,
    first_day: int,
    last_day: int,
    *,
    per_day: bool,
) -> list[RollupRow]:
    """Per-day rows (sorted by day, value) or range totals (by events, most first, value)."""
    names = [app] if app is not None else apps(conn)
    if not names or first_day > last_day:
        return []
    params = (*names, dimension, first_day, last_day)
    if per_day and len(names) == 1:
        # One row per key already: no GROUP BY, and the primary key's order is the
        # answer's order, so rows are built straight from the cursor, unsorted.
        cursor = conn.execute(
            "SELECT day, value, events, amount, installs FROM rollup_daily "
            "WHERE app = ? AND dimension = ? AND day BETWEEN ? AND ? ORDER BY day, value",
            params,
        )
        cursor.row_factory = _rollup_row
        return cursor.fetchall()
    group = "day, value" if per_day else "value"
    sums = conn.execute(
        f"SELECT {group}, SUM(events), SUM(amount), SUM(installs) FROM rollup_daily "  # noqa: S608  # fixed SQL
        f"WHERE {_where(names, 'day')} GROUP BY {group}",
        params,
    ).fetchall()
    if not sums:
        return []
    if per_day:
        if len(names) > 1:
            parts = [("rollup_bitmaps", "day", first_day, last_day)]
            distinct = _distinct(conn, names, dimension, parts, per_day=True)
            sums = [(d, v, n, a, distinct.get((d, v), 0)) for d, v, n, a, _ in sums]
        rows = [RollupRow(d, v, int(n), int(a), int(i)) for d, v, n, a, i in sums]
        rows.sort(key=lambda r: (r.day, r.value))
        return rows
    distinct = _distinct(conn, names, dimension, _range_parts(first_day, last_day), per_day=False)
    rows = [RollupRow(None, v, int(n), int(a), distinct.get((v,), 0)) for v, n, a, _ in sums]
    rows.sort(key=lambda r: (-r.events, r.value))
    return rows
