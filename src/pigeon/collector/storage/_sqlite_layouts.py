"""The SQLite layout changes: one step per release that changed the layout.

A step turns a store of layout ``N`` into layout ``N + 1`` on a connection
inside the caller's transaction, so a step that fails or is killed leaves the
store as it was. Steps rebuild what is derived (rollups, install numbers,
bitmaps) from what the older layout kept: raw events are not enough, since
retention deletes them while their rollups stay.

Every layout of :data:`~pigeon.collector.storage._sqlite_schema.LAYOUTS` but
the last has a step; a test checks it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Final

from pigeon._crash import CRASH_EVENT
from pigeon.collector.storage._migration import Step
from pigeon.collector.storage._raw import RAW_COLUMNS, event_of
from pigeon.collector.storage._sqlite_bitmaps import CHUNK_BITS, to_blob, week_of
from pigeon.collector.storage._sqlite_installs import record_new_installs
from pigeon.collector.storage._sqlite_rollups import BucketMemo, InstallCache, rollup_delta
from pigeon.collector.storage._sqlite_schema import SCHEMA
from pigeon.collector.storage._sqlite_statements import (
    insert_installs,
    upsert_bitmaps,
    upsert_daily,
)

__all__ = ["RELEASE_DIMENSIONS", "STEPS", "SQLiteStep"]

_FLUSH_ROWS: Final = 4096
"""Bitmap rows gathered before they are written (bounds the step's memory)."""

_WORD: Final = (1 << 64) - 1
_WORD_IN_CHUNK: Final = (1 << (CHUNK_BITS - 6)) - 1

_BitmapKey = tuple[str, str, int, str, int]
"""``(app, dimension, day or week, value, chunk)``."""


SQLiteStep = Step[Callable[[sqlite3.Connection], None]]
"""A step run on a connection inside the migration's transaction."""


def _layout_1_to_2(conn: sqlite3.Connection) -> None:
    # rollup_daily gains `installs`, the distinct installs of each bucket: in
    # layout 1 they are exactly the bucket's rows of rollup_installs. A new
    # table (not ALTER TABLE ADD COLUMN) so the migrated table is declared
    # exactly as a new store's.
    conn.execute("ALTER TABLE rollup_daily RENAME TO rollup_daily_layout_1")
    for statement in SCHEMA:  # creates the new rollup_daily and every new table
        conn.execute(statement)
    conn.execute(
        "INSERT INTO rollup_daily (app, dimension, day, value, events, amount, installs) "
        "SELECT d.app, d.dimension, d.day, d.value, d.events, d.amount, "
        "(SELECT COUNT(*) FROM rollup_installs i WHERE i.app = d.app "
        "AND i.dimension = d.dimension AND i.day = d.day AND i.value = d.value) "
        "FROM rollup_daily_layout_1 d"
    )
    conn.execute("DROP TABLE rollup_daily_layout_1")
    # Installs are numbered in the order they first appeared, as a store that
    # received the same events numbers them: installs of a period stay in the
    # same bitmap chunks.
    conn.execute(
        "INSERT INTO install_ordinals (install, ordinal) "
        "SELECT install, ROW_NUMBER() OVER (ORDER BY first_day, install) - 1 "
        "FROM (SELECT install, MIN(day) AS first_day FROM rollup_installs GROUP BY install)"
    )
    _build_bitmaps(conn)
    conn.execute("INSERT OR IGNORE INTO apps (app) SELECT DISTINCT app FROM rollup_daily")


def _build_bitmaps(conn: sqlite3.Connection) -> None:
    """Set every ``rollup_installs`` row's bit in the daily and weekly bitmaps.

    SQLite assembles 64-bit words of each bucket's bitmap (a ``SUM`` of
    distinct powers of two is their OR, and cannot overflow even with the
    sign bit), so Python handles one row per word, not one per install.
    """
    daily: dict[_BitmapKey, int] = {}
    weekly: dict[_BitmapKey, int] = {}
    words = conn.execute(
        "SELECT r.app, r.dimension, r.day, r.value, o.ordinal >> 6 AS word, "
        "SUM(1 << (o.ordinal & 63)) "
        "FROM rollup_installs r JOIN install_ordinals o ON o.install = r.install "
        "GROUP BY r.app, r.dimension, r.day, r.value, word"
    )
    shift = CHUNK_BITS - 6  # words per chunk, as a shift
    for app, dimension, day, value, word, bits in words:
        key = (app, dimension, day, value, word >> shift)
        daily[key] = daily.get(key, 0) | ((bits & _WORD) << ((word & _WORD_IN_CHUNK) << 6))
        if len(daily) >= _FLUSH_ROWS:
            _flush_daily(conn, daily, weekly)
            if len(weekly) >= _FLUSH_ROWS:
                _flush_weekly(conn, weekly)
    _flush_daily(conn, daily, weekly)
    _flush_weekly(conn, weekly)


def _flush_daily(
    conn: sqlite3.Connection, daily: dict[_BitmapKey, int], weekly: dict[_BitmapKey, int]
) -> None:
    """Write the daily rows gathered, and OR them into their weeks' rows."""
    # A bucket's words can straddle two flushes: the upserts OR into what is written.
    upsert_bitmaps(conn, False, [(*key, to_blob(bits)) for key, bits in daily.items()])
    for (app, dimension, day, value, chunk), bits in daily.items():
        week_key = (app, dimension, week_of(day), value, chunk)
        weekly[week_key] = weekly.get(week_key, 0) | bits
    daily.clear()


def _flush_weekly(conn: sqlite3.Connection, weekly: dict[_BitmapKey, int]) -> None:
    upsert_bitmaps(conn, True, [(*key, to_blob(bits)) for key, bits in weekly.items()])
    weekly.clear()


RELEASE_DIMENSIONS: Final = ("error_version", "crash", "crash_version", "crash_frames")
"""The dimensions layout 3 added, which its step backfills from the raw events kept."""

_RELEASE_EVENTS: Final = ("ServerErrorFound", CRASH_EVENT)
_BACKFILL_BATCH: Final = 5000
_EVENT_FIELDS: Final = tuple(column for column in RAW_COLUMNS if column != "day")


def _layout_2_to_3(conn: sqlite3.Connection) -> None:
    # The new dimensions are derived from the events alone, so the raw events
    # still kept rebuild them exactly; older history (deleted by retention)
    # only ever had the dimensions without versions. No release of layout 2
    # wrote any of them, so they are added to nothing.
    cache, memo = InstallCache(), BucketMemo(only=frozenset(RELEASE_DIMENSIONS))
    rows = conn.execute(
        f"SELECT {', '.join(_EVENT_FIELDS)} FROM events "  # noqa: S608  # fixed names
        "WHERE event IN (?, ?) ORDER BY message_id",
        _RELEASE_EVENTS,
    )
    while batch := rows.fetchmany(_BACKFILL_BATCH):
        delta = rollup_delta([event_of(row, _EVENT_FIELDS) for row in batch], cache, memo)
        new = record_new_installs(conn, insert_installs(conn, delta.installs), cache)
        upsert_daily(conn, delta.daily, new)  # rollup_weekly is layout 4's, built by its step
        cache.add_all(delta.install_hashes)


def _layout_3_to_4(conn: sqlite3.Connection) -> None:
    # rollup_weekly is rollup_daily summed per week: derived whole, so any rows
    # already there (an earlier step creates every table of SCHEMA) are replaced.
    # SQL's `/` truncates where week_of floors: the same for the days stored
    # (timestamps before 2015 are refused, so no day is negative).
    for statement in SCHEMA:
        conn.execute(statement)
    conn.execute("DELETE FROM rollup_weekly")
    conn.execute(
        "INSERT INTO rollup_weekly (app, dimension, week, value, events, amount) "
        "SELECT app, dimension, (day + 3) / 7 AS week, value, SUM(events), SUM(amount) "
        "FROM rollup_daily GROUP BY app, dimension, week, value"
    )


STEPS: Final[dict[str, SQLiteStep]] = {
    step.source: step
    for step in (
        SQLiteStep(
            "1",
            "2",
            "add per-day distinct install counts to rollup_daily, number every install, "
            "build the install bitmaps and the apps table from rollup_installs",
            _layout_1_to_2,
        ),
        SQLiteStep(
            "2",
            "3",
            "count the release-health dimensions (errors and crashes per version, crash "
            "signatures and stacks) from the raw events kept",
            _layout_2_to_3,
        ),
        SQLiteStep(
            "3",
            "4",
            "sum rollup_daily per week into rollup_weekly (range sums read a row per week)",
            _layout_3_to_4,
        ),
    )
}
"""Layout -> the step that upgrades it."""
