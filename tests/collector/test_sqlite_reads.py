"""The SQLite store's range reads: which weekly and daily rows answer a range, exactly.

A range's whole weeks are read from the weekly tables (``rollup_weekly``,
``rollup_bitmaps_weekly``), its edge days from the daily ones. An edge week is
read from its weekly rows only when its days outside the range hold no rows of
the dimension read. The weekly sums are always the daily sums of their week. A
read is one snapshot, whatever commits while it runs.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from pigeon._wire import uuid7
from pigeon.catalog import PropertyValue
from pigeon.collector.storage import StoredEvent
from pigeon.collector.storage._base import MS_PER_DAY, week_of
from pigeon.collector.storage._sqlite_reads import _range_parts, rollup
from tests.collector.conftest import SyncStore
from tests.collector.test_store import by_key, make_events, naive

MONDAY = 19_800  # 2024-03-18, the first day of its week
WEEK = week_of(MONDAY)


def _event(install: str, day: int, name: str, props: dict[str, PropertyValue]) -> StoredEvent:
    moment = day * MS_PER_DAY + 1000
    return StoredEvent(uuid7(), "argilla", name, install, moment, moment, properties=props)


def _crash(install: str, day: int) -> StoredEvent:
    props: dict[str, PropertyValue] = {"exception": "KeyError", "signature": "00000000000000aa"}
    return _event(install, day, "CrashReported", props)


def _error(install: str, day: int) -> StoredEvent:
    return _event(install, day, "ServerErrorFound", {"code": "argilla.api.errors::E1"})


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "pigeon.db"


@pytest.fixture
def store(path: Path) -> Iterator[SyncStore]:
    opened = SyncStore(f"sqlite:///{path}")
    yield opened
    opened.close()


def _parts(path: Path, dimension: str, first: int, last: int) -> list[tuple[str, int, int]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return _range_parts(conn, ["argilla"], dimension, first, last)
    finally:
        conn.close()


def test_an_edge_week_with_no_rows_outside_the_range_is_read_weekly(
    store: SyncStore, path: Path
) -> None:
    # Monday to Wednesday of the week before, and of this week ("today" is Wednesday).
    events = [_crash(f"i{n}", MONDAY - 7 + n % 3) for n in range(6)]
    events += [_crash(f"i{n}", MONDAY + n % 3) for n in range(3, 9)]
    events += [_error(f"i{n}", MONDAY + n % 3) for n in range(4)]
    store.write(events)
    first, last = MONDAY - 6, MONDAY + 2  # Tuesday a week ago to this Wednesday
    # Last week's Monday holds rows, so last week's edge is read day by day; nothing
    # was counted after this Wednesday, so this week is read from its weekly rows.
    assert _parts(path, "crash", first, last) == [
        ("week", WEEK, WEEK),
        ("day", first, MONDAY - 1),
    ]
    # A row of another dimension on Friday does not matter; one of this dimension does.
    later = [_error("late", MONDAY + 4)]
    store.write(later)
    assert _parts(path, "crash", first, last)[0] == ("week", WEEK, WEEK)
    # (No error was counted last week: that edge is widened, this week's is not.)
    assert _parts(path, "error", first, last) == [
        ("week", WEEK - 1, WEEK - 1),
        ("day", MONDAY, last),
    ]
    # A leading edge whose earlier days of the week hold no rows is widened too.
    assert _parts(path, "error", MONDAY - 13, MONDAY + 6) == [("week", WEEK - 2, WEEK)]
    for dimension in ("crash", "error", "all"):
        for low, high in [(first, last), (MONDAY, MONDAY + 2), (MONDAY + 1, MONDAY + 3)]:
            got = store.totals("argilla", dimension, low, high)
            want = naive(events + later, "argilla", dimension, low, high, per_day=False)
            assert by_key(got) == by_key(want), (dimension, low, high)


def test_a_range_read_is_one_snapshot_even_when_a_write_lands_midway(
    store: SyncStore, path: Path
) -> None:
    # Wednesday's crashes; nothing after them this week, so the week is read weekly.
    # A crash dated Friday that commits between the check and the bitmap read must
    # not be counted in a range ending Wednesday.
    store.write([_crash(f"i{n}", MONDAY + n % 3) for n in range(4)])
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    landed: list[str] = []

    def write_midway(sql: str) -> None:
        if "FROM rollup_bitmaps_weekly" in sql and not landed:
            landed.append(sql)
            store.write([_crash("late", MONDAY + 4)])

    conn.set_trace_callback(write_midway)
    try:
        rows = rollup(conn, "argilla", "crash", MONDAY, MONDAY + 2, per_day=False)
    finally:
        conn.close()
    assert landed
    assert [(r.events, r.installs) for r in rows] == [(4, 4)]
    assert [
        (r.events, r.installs) for r in store.totals("argilla", "crash", MONDAY, MONDAY + 4)
    ] == [(5, 5)]


def _weekly_and_daily_by_week(
    path: Path,
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        weekly = conn.execute(
            "SELECT app, dimension, week, value, events, amount FROM rollup_weekly "
            "ORDER BY app, dimension, week, value"
        ).fetchall()
        daily = conn.execute(
            "SELECT app, dimension, (day + 3) / 7 AS week, value, SUM(events), SUM(amount) "
            "FROM rollup_daily GROUP BY app, dimension, week, value "
            "ORDER BY app, dimension, week, value"
        ).fetchall()
    finally:
        conn.close()
    return weekly, daily


def test_the_weekly_sums_are_the_daily_sums_of_their_week(store: SyncStore, path: Path) -> None:
    # Five weeks of mixed events (amounts too) in batches that straddle weeks, a
    # retried batch, a forgotten install and retention: sums per week never drift.
    events = [
        dataclasses.replace(event, timestamp_ms=event.timestamp_ms + (n % 6) * 5 * MS_PER_DAY)
        for n, event in enumerate(make_events(1200))
    ]
    for start in range(0, len(events), 170):
        store.write(events[start : start + 170])
    store.write(events[100:400])
    store.forget("argilla", events[0].anonymous_id)
    store.apply_retention(10, now_ms=events[-1].timestamp_ms + 20 * MS_PER_DAY)
    weekly, daily = _weekly_and_daily_by_week(path)
    assert weekly == daily
    assert len({row[2] for row in weekly}) >= 5
    assert sum(int(str(row[5])) for row in weekly) > 0  # amounts are summed too


def test_whole_weeks_are_summed_from_weekly_rows_and_edges_from_daily_rows(
    store: SyncStore, path: Path
) -> None:
    # Crashes every day of three weeks; a range from last week's Thursday to next
    # week's Tuesday reads this week whole, and six edge days one by one.
    events = [_crash(f"i{n % 5}", MONDAY - 7 + n % 21) for n in range(63)]
    store.write(events)
    first, last = MONDAY - 4, MONDAY + 8
    assert _parts(path, "crash", first, last) == [
        ("week", WEEK, WEEK),
        ("day", first, MONDAY - 1),
        ("day", MONDAY + 7, last),
    ]
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        rows = rollup(conn, "argilla", "crash", first, last, per_day=False)
    finally:
        conn.close()
    want = naive(events, "argilla", "crash", first, last, per_day=False)
    assert by_key(rows) == by_key(want)
    sums = [sql for sql in statements if "SUM(events)" in sql]
    assert len(sums) == 1
    assert "FROM rollup_weekly WHERE" in sums[0]
    assert sums[0].count("FROM rollup_daily WHERE") == 2  # the two edges only
