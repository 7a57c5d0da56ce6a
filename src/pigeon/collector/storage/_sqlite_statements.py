"""Multi-row statements: a few sqlite3 calls per transaction, not one per row.

Python's ``sqlite3`` releases the GIL around every statement step, and
``executemany`` steps once per row. Under load every release is a GIL hand-off
with the event-loop thread, which may keep the GIL for a whole switch
interval: thousands of hand-offs per transaction would starve the writer.
Multi-row ``VALUES`` statements step once per chunk of rows, and let SQLite
work on a whole chunk while the event loop parses the next requests.
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Final, cast

from pigeon.collector.storage._base import MS_PER_DAY, StoredEvent
from pigeon.collector.storage._raw import raw_values
from pigeon.collector.storage._sqlite_rollups import DailyKey, InstallRow, WeeklyKey
from pigeon.collector.storage._sqlite_schema import EVENT_COLUMNS

__all__ = [
    "existing_ids",
    "insert_events",
    "insert_installs",
    "row_of",
    "upsert_bitmaps",
    "upsert_daily",
    "upsert_weekly",
]

EVENTS_CHUNK: Final = 1024  # a power of two; 16 columns: 16384 parameters per statement
INSTALLS_CHUNK: Final = 256  # a power of two; 5 columns
DAILY_CHUNK: Final = 1024  # a power of two; 6 or 7 columns (sums and bitmaps)
_IDS_CHUNK: Final = 500

_chain = itertools.chain.from_iterable


def row_of(event: StoredEvent) -> tuple[object, ...]:
    """The ``events`` row of one event, in ``EVENT_COLUMNS`` order."""
    return raw_values(event, event.timestamp_ms // MS_PER_DAY)


@functools.cache
def _values(width: int, rows: int) -> str:
    row = f"({', '.join('?' * width)})"
    return ", ".join([row] * rows)


@functools.cache
def _insert_ignore_sql(table: str, columns: tuple[str, ...], rows: int) -> str:
    return (
        f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) "  # noqa: S608  # fixed names
        f"VALUES {_values(len(columns), rows)}"
    )


def _in_chunks(
    conn: sqlite3.Connection,
    sql_for: Callable[[int], str],
    rows: Sequence[tuple[object, ...]],
    chunk: int,
) -> list[tuple[object, ...]]:
    # Statements hold `chunk` rows, then halves of it for the rest (64, 32, ...,
    # 1): a handful of distinct statements, compiled once and cached by
    # sqlite3, and at most log2(chunk) extra steps per call.
    start, left = 0, len(rows)
    size = chunk
    returned: list[tuple[object, ...]] = []
    while left:
        while size > left:
            size //= 2
        returned += conn.execute(sql_for(size), list(_chain(rows[start : start + size])))
        start += size
        left -= size
    return returned


def insert_events(conn: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
    """``INSERT OR IGNORE`` raw event rows (in :data:`EVENT_COLUMNS` order)."""
    _in_chunks(
        conn, functools.partial(_insert_ignore_sql, "events", EVENT_COLUMNS), rows, EVENTS_CHUNK
    )


_INSTALL_COLUMNS: Final = ("app", "dimension", "day", "value", "install")


@functools.cache
def _insert_installs_sql(rows: int) -> str:
    # RETURNING yields the rows actually inserted (not the ignored ones): the
    # installs new to their bucket, the only ones that change counts and bitmaps.
    return f"{_insert_ignore_sql('rollup_installs', _INSTALL_COLUMNS, rows)} RETURNING *"


def insert_installs(conn: sqlite3.Connection, rows: Sequence[InstallRow]) -> list[InstallRow]:
    """``INSERT OR IGNORE`` ``rollup_installs`` rows; return those that were new."""
    return cast("list[InstallRow]", _in_chunks(conn, _insert_installs_sql, rows, INSTALLS_CHUNK))


@functools.cache
def _upsert_daily_sql(rows: int) -> str:
    head = "INSERT INTO rollup_daily (app, dimension, day, value, events, amount, installs) VALUES"
    tail = (
        "ON CONFLICT (app, dimension, day, value) "
        "DO UPDATE SET events = events + excluded.events, amount = amount + excluded.amount, "
        "installs = installs + excluded.installs"
    )
    return f"{head} {_values(7, rows)} {tail}"  # placeholders only


@functools.cache
def _upsert_weekly_sql(rows: int) -> str:
    head = "INSERT INTO rollup_weekly (app, dimension, week, value, events, amount) VALUES"
    tail = (
        "ON CONFLICT (app, dimension, week, value) "
        "DO UPDATE SET events = events + excluded.events, amount = amount + excluded.amount"
    )
    return f"{head} {_values(6, rows)} {tail}"  # placeholders only


@functools.cache
def _upsert_bitmaps_sql(table: str, period: str, rows: int) -> str:
    return (
        f"INSERT INTO {table} (app, dimension, {period}, value, chunk, bits) "  # noqa: S608  # fixed names
        f"VALUES {_values(6, rows)} "
        f"ON CONFLICT (app, dimension, {period}, value, chunk) "
        "DO UPDATE SET bits = bit_or(bits, excluded.bits)"
    )


def upsert_bitmaps(
    conn: sqlite3.Connection, weekly: bool, rows: Sequence[tuple[object, ...]]
) -> None:
    """OR ``(app, dimension, day or week, value, chunk, bits)`` rows into the bitmaps.

    Keys must be distinct within one call.
    """
    table, period = ("rollup_bitmaps_weekly", "week") if weekly else ("rollup_bitmaps", "day")
    _in_chunks(conn, functools.partial(_upsert_bitmaps_sql, table, period), rows, DAILY_CHUNK)


def upsert_daily(
    conn: sqlite3.Connection,
    daily: Mapping[DailyKey, Sequence[int]],
    new_installs: Mapping[DailyKey, int],
) -> None:
    """Add ``(events, amount)`` per ``(app, dimension, day, value)`` to ``rollup_daily``.

    ``new_installs`` gives, per key, the installs new to that day and value.
    """
    rows = [(*key, n, amount, new_installs.get(key, 0)) for key, (n, amount) in daily.items()]
    _in_chunks(conn, _upsert_daily_sql, rows, DAILY_CHUNK)


def upsert_weekly(conn: sqlite3.Connection, weekly: Mapping[WeeklyKey, Sequence[int]]) -> None:
    """Add ``(events, amount)`` per ``(app, dimension, week, value)`` to ``rollup_weekly``."""
    rows = [(*key, n, amount) for key, (n, amount) in weekly.items()]
    _in_chunks(conn, _upsert_weekly_sql, rows, DAILY_CHUNK)


def existing_ids(conn: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are already stored."""
    found: set[str] = set()
    for start in range(0, len(ids), _IDS_CHUNK):
        part = ids[start : start + _IDS_CHUNK]
        sql = f"SELECT message_id FROM events WHERE message_id IN ({', '.join('?' * len(part))})"  # noqa: S608
        found.update(row[0] for row in conn.execute(sql, part))
    return found
