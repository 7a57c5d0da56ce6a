"""What the SQLite writer does with installs: ordinals, bitmaps, per-day counts, forget.

Only the ``rollup_installs`` rows a transaction actually inserted (installs new
to their bucket) touch the counts: each adds 1 to ``rollup_daily.installs``
and sets its ordinal's bit in the daily and weekly bitmaps. Forgetting an
install undoes exactly that for each of its rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Final

from pigeon.collector.storage._sqlite_bitmaps import bit_position, to_blob, week_of
from pigeon.collector.storage._sqlite_rollups import DailyKey, InstallCache, InstallRow
from pigeon.collector.storage._sqlite_shared import bump_generation
from pigeon.collector.storage._sqlite_statements import upsert_bitmaps

__all__ = ["forget_install", "record_apps", "record_new_installs"]

_LOOKUP_CHUNK: Final = 500


def record_apps(conn: sqlite3.Connection, apps: Iterable[str], cache: InstallCache) -> None:
    """Add apps not known yet to the ``apps`` table."""
    new = [(app,) for app in apps if app not in cache.apps]
    if new:
        conn.executemany("INSERT OR IGNORE INTO apps (app) VALUES (?)", new)
        cache.apps.update(app for (app,) in new)


def _ordinals_of(
    conn: sqlite3.Connection, installs: set[int], cache: InstallCache
) -> dict[int, int]:
    known = cache.ordinals
    missing = [install for install in installs if install not in known]
    for start in range(0, len(missing), _LOOKUP_CHUNK):
        part = missing[start : start + _LOOKUP_CHUNK]
        marks = ", ".join("?" * len(part))
        sql = f"SELECT install, ordinal FROM install_ordinals WHERE install IN ({marks})"  # noqa: S608
        known.update(conn.execute(sql, part))
    fresh = [install for install in missing if install not in known]
    if fresh:
        # Read inside the transaction every time: another process may have
        # numbered installs since (an index look-up, only when installs are new).
        row = conn.execute("SELECT COALESCE(MAX(ordinal) + 1, 0) FROM install_ordinals")
        first = int(row.fetchone()[0])
        assigned = [(install, first + n) for n, install in enumerate(fresh)]
        conn.executemany("INSERT INTO install_ordinals (install, ordinal) VALUES (?, ?)", assigned)
        known.update(assigned)
    return known


def record_new_installs(
    conn: sqlite3.Connection, rows: Sequence[InstallRow], cache: InstallCache
) -> dict[DailyKey, int]:
    """Set the bits of newly inserted ``rollup_installs`` rows; return new installs per key.

    The cache's memory of ordinals changes inside the transaction: the caller
    clears the cache if the transaction is rolled back.
    """
    if not rows:
        return {}
    ordinals = _ordinals_of(conn, {row[4] for row in rows}, cache)
    counts: dict[DailyKey, int] = {}
    daily: dict[tuple[object, ...], int] = {}
    weekly: dict[tuple[object, ...], int] = {}
    for app, dimension, day, value, install in rows:
        key = (app, dimension, day, value)
        counts[key] = counts.get(key, 0) + 1
        chunk, bit = bit_position(ordinals[install])
        mask = 1 << bit
        day_key = (app, dimension, day, value, chunk)
        daily[day_key] = daily.get(day_key, 0) | mask
        week_key = (app, dimension, week_of(day), value, chunk)
        weekly[week_key] = weekly.get(week_key, 0) | mask
    upsert_bitmaps(conn, False, [(*k, to_blob(bits)) for k, bits in daily.items()])
    upsert_bitmaps(conn, True, [(*k, to_blob(bits)) for k, bits in weekly.items()])
    return counts


def forget_install(conn: sqlite3.Connection, app: str, install: int, cache: InstallCache) -> None:
    """Remove one install of one app from every distinct count (event counts stay)."""
    rows = conn.execute(
        "SELECT dimension, day, value FROM rollup_installs WHERE app = ? AND install = ?",
        (app, install),
    ).fetchall()
    found = conn.execute(
        "SELECT ordinal FROM install_ordinals WHERE install = ?", (install,)
    ).fetchone()
    if rows and found is not None:
        chunk, bit = bit_position(int(found[0]))
        conn.executemany(
            "UPDATE rollup_daily SET installs = installs - 1 "
            "WHERE app = ? AND dimension = ? AND day = ? AND value = ?",
            [(app, dimension, day, value) for dimension, day, value in rows],
        )
        conn.executemany(
            "UPDATE rollup_bitmaps SET bits = bit_clear(bits, ?) "
            "WHERE app = ? AND dimension = ? AND day = ? AND value = ? AND chunk = ?",
            [(bit, app, dimension, day, value, chunk) for dimension, day, value in rows],
        )
        weeks = {(dimension, week_of(day), value) for dimension, day, value in rows}
        conn.executemany(
            "UPDATE rollup_bitmaps_weekly SET bits = bit_clear(bits, ?) "
            "WHERE app = ? AND dimension = ? AND week = ? AND value = ? AND chunk = ?",
            [(bit, app, dimension, week, value, chunk) for dimension, week, value in weeks],
        )
    conn.execute("DELETE FROM rollup_installs WHERE app = ? AND install = ?", (app, install))
    others = [r[0] for r in conn.execute("SELECT app FROM apps WHERE app != ?", (app,))]
    if not any(
        conn.execute(
            "SELECT 1 FROM rollup_installs WHERE app = ? AND install = ? LIMIT 1", (other, install)
        ).fetchone()
        for other in others
    ):
        # No app counts this install any more: its number goes too.
        conn.execute("DELETE FROM install_ordinals WHERE install = ?", (install,))
    # Every writer's memories may hold rows and ordinals that no longer exist:
    # ours is cleared now, other processes' at their next transaction.
    cache.clear()
    cache.generation = bump_generation(conn)
