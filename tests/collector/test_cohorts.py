"""``Store.cohorts``: installs by first-seen week, identical on every store.

Each store is held to a naive count of the same events (first activity per
install over everything written, then the weeks each install was active in),
and to the SQLite store's answer, including after retention deleted the raw
events and after an install was forgotten.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from pigeon._wire import uuid7
from pigeon.collector.storage import CohortRow, StoredEvent, week_of
from pigeon.collector.storage._base import MS_PER_DAY
from tests.collector.conftest import SyncStore, url_for

MONDAY = (datetime.date(2024, 4, 1) - datetime.date(1970, 1, 1)).days
"""2024-04-01, a Monday: the data covers seven weeks from there (April and May)."""
WEEK0 = week_of(MONDAY)
WEEKS = 7


def cohort_events(seed: int = 3, installs: int = 40) -> list[StoredEvent]:
    """Installs of two apps that start in different weeks and come back now and then.

    Installs 0..9 report to both apps, first to ``labelbox`` (a week earlier),
    so the first week of an install depends on the app asked.
    """
    rng = random.Random(seed)
    events = []
    for install in range(installs):
        start = rng.randrange(WEEKS * 7 - 3)
        apps = ["argilla", "labelbox"] if install < 10 else [rng.choice(["argilla", "labelbox"])]
        for app in apps:
            first = start + (7 if app == "argilla" and install < 10 else 0)
            days = {first} | {d for d in range(first + 1, WEEKS * 7) if rng.random() < 0.15}
            for day in sorted(days):
                moment = (MONDAY + day) * MS_PER_DAY + rng.randrange(MS_PER_DAY)
                events.append(
                    StoredEvent(
                        uuid7(), app, "ServerStarted", f"install-{install}", moment, moment,
                        app_version="1.0.0", python_version="3.12.1", system="Linux",
                        release="6.1", machine="x86_64", platform="Linux-6.1",
                        library="pigeon/0.1.0", catalog_version="1",
                    )
                )  # fmt: skip
    return events


def naive(
    events: Iterable[StoredEvent], app: str | None, first_week: int, last_week: int
) -> list[CohortRow]:
    """The cohorts counted the slow way, from the events themselves."""
    weeks: dict[str, set[int]] = {}
    for event in events:
        if app is None or event.app == app:
            weeks.setdefault(event.anonymous_id, set()).add(week_of(event.day))
    rows = []
    for week in range(first_week, last_week + 1):
        members = [active for active in weeks.values() if min(active) == week]
        counts = tuple(
            sum(1 for active in members if later in active) for later in range(week, last_week + 1)
        )
        rows.append(CohortRow(week, len(members), counts))
    return rows


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[SyncStore]:
    """A SQLite store beside the store under test, fed the same events."""
    store = SyncStore(url_for("sqlite", tmp_path / "reference"))
    yield store
    store.close()


RANGES = [(WEEK0, WEEK0 + WEEKS - 1), (WEEK0 + 2, WEEK0 + 4), (WEEK0 + 6, WEEK0 + 8)]
"""The whole span; a middle slice (earlier weeks are history, not cohorts); the edge."""


def test_cohorts_match_a_naive_count_and_the_sqlite_store(
    store: SyncStore, reference: SyncStore
) -> None:
    events = cohort_events()
    store.write(events)
    reference.write(events)
    nonempty = 0
    for app in ("argilla", "labelbox", None):
        for first, last in RANGES:
            expected = naive(events, app, first, last)
            assert store.cohorts(app, first, last) == expected, (app, first, last)
            assert reference.cohorts(app, first, last) == expected
            nonempty += sum(1 for row in expected if row.size)
    assert nonempty > 10  # the data does exercise cohorts
    # Installs of both apps are counted once for all apps, in their earliest week.
    both = naive(events, None, WEEK0, WEEK0 + WEEKS - 1)
    per_app = [naive(events, app, WEEK0, WEEK0 + WEEKS - 1) for app in ("argilla", "labelbox")]
    assert sum(r.size for r in both) == 40 < sum(r.size for rows in per_app for r in rows)
    assert store.cohorts("nobody", WEEK0, WEEK0 + 1) == [
        CohortRow(WEEK0, 0, (0, 0)),
        CohortRow(WEEK0 + 1, 0, (0,)),
    ]
    assert store.cohorts(None, WEEK0 + 1, WEEK0) == []


def test_cohorts_outlive_the_raw_events(store: SyncStore) -> None:
    events = cohort_events(seed=4)
    store.write(events)
    before = {app: store.cohorts(app, WEEK0 + 1, WEEK0 + WEEKS) for app in ("argilla", None)}
    # Every raw event is older than the cutoff, whole months included (ClickHouse).
    now_ms = (MONDAY + 120) * MS_PER_DAY
    assert store.apply_retention(0, now_ms) == len(events)
    assert store.count() == 0
    for app, rows in before.items():
        # First activity still looks before the range: week WEEK0 is history, not dropped.
        assert store.cohorts(app, WEEK0 + 1, WEEK0 + WEEKS) == rows
        assert rows == naive(events, app, WEEK0 + 1, WEEK0 + WEEKS)


def test_a_forgotten_install_leaves_its_cohort(store: SyncStore, reference: SyncStore) -> None:
    events = cohort_events(seed=5)
    store.write(events)
    reference.write(events)
    gone = ("argilla", "install-3")  # also a labelbox install: it stays there
    for target in (store, reference):
        assert target.forget(*gone) > 0
    kept = [e for e in events if (e.app, e.anonymous_id) != gone]
    last = WEEK0 + WEEKS - 1
    for app in ("argilla", "labelbox", None):
        expected = naive(kept, app, WEEK0, last)
        assert store.cohorts(app, WEEK0, last) == expected
        assert reference.cohorts(app, WEEK0, last) == expected
    assert naive(kept, "argilla", WEEK0, last) != naive(events, "argilla", WEEK0, last)
