"""What the migration tests share: fixtures of each layout, the same history in a new store,
every number a store shows, and a layout-2-to-1 rewrite for stores too big to ship.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from pigeon.collector.stats import VIEWS, compute_view, day_to_iso, parse_query
from pigeon.collector.storage import Store, StoredEvent, open_store
from pigeon.collector.storage._dimensions import DIMENSIONS
from pigeon.collector.storage._raw import RAW_COLUMNS, event_of
from pigeon.collector.storage._sqlite_layouts import RELEASE_DIMENSIONS
from tests.collector.migrations.history import (
    DAYS,
    FIRST_DAY,
    FORGOTTEN,
    NOW_MS,
    RETENTION_DAYS,
    history,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"

LAST_DAY = FIRST_DAY + DAYS - 1

RANGES = (
    (FIRST_DAY, LAST_DAY),  # everything
    (FIRST_DAY + 3, FIRST_DAY + 40),  # whole weeks and partial weeks at both edges
    (FIRST_DAY + 12, FIRST_DAY + 12),  # one day
    (LAST_DAY - 13, LAST_DAY + 7),  # the days with raw events, and days after the history
)

LAYOUT_1_SCHEMA = (
    # Verbatim from the release that wrote layout 1 (pigeon's storage/_sqlite_schema.py).
    """CREATE TABLE IF NOT EXISTS rollup_daily (
        app TEXT NOT NULL,
        dimension TEXT NOT NULL,
        day INTEGER NOT NULL,
        value TEXT NOT NULL,
        events INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        PRIMARY KEY (app, dimension, day, value)
    ) WITHOUT ROWID""",
)


def fixture_copy(version: str, directory: Path) -> Path:
    """A copy of the store that the release of layout ``version`` wrote, in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pigeon.db"
    shutil.copyfile(FIXTURES / f"layout-{version}.db", path)
    return path


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def history_events() -> list[StoredEvent]:
    return [StoredEvent(**fields) for fields in history()]


async def write_history(store: Store) -> None:
    """What ``build_fixture.py`` did to each fixture: the history, retention, one forget."""
    events = history_events()
    for start in range(0, len(events), 250):
        await store.write(events[start : start + 250])
    await store.apply_retention(RETENTION_DAYS, now_ms=NOW_MS)
    await store.forget(*FORGOTTEN)


def new_store_with_history(path: Path) -> Path:
    """A store of today's layout at ``path`` holding the same history as the fixtures."""

    async def build() -> None:
        store = open_store(url_of(path))
        try:
            await write_history(store)
        finally:
            await store.close()

    asyncio.run(build())
    return path


async def numbers_of(store: Store, ranges: tuple[tuple[int, int], ...] = RANGES) -> dict[str, Any]:
    """Every number the store shows: each view and each dimension's rows, over several ranges."""
    apps = await store.apps()
    numbers: dict[str, Any] = {"apps": apps, "events": await store.count_events()}
    for app in (None, *apps):
        for first, last in ranges:
            query = parse_query(
                date_from=day_to_iso(first), date_to=day_to_iso(last), app=app, today=last
            )
            for name in VIEWS:
                numbers[f"view {name} {app} {first}-{last}"] = await compute_view(
                    store, name, query, 1
                )
            for dimension in DIMENSIONS:
                key = f"{dimension} {app} {first}-{last}"
                numbers[f"series {key}"] = await store.series(app, dimension, first, last)
                numbers[f"totals {key}"] = await store.totals(app, dimension, first, last)
    return numbers


def about_release(key: str) -> bool:
    """Whether a :func:`numbers_of` key is a series or totals of a layout-3 dimension."""
    words = key.split(" ")
    return words[0] in ("series", "totals") and words[1] in RELEASE_DIMENSIONS


def release_numbers_at(url: str, keys: list[str]) -> dict[str, Any]:
    """The rows of the :func:`numbers_of` ``keys`` (series and totals) of the store at ``url``."""

    async def read() -> dict[str, Any]:
        store = open_store(url)
        try:
            out: dict[str, Any] = {}
            for key in keys:
                kind, dimension, app, days = key.split(" ")
                first, last = (int(day) for day in days.split("-"))
                read_rows = store.series if kind == "series" else store.totals
                out[key] = await read_rows(None if app == "None" else app, dimension, first, last)
            return out
        finally:
            await store.close()

    return asyncio.run(read())


def kept_events(path: Path) -> list[StoredEvent]:
    """The raw events a store file holds, as they were written."""
    columns = [column for column in RAW_COLUMNS if column != "day"]
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM events").fetchall()
    finally:
        conn.close()
    return [event_of(row, columns) for row in rows]


def new_store_with(events: list[StoredEvent], path: Path) -> Path:
    """A store of today's layout at ``path`` holding exactly ``events``."""

    async def build() -> None:
        store = open_store(url_of(path))
        try:
            await store.write(events)
        finally:
            await store.close()

    path.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(build())
    return path


def numbers_at(url: str) -> dict[str, Any]:
    """:func:`numbers_of` the store at ``url`` (opened for writing: it is migrated if older)."""

    async def read() -> dict[str, Any]:
        store = open_store(url)
        try:
            return await numbers_of(store)
        finally:
            await store.close()

    return asyncio.run(read())


def layout_of(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(
            conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        )
    finally:
        conn.close()


def downgrade_to_layout_1(path: Path) -> None:
    """Rewrite a closed store of today's layout as the layout-1 release would have written it.

    Layouts 2 to 4 only added derived data to layout 1 (a column and tables
    computed from ``rollup_installs``, then the rows of new dimensions, then
    weekly sums of ``rollup_daily``), so dropping it gives back the release's file;
    ``test_the_rewrite_gives_what_the_release_wrote`` proves it on the fixtures.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        marks = ", ".join("?" * len(RELEASE_DIMENSIONS))
        for table in ("rollup_daily", "rollup_installs"):
            conn.execute(
                f"DELETE FROM {table} WHERE dimension IN ({marks})",  # fixed names
                RELEASE_DIMENSIONS,
            )
        derived = ("install_ordinals", "rollup_bitmaps", "rollup_bitmaps_weekly", "apps")
        for table in (*derived, "rollup_weekly"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("ALTER TABLE rollup_daily RENAME TO rollup_daily_layout_2")
        for statement in LAYOUT_1_SCHEMA:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO rollup_daily SELECT app, dimension, day, value, events, amount "
            "FROM rollup_daily_layout_2"
        )
        conn.execute("DROP TABLE rollup_daily_layout_2")
        conn.execute("DELETE FROM meta WHERE key != 'schema_version'")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        conn.execute("COMMIT")
        conn.execute("VACUUM")
    finally:
        conn.close()
