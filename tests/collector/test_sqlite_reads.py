"""The SQLite store's range reads: which bitmap rows answer a range, and that the answer is exact.

An edge week is read from its weekly rows only when its days outside the range
hold no bitmap rows of the dimension read; otherwise from its daily rows. A read
is one snapshot, whatever commits while it runs.
"""

from __future__ import annotations

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
from tests.collector.test_store import by_key, naive

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


def _parts(path: Path, dimension: str, first: int, last: int) -> list[tuple[str, str, int, int]]:
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
        ("rollup_bitmaps_weekly", "week", WEEK, WEEK),
        ("rollup_bitmaps", "day", first, MONDAY - 1),
    ]
    # A row of another dimension on Friday does not matter; one of this dimension does.
    later = [_error("late", MONDAY + 4)]
    store.write(later)
    assert _parts(path, "crash", first, last)[0] == ("rollup_bitmaps_weekly", "week", WEEK, WEEK)
    # (No error was counted last week: that edge is widened, this week's is not.)
    assert _parts(path, "error", first, last) == [
        ("rollup_bitmaps_weekly", "week", WEEK - 1, WEEK - 1),
        ("rollup_bitmaps", "day", MONDAY, last),
    ]
    # A leading edge whose earlier days of the week hold no rows is widened too.
    assert _parts(path, "error", MONDAY - 13, MONDAY + 6) == [
        ("rollup_bitmaps_weekly", "week", WEEK - 2, WEEK)
    ]
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
