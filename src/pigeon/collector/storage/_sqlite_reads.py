"""The SQLite store's reads: rollup rows per day or over a range, from small tables only.

Per day, events and amounts are ``rollup_daily``'s, and distinct installs its
``installs`` column (one app) or an OR of the day's bitmaps (several apps: an
install may report to more than one).

Over a range, everything is read per week where it can be: the whole weeks
inside the range from the weekly tables (``rollup_weekly`` for events and
amounts, ``rollup_bitmaps_weekly`` for installs, see ``_sqlite_bitmaps``), and
only its edge days from the daily ones. So a range read costs rows per value
and week, not per value and day, and the rows a view reads grow with the
values seen, not with the events.

An edge day costs about as many rows as a whole week, so an edge week whose
days outside the range hold no rows of the dimension (typically the current
week, of a range ending today) is read from its weekly rows: the same sums and
installs, a third or less of the rows.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from typing import Final

from pigeon.collector.storage._base import RollupRow, SumRow
from pigeon.collector.storage._sqlite_bitmaps import day_span_of_weeks, week_of

__all__ = ["apps", "distinct_installs", "rollup", "sums"]


def apps(conn: sqlite3.Connection) -> list[str]:
    """The apps that have data."""
    return [r[0] for r in conn.execute("SELECT app FROM apps ORDER BY app")]


def _where(apps: Sequence[str], period: str) -> str:
    # Listing the apps keeps every query on the primary key's (app, dimension, period) prefix.
    marks = ", ".join("?" * len(apps))
    return f"app IN ({marks}) AND dimension = ? AND {period} BETWEEN ? AND ?"


def _selected(apps: Sequence[str], period: str, periods: int, values: int) -> str:
    # IN lists on both the period and the value let SQLite seek each (period, value)
    # pair on the primary key instead of scanning every value of each period.
    app_marks = ", ".join("?" * len(apps))
    period_marks = ", ".join("?" * periods)
    value_marks = ", ".join("?" * values)
    return (
        f"app IN ({app_marks}) AND dimension = ? AND {period} IN ({period_marks}) "
        f"AND value IN ({value_marks})"
    )


_VALUES_PER_QUERY: Final = 200
"""Values per bitmap query: its variables stay far under SQLite's limit, periods included."""


Part = tuple[str, int, int]
"""``(period, low, high)``: the weeks (``"week"``) or days (``"day"``) ``low..high``."""

_BITMAPS: Final = {"week": "rollup_bitmaps_weekly", "day": "rollup_bitmaps"}
_SUMS: Final = {"week": "rollup_weekly", "day": "rollup_daily"}


def _range_statements(
    apps: Sequence[str], dimension: str, parts: Sequence[Part], values: Sequence[str] | None
) -> Iterator[tuple[str, tuple[object, ...]]]:
    """The queries for the bitmap rows of ``parts``: of every value, or of ``values`` only."""
    for period, low, high in parts:
        table = _BITMAPS[period]
        if values is None:
            sql = f"SELECT value, chunk, bits FROM {table} WHERE {_where(apps, period)}"  # noqa: S608  # fixed names
            yield sql, (*apps, dimension, low, high)
            continue
        periods = range(low, high + 1)
        for start in range(0, len(values), _VALUES_PER_QUERY):
            batch = values[start : start + _VALUES_PER_QUERY]
            where = _selected(apps, period, len(periods), len(batch))
            sql = f"SELECT value, chunk, bits FROM {table} WHERE {where}"  # noqa: S608  # fixed names
            yield sql, (*apps, dimension, *periods, *batch)


def _count_bits(unions: dict[tuple[object, ...], int]) -> dict[tuple[object, ...], int]:
    """Distinct installs per bucket: the bits of its chunks' unions (keys end with the chunk)."""
    counts: dict[tuple[object, ...], int] = {}
    for key, bits in unions.items():
        bucket = key[:-1]
        counts[bucket] = counts.get(bucket, 0) + bits.bit_count()
    return counts


def _distinct_per_day(
    conn: sqlite3.Connection, apps: Sequence[str], dimension: str, first_day: int, last_day: int
) -> dict[tuple[object, ...], int]:
    """Distinct installs per day and value from the daily bitmap rows (several apps)."""
    unions: dict[tuple[object, ...], int] = {}
    get = unions.get
    from_bytes = int.from_bytes
    sql = f"SELECT day, value, chunk, bits FROM rollup_bitmaps WHERE {_where(apps, 'day')}"  # noqa: S608  # fixed names
    for day, value, chunk, blob in conn.execute(sql, (*apps, dimension, first_day, last_day)):
        key: tuple[object, ...] = (day, value, chunk)
        unions[key] = get(key, 0) | from_bytes(blob, "little")
    return _count_bits(unions)


def _distinct(
    conn: sqlite3.Connection,
    apps: Sequence[str],
    dimension: str,
    parts: Sequence[Part],
    values: Sequence[str] | None = None,
) -> dict[tuple[object, ...], int]:
    """Distinct installs per value over ``parts`` (of ``values`` only, when given)."""
    # Tens of thousands of rows at 10M events: the loop keeps to one dict lookup,
    # one conversion and one OR per row (no row factory, no tuple slicing).
    unions: dict[tuple[object, ...], int] = {}
    get = unions.get
    from_bytes = int.from_bytes
    for sql, params in _range_statements(apps, dimension, parts, values):
        for value, chunk, blob in conn.execute(sql, params):
            key = (value, chunk)
            unions[key] = get(key, 0) | from_bytes(blob, "little")
    return _count_bits(unions)


def _rollup_row(_cursor: sqlite3.Cursor, row: tuple[int, str, int, int, int]) -> RollupRow:
    return RollupRow(*row)


def _has_rows(
    conn: sqlite3.Connection, apps: Sequence[str], dimension: str, first_day: int, last_day: int
) -> bool:
    # Bitmap rows are written with their rollup_daily rows, so days without
    # rollup_daily rows of the dimension hold neither sums nor installs of it.
    if first_day > last_day:
        return False
    sql = f"SELECT 1 FROM rollup_daily WHERE {_where(apps, 'day')} LIMIT 1"  # noqa: S608  # fixed SQL
    return conn.execute(sql, (*apps, dimension, first_day, last_day)).fetchone() is not None


def _range_parts(
    conn: sqlite3.Connection, apps: Sequence[str], dimension: str, first_day: int, last_day: int
) -> list[Part]:
    """Which weeks and days cover ``first_day..last_day``: whole weeks, then edge days.

    A range that is widened over days without rows of ``dimension`` covers the
    same events and installs, so an edge is widened to its whole week when the
    week's days outside the range hold none.
    """
    week_start = 7 * week_of(first_day) - 3
    if not _has_rows(conn, apps, dimension, week_start, first_day - 1):
        first_day = week_start
    week_end = 7 * week_of(last_day) + 3
    if not _has_rows(conn, apps, dimension, last_day + 1, week_end):
        last_day = week_end
    weeks = day_span_of_weeks(first_day, last_day)
    if weeks is None:
        return [("day", first_day, last_day)]
    first_week, last_week = weeks
    parts: list[Part] = [("week", first_week, last_week)]
    if first_day < 7 * first_week - 3:
        parts.append(("day", first_day, 7 * first_week - 4))
    if 7 * last_week + 3 < last_day:
        parts.append(("day", 7 * last_week + 4, last_day))
    return parts


def _range_sums(
    conn: sqlite3.Connection, apps: Sequence[str], dimension: str, parts: Sequence[Part]
) -> list[tuple[str, int, int]]:
    """Each value's events and amount over ``parts``: weekly rows, and daily rows of the edges."""
    # No SUM(installs): installs of a range are counted from bitmaps, and a third
    # sum costs the GROUP BY's sort a sixth of its time at 10M events.
    selects: list[str] = []
    params: list[object] = []
    for period, low, high in parts:
        selects.append(
            f"SELECT value, events, amount FROM {_SUMS[period]} WHERE {_where(apps, period)}"  # noqa: S608  # fixed names
        )
        params += [*apps, dimension, low, high]
    rows = " UNION ALL ".join(selects)
    sql = f"SELECT value, SUM(events), SUM(amount) FROM ({rows}) GROUP BY value"  # noqa: S608  # fixed SQL
    return [(value, int(n), int(a)) for value, n, a in conn.execute(sql, params)]


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
    otherwise bring events and installs of days after the range into its weekly
    rows).
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
        if per_day:  # several apps: an install may report to more than one
            daily = conn.execute(
                "SELECT day, value, SUM(events), SUM(amount) FROM rollup_daily "  # noqa: S608  # fixed SQL
                f"WHERE {_where(names, 'day')} GROUP BY day, value",
                params,
            ).fetchall()
            if not daily:
                return []
            distinct = _distinct_per_day(conn, names, dimension, first_day, last_day)
            rows = [
                RollupRow(d, v, int(n), int(a), distinct.get((d, v), 0)) for d, v, n, a in daily
            ]
            rows.sort(key=lambda r: (r.day, r.value))
            return rows
        parts = _range_parts(conn, names, dimension, first_day, last_day)
        sums = _range_sums(conn, names, dimension, parts)
        if not sums:
            return []
        distinct = _distinct(conn, names, dimension, parts)
        rows = [RollupRow(None, v, n, a, distinct.get((v,), 0)) for v, n, a in sums]
        rows.sort(key=lambda r: (-r.events, r.value))
        return rows


def sums(
    conn: sqlite3.Connection, app: str | None, dimension: str, first_day: int, last_day: int
) -> list[SumRow]:
    """Each value's events and amount over the range (by events, most first, then value)."""
    with _snapshot(conn):
        names = [app] if app is not None else apps(conn)
        if not names or first_day > last_day:
            return []
        parts = _range_parts(conn, names, dimension, first_day, last_day)
        rows = [SumRow(*sums) for sums in _range_sums(conn, names, dimension, parts)]
        rows.sort(key=lambda r: (-r.events, r.value))
        return rows


def distinct_installs(
    conn: sqlite3.Connection,
    app: str | None,
    dimension: str,
    first_day: int,
    last_day: int,
    *,
    values: Collection[str],
) -> dict[str, int]:
    """Distinct installs over the range of each of ``values`` that has any."""
    with _snapshot(conn):
        names = [app] if app is not None else apps(conn)
        if not names or not values or first_day > last_day:
            return {}
        parts = _range_parts(conn, names, dimension, first_day, last_day)
        counts = _distinct(conn, names, dimension, parts, sorted(set(values)))
        return {str(key[0]): n for key, n in counts.items() if n}
