"""The SQLite store's reads: rollup rows per day or over a range, from small tables only.

Events and amounts are sums over ``rollup_daily``. Distinct installs per day
and value are its ``installs`` column (one app), or an OR of the day's
bitmaps (several apps: an install may report to more than one). Distinct
installs over a range are an OR of the weekly bitmaps of the whole weeks in
it and the daily ones of its edge days (see ``_sqlite_bitmaps``).

An edge day costs about as many bitmap rows as a whole week, so an edge week
whose days outside the range hold no bitmap rows of the dimension (typically
the current week, of a range ending today) is read from its weekly rows: the
same installs, a third or less of the rows.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence

from pigeon.collector.storage._base import RollupRow
from pigeon.collector.storage._sqlite_bitmaps import day_span_of_weeks, week_of

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
    # Tens of thousands of rows at 10M events: the loop keeps to one dict lookup,
    # one conversion and one OR per row (no row factory, no tuple slicing).
    unions: dict[tuple[object, ...], int] = {}
    get = unions.get
    from_bytes = int.from_bytes
    for table, period, low, high in parts:
        params = (*apps, dimension, low, high)
        if per_day:
            sql = f"SELECT day, value, chunk, bits FROM {table} WHERE {_where(apps, period)}"  # noqa: S608  # fixed names
            for day, value, chunk, blob in conn.execute(sql, params):
                key: tuple[object, ...] = (day, value, chunk)
                unions[key] = get(key, 0) | from_bytes(blob, "little")
        else:
            sql = f"SELECT value, chunk, bits FROM {table} WHERE {_where(apps, period)}"  # noqa: S608  # fixed names
            for value, chunk, blob in conn.execute(sql, params):
                key = (value, chunk)
                unions[key] = get(key, 0) | from_bytes(blob, "little")
    counts: dict[tuple[object, ...], int] = {}
    for key, bits in unions.items():
        bucket = key[:-1]
        counts[bucket] = counts.get(bucket, 0) + bits.bit_count()
    return counts


def _rollup_row(_cursor: sqlite3.Cursor, row: tuple[int, str, int, int, int]) -> RollupRow:
    return RollupRow(*row)


def _has_bitmaps(
    conn: sqlite3.Connection, apps: Sequence[str], dimension: str, first_day: int, last_day: int
) -> bool:
    if first_day > last_day:
        return False
    sql = f"SELECT 1 FROM rollup_bitmaps WHERE {_where(apps, 'day')} LIMIT 1"  # noqa: S608  # fixed SQL
    return conn.execute(sql, (*apps, dimension, first_day, last_day)).fetchone() is not None


def _range_parts(
    conn: sqlite3.Connection, apps: Sequence[str], dimension: str, first_day: int, last_day: int
) -> list[tuple[str, str, int, int]]:
    """Which bitmap rows cover ``first_day..last_day``: whole weeks, then edge days.

    A range that is widened over days without bitmap rows of ``dimension``
    covers the same installs, so an edge is widened to its whole week when the
    week's days outside the range hold none.
    """
    week_start = 7 * week_of(first_day) - 3
    if not _has_bitmaps(conn, apps, dimension, week_start, first_day - 1):
        first_day = week_start
    week_end = 7 * week_of(last_day) + 3
    if not _has_bitmaps(conn, apps, dimension, last_day + 1, week_end):
        last_day = week_end
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


@contextlib.contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction (or the caller's, if one is open)."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def rollup(
    conn: sqlite3.Connection,
    app: str | None,
    dimension: str,
    first_day: int,
    last_day: int,
    *,
    per_day: bool,
) -> list[RollupRow]:
    """Per-day rows (sorted by day, value) or range totals (by events, most first, value).

    One read transaction: sums, bitmaps and the check that lets an edge week be
    read weekly all see the same commit (a write landing between them could
    otherwise bring installs of days after the range into its weekly rows).
    """
    with _snapshot(conn):
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
        # No SUM(installs): installs of a sum are counted from bitmaps below, and the
        # third sum costs the GROUP BY's sort a sixth of its time at 10M events.
        sums = conn.execute(
            f"SELECT {group}, SUM(events), SUM(amount) FROM rollup_daily "  # noqa: S608  # fixed SQL
            f"WHERE {_where(names, 'day')} GROUP BY {group}",
            params,
        ).fetchall()
        if not sums:
            return []
        if per_day:  # several apps: an install may report to more than one
            parts = [("rollup_bitmaps", "day", first_day, last_day)]
            distinct = _distinct(conn, names, dimension, parts, per_day=True)
            rows = [RollupRow(d, v, int(n), int(a), distinct.get((d, v), 0)) for d, v, n, a in sums]
            rows.sort(key=lambda r: (r.day, r.value))
            return rows
        parts = _range_parts(conn, names, dimension, first_day, last_day)
        distinct = _distinct(conn, names, dimension, parts, per_day=False)
        rows = [RollupRow(None, v, int(n), int(a), distinct.get((v,), 0)) for v, n, a in sums]
        rows.sort(key=lambda r: (-r.events, r.value))
        return rows
