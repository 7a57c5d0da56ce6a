"""Every store against the Store contract: durable dedup, exact rollups, forget, retention.

The rollup numbers are checked against a naive count of the same events
through ``dimensions()``, the one definition all stores share.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from pigeon._wire import uuid7
from pigeon.catalog import PropertyValue
from pigeon.collector.storage import (
    RollupRow,
    StoreClosedError,
    StoredEvent,
    StoreError,
    WriteResult,
    open_store,
)
from pigeon.collector.storage._base import MS_PER_DAY
from pigeon.collector.storage._dimensions import DIMENSIONS, dimensions
from tests.collector.conftest import SyncStore, url_for

DAY0 = 19_800  # 2024-03-19
DAYS = 6

_AGENTS = ("Mozilla/5.0 Chrome/120.0", "argilla/1.29.0 python-requests/2.31", "curl/8.0", "")
_LANGUAGES = ("en-US,en;q=0.9", "de", "fr-FR", "", "*")


def make_events(count: int, seed: int = 1, installs: int = 12) -> list[StoredEvent]:
    """A mixed, reproducible set of events over two apps, several days and installs."""
    rng = random.Random(seed)
    events = []
    for _ in range(count):
        install = rng.randrange(installs)
        app = "argilla" if install % 4 else "other"
        day = DAY0 + rng.randrange(DAYS)
        kind = rng.randrange(6)
        props: dict[str, PropertyValue]
        if kind == 0:
            name, props = (
                "LogRecordsRequested",
                {
                    "task": rng.choice(["Text2Text", "TextClassification"]),
                    "records": rng.randrange(500),
                },
            )
        elif kind == 1:
            name, props = (
                "UserInfoRequested",
                {"user-agent": rng.choice(_AGENTS), "accept-language": rng.choice(_LANGUAGES)},
            )
        elif kind == 2:
            name, props = (
                "ServerErrorFound",
                {
                    "code": f"argilla.api.errors::E{rng.randrange(3)}",
                    "type": rng.choice(["Dataset", None]),
                },
            )
        elif kind == 3:
            name, props = (
                "TrainerUsage",
                {"framework": rng.choice(["setfit", "other"]), "task": "TextClassification"},
            )
        elif kind == 4:
            crash = rng.randrange(3)
            name, props = (
                "CrashReported",
                {
                    "exception": "KeyError",
                    "signature": f"{crash:016x}",
                    "frames": ("<other>", f"argilla.api:handler_{crash}:{rng.randrange(2, 4)}"),
                },
            )
        else:
            name, props = "ServerStarted", {}
        moment = day * MS_PER_DAY + rng.randrange(MS_PER_DAY)
        events.append(
            StoredEvent(
                uuid7(), app, name, f"install-{install}", moment, moment,
                app_version=f"1.{install % 3}.0", python_version=rng.choice(["3.11.7", "3.8.10"]),
                system="Linux" if install % 2 else "Windows", release="5.15", machine="x86_64",
                platform="Linux-5.15", library="pigeon/0.1.0", catalog_version="1",
                properties=props,
            )
        )  # fmt: skip
    return events


def naive(
    events: Iterable[StoredEvent],
    app: str | None,
    dimension: str,
    first: int,
    last: int,
    *,
    per_day: bool,
) -> list[RollupRow]:
    """What the store must answer, counted the slow way."""
    buckets: dict[tuple[int | None, str], tuple[int, int, set[str]]] = {}
    seen: set[str] = set()
    for event in events:
        if event.message_id in seen:
            continue
        seen.add(event.message_id)
        if (app is not None and event.app != app) or not first <= event.day <= last:
            continue
        for name, value, amount in dimensions(event):
            if name != dimension:
                continue
            key = (event.day if per_day else None, value)
            n, total, installs = buckets.get(key, (0, 0, set()))
            buckets[key] = (n + 1, total + amount, installs | {event.anonymous_id})
    return [
        RollupRow(day, value, n, total, len(ids))
        for (day, value), (n, total, ids) in buckets.items()
    ]


def by_key(rows: Sequence[RollupRow]) -> dict[tuple[int | None, str], RollupRow]:
    return {(row.day, row.value): row for row in rows}


def test_write_stores_each_message_id_once(store: SyncStore) -> None:
    events = make_events(50)
    assert store.write(events[:30]) == WriteResult(stored=30, duplicates=0)
    # A retried batch (20 already stored) and a duplicate inside the batch itself.
    assert store.write([*events[10:50], events[49]]) == WriteResult(stored=20, duplicates=21)
    assert store.write([]) == WriteResult(stored=0, duplicates=0)
    assert store.count() == 50
    assert store.count("other") == sum(e.app == "other" for e in events)


def test_concurrent_writes_share_transactions_and_dedup_across_them(store: SyncStore) -> None:
    events = make_events(400)
    batches = [events[i : i + 40] for i in range(0, 400, 40)]
    batches.append(events[35:45])  # overlaps two other concurrent batches
    results = store.run_many(batches)
    assert sum(r.stored for r in results) == 400
    assert sum(r.duplicates for r in results) == 10
    assert all(r.stored + r.duplicates == len(b) for r, b in zip(results, batches, strict=True))
    assert store.count() == 400


@pytest.mark.parametrize("app", ["argilla", None])
def test_series_and_totals_are_exact(store: SyncStore, app: str | None) -> None:
    events = make_events(1500)
    for start in range(0, len(events), 170):
        store.write(events[start : start + 170])
    store.write(events[:300])  # a retry must change nothing
    for dimension in DIMENSIONS:
        first, last = DAY0 + 1, DAY0 + DAYS - 2
        expected = naive(events, app, dimension, first, last, per_day=True)
        got = store.series(app, dimension, first, last)
        assert by_key(got) == by_key(expected), dimension
        assert [(r.day, r.value) for r in got] == sorted((r.day, r.value) for r in got)
        expected_totals = naive(events, app, dimension, DAY0, DAY0 + DAYS, per_day=False)
        totals = store.totals(app, dimension, DAY0, DAY0 + DAYS)
        assert by_key(totals) == by_key(expected_totals), dimension
        assert [r.events for r in totals] == sorted((r.events for r in totals), reverse=True)


def test_distinct_installs_over_a_range_are_not_a_sum_of_days(store: SyncStore) -> None:
    def event(install: str, day: int) -> StoredEvent:
        moment = day * MS_PER_DAY + 1000
        return StoredEvent(uuid7(), "argilla", "ServerStarted", install, moment, moment)

    # a: days 0,1,2; b: days 0,2; c: day 1. Per day 2,2,2 installs; over the range 3.
    store.write([event("a", DAY0), event("b", DAY0), event("a", DAY0 + 1), event("c", DAY0 + 1)])
    store.write([event("a", DAY0 + 2), event("b", DAY0 + 2), event("b", DAY0 + 2)])
    series = store.series("argilla", "all", DAY0, DAY0 + 2)
    assert [(r.day, r.events, r.installs) for r in series] == [
        (DAY0, 2, 2),
        (DAY0 + 1, 2, 2),
        (DAY0 + 2, 3, 2),
    ]
    assert store.totals("argilla", "all", DAY0, DAY0 + 2) == [RollupRow(None, "", 7, 0, 3)]
    assert store.totals("argilla", "all", DAY0 + 1, DAY0 + 2) == [RollupRow(None, "", 5, 0, 3)]
    assert store.totals("argilla", "all", DAY0 + 3, DAY0 + 9) == []
    assert store.series("nobody", "all", DAY0, DAY0 + 2) == []
    assert store.apps() == ["argilla"]


@pytest.mark.parametrize("app", ["argilla", None])
def test_sums_and_distinct_installs_of_some_values_agree_with_totals(
    store: SyncStore, app: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pigeon.collector.storage import _sqlite_reads

    monkeypatch.setattr(_sqlite_reads, "_VALUES_PER_QUERY", 2)  # several queries per part
    # Two apps share installs (app=None counts each once); ranges start and end on
    # every weekday, so the SQLite store reads edge days as well as whole weeks.
    events = make_events(1500)
    events += [dataclasses.replace(e, message_id=uuid7(), app="other") for e in events[::3]]
    store.write(events)
    rng = random.Random(3)
    ranges = [(DAY0 - 6 + a, DAY0 - 6 + a + n) for a in range(7) for n in (0, 2, 6, 11)]
    for dimension in ("version", "error", "agent", "bulk_task", "all"):
        for first, last in ranges:
            expected = naive(events, app, dimension, first, last, per_day=False)
            sums = store.sums(app, dimension, first, last)
            assert {(r.value, r.events, r.amount) for r in sums} == {
                (r.value, r.events, r.amount) for r in expected
            }, (dimension, first, last)
            assert [(-r.events, r.value) for r in sums] == sorted(
                (-r.events, r.value) for r in sums
            )
            some = [r.value for r in expected if rng.random() < 0.5]
            got = store.distinct_installs(app, dimension, first, last, [*some, "never seen"])
            assert got == {r.value: r.installs for r in expected if r.value in some}, (
                dimension,
                first,
                last,
            )
    assert store.distinct_installs(app, "version", DAY0, DAY0 + DAYS, []) == {}
    assert store.sums("nobody", "version", DAY0, DAY0 + DAYS) == []
    assert store.sums(app, "version", DAY0 + 1, DAY0) == []


def test_forget_deletes_raw_events_and_install_rows_but_keeps_counts(store: SyncStore) -> None:
    events = make_events(300)
    store.write(events)
    target = events[0]
    mine = [e for e in events if e.anonymous_id == target.anonymous_id and e.app == target.app]
    before = store.totals(target.app, "all", DAY0, DAY0 + DAYS)[0]
    assert store.forget(target.app, target.anonymous_id) == len(mine)
    assert store.count() == 300 - len(mine)
    after = store.totals(target.app, "all", DAY0, DAY0 + DAYS)[0]
    assert after.events == before.events  # anonymous aggregate counts stay
    assert after.installs == before.installs - 1
    assert store.forget(target.app, target.anonymous_id) == 0
    # The install comes back (a new event after forget): its install row is written again.
    again = StoredEvent(
        uuid7(),
        target.app,
        "ServerStarted",
        target.anonymous_id,
        target.timestamp_ms,
        target.timestamp_ms,
    )
    store.write([again])
    assert store.totals(target.app, "all", DAY0, DAY0 + DAYS)[0].installs == before.installs


@pytest.fixture
def day_exact_store(tmp_path: Path) -> Iterator[SyncStore]:
    """A store whose retention is exact to the day (SQLite; ClickHouse drops whole months,
    which the month-boundary test below covers for every store)."""
    store = SyncStore(url_for("sqlite", tmp_path))
    yield store
    store.close()


def test_retention_deletes_old_raw_events_and_keeps_rollups(
    day_exact_store: SyncStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = day_exact_store
    from pigeon.collector.storage import _sqlite

    monkeypatch.setattr(_sqlite, "RETENTION_CHUNK", 7)  # several transactions
    events = make_events(200)
    store.write(events)
    rollups = store.totals(None, "event", DAY0, DAY0 + DAYS)
    now_ms = (DAY0 + DAYS + 1) * MS_PER_DAY + 5
    # Keep the last 3 days before "now": days DAY0+4 .. DAY0+6.
    old = [e for e in events if e.day < DAY0 + DAYS + 1 - 3]
    assert store.apply_retention(3, now_ms) == len(old)
    assert store.count() == 200 - len(old)
    assert store.totals(None, "event", DAY0, DAY0 + DAYS) == rollups
    assert store.apply_retention(3, now_ms) == 0
    with pytest.raises(ValueError, match="retention"):
        store.apply_retention(-1)


def test_retention_at_a_month_boundary_is_the_same_for_every_store(
    store: SyncStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pigeon.collector.storage import _sqlite

    monkeypatch.setattr(_sqlite, "RETENTION_CHUNK", 7)  # several transactions
    old = make_events(200)  # March 2024
    recent = [  # April 2024
        dataclasses.replace(e, message_id=uuid7(), timestamp_ms=e.timestamp_ms + 14 * MS_PER_DAY)
        for e in make_events(60, seed=2)
    ]
    store.write(old + recent)
    rollups = store.totals(None, "event", DAY0, DAY0 + 30)
    april_1 = (datetime.date(2024, 4, 1) - datetime.date(1970, 1, 1)).days
    # A cutoff on the first day of a month: "older than the cutoff" is then the same
    # for stores that delete by day (SQLite) and by whole month (ClickHouse).
    now_ms = (april_1 + 10) * MS_PER_DAY + 5
    assert store.apply_retention(10, now_ms) == len(old)
    assert store.count() == len(recent)
    assert store.totals(None, "event", DAY0, DAY0 + 30) == rollups
    assert store.apply_retention(10, now_ms) == 0


def test_data_survives_closing_and_reopening(store: SyncStore) -> None:
    events = make_events(120)
    store.write(events)
    totals = store.totals(None, "version", DAY0, DAY0 + DAYS)
    store.close()
    reopened = SyncStore(store.url)
    try:
        assert reopened.count() == 120
        assert reopened.totals(None, "version", DAY0, DAY0 + DAYS) == totals
        assert reopened.write(events[:5]) == WriteResult(stored=0, duplicates=5)
    finally:
        reopened.close()


def test_a_closed_store_refuses_work(store_url: str) -> None:
    opened = SyncStore(store_url)
    opened.close()
    with pytest.raises(StoreClosedError):
        asyncio.run(opened.store.write(make_events(1)))
    with pytest.raises(StoreClosedError):
        asyncio.run(opened.store.count_events())


def test_bad_sqlite_locations_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    for url in (
        "sqlite://",
        "sqlite:///",
        "sqlite:///:memory:",
        f"sqlite:///{tmp_path}/x.db?journal=off",
        "mysql://x",
        "nothing",
    ):
        with pytest.raises(StoreError):
            open_store(url)
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match="cannot open"):
        open_store(f"sqlite:///{tmp_path / 'dir.db'}")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot open"):
        open_store(f"sqlite:///{tmp_path / 'file' / 'x.db'}")


def test_a_store_written_by_another_layout_version_is_refused(tmp_path: Path) -> None:
    import sqlite3

    url = f"sqlite:///{tmp_path / 'p.db'}"
    SyncStore(url).close()
    conn = sqlite3.connect(tmp_path / "p.db")
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    with pytest.raises(StoreError, match="layout 99 was written by a newer pigeon"):
        open_store(url)
    conn.execute("UPDATE meta SET value = 'x1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="layout 'x1' was not written by any pigeon release"):
        open_store(url)


def test_a_true_property_is_not_counted_as_the_integer_1(store: SyncStore) -> None:
    # True == 1 in Python: a memo keyed on property values alone would give both
    # events the buckets of whichever came first.
    def bulk(records: PropertyValue) -> StoredEvent:
        moment = DAY0 * MS_PER_DAY + 1000
        props: dict[str, PropertyValue] = {"task": "TextClassification", "records": records}
        return StoredEvent(uuid7(), "argilla", "LogRecordsRequested", "i", moment, moment,
                           properties=props)  # fmt: skip

    events = [bulk(True), bulk(1), bulk(True), bulk(1)]
    store.write(events)
    expected = naive(events, "argilla", "bulk_task", DAY0, DAY0, per_day=False)
    assert expected == [RollupRow(None, "TextClassification", 4, 2, 1)]
    assert store.totals("argilla", "bulk_task", DAY0, DAY0) == expected


def test_distinct_installs_are_exact_over_any_range_and_after_forget(store: SyncStore) -> None:
    # Ranges starting and ending on every weekday, inside a week and across
    # several: distinct installs over a range must never depend on how the
    # store splits it (whole weeks and edge days, in the SQLite store).
    rng = random.Random(7)
    events = []
    for install in range(40):
        for _ in range(25):
            day = DAY0 - 3 + rng.randrange(30)
            moment = day * MS_PER_DAY + rng.randrange(MS_PER_DAY)
            owner = "argilla" if install % 5 else "other"
            version = f"1.{rng.randrange(3)}.0"
            events.append(StoredEvent(uuid7(), owner, "ServerStarted", f"i{install}", moment,
                                      moment, app_version=version))  # fmt: skip
    store.write(events)
    store.forget("argilla", "i1")
    store.forget("other", "i5")
    kept = [e for e in events if e.anonymous_id not in ("i1", "i5")]
    ranges = [(DAY0 - 3 + a, DAY0 - 3 + a + n) for a in range(8) for n in (0, 3, 6, 7, 13, 21)]
    apps: tuple[str | None, ...] = ("argilla", None)
    for app in apps:
        for first, last in ranges:
            got = by_key(store.totals(app, "version", first, last))
            want = by_key(naive(kept, app, "version", first, last, per_day=False))
            assert {k: r.installs for k, r in got.items()} == {
                k: r.installs for k, r in want.items()
            }, (app, first, last)
        series = store.series(app, "version", DAY0 - 3, DAY0 + 27)
        expected = naive(kept, app, "version", DAY0 - 3, DAY0 + 27, per_day=True)
        assert {k: r.installs for k, r in by_key(series).items()} == {
            k: r.installs for k, r in by_key(expected).items()
        }, app


def test_a_read_only_store_reads_and_never_creates_or_writes(tmp_path: Path) -> None:
    path = tmp_path / "data" / "p.db"
    with pytest.raises(StoreError, match="no store at"):
        open_store(f"sqlite:///{path}", read_only=True)
    assert not path.parent.exists()
    writer = SyncStore(f"sqlite:///{path}")
    events = make_events(50)
    writer.write(events)
    writer.close()
    reader = asyncio.Runner()
    store = open_store(f"sqlite:///{path}", read_only=True)
    try:
        totals = reader.run(store.totals("argilla", "all", DAY0, DAY0 + DAYS))
        assert totals == naive(events, "argilla", "all", DAY0, DAY0 + DAYS, per_day=False)
        with pytest.raises(StoreError, match="read-only"):
            reader.run(store.write(make_events(1, seed=2)))
        with pytest.raises(StoreError, match="read-only"):
            reader.run(store.forget("argilla", events[0].anonymous_id))
        assert reader.run(store.count_events()) == 50
    finally:
        reader.run(store.close())
        reader.close()


def test_a_damaged_store_of_the_previous_layout_is_refused_and_left_alone(
    tmp_path: Path,
) -> None:
    import sqlite3

    # Layout 1 by its version, but without its tables: the migration fails
    # half-way and must leave the file as it was (tests/collector/migrations
    # has the real layout-1 stores, which migrate).
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.commit()
    conn.close()
    expected = {False: r"cannot back up .*\(the store is unchanged\)", True: "pigeon migrate"}
    for read_only, message in expected.items():
        with pytest.raises(StoreError, match=message) as info:
            open_store(f"sqlite:///{path}", read_only=read_only)
        assert str(path) in str(info.value)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    version = conn.execute("SELECT value FROM meta").fetchall()
    conn.close()
    assert tables == {"meta"}
    assert version == [("1",)]


def test_rollup_aggregation_stays_exact_when_its_memo_forgets_mid_batch() -> None:
    from pigeon.collector.storage._sqlite_rollups import BucketMemo, InstallCache, rollup_delta

    # More distinct signatures (records vary) than the memo holds: it forgets
    # entries while one batch is aggregated, and every count must still be exact.
    events = make_events(600, seed=3)
    delta = rollup_delta(events, InstallCache(), BucketMemo(capacity=5))
    expected: dict[tuple[str, str, int, str], list[int]] = {}
    for event in events:
        for dimension, value, amount in dimensions(event):
            totals = expected.setdefault((event.app, dimension, event.day, value), [0, 0])
            totals[0] += 1
            totals[1] += amount
    assert delta.daily == expected


def test_each_commit_is_told_to_the_observer(store: SyncStore) -> None:
    commits: list[tuple[int, float]] = []
    store.store.observe_commits(lambda events, seconds: commits.append((events, seconds)))
    events = make_events(30)
    store.run_many([events[:10], events[10:25]])
    store.write(events[20:30])  # five already stored: a commit holds them all the same
    assert sum(n for n, _ in commits) == 35
    assert all(seconds >= 0 for _, seconds in commits)
    assert 2 <= len(commits) <= 3  # concurrent writes may share one commit
    store.store.observe_commits(None)
    store.write(make_events(5, seed=2))
    assert sum(n for n, _ in commits) == 35


def test_a_frames_list_is_stored_counted_retained_and_forgotten(store: SyncStore) -> None:
    # A tuple property (CrashReported.frames) goes through every store's writer,
    # rollups, forget and retention like any other value.
    frames = ("<other>", "argilla_server.api:list_records:140", "argilla_server.store:sort:52")
    moment = DAY0 * MS_PER_DAY
    events = [
        StoredEvent(
            uuid7(), "argilla", "CrashReported", f"crash-{i}", moment, moment,
            app_version="1.29.0", python_version="3.11.7", system="Linux", release="5.15",
            machine="x86_64", platform="Linux-5.15", library="pigeon/0.1.0",
            catalog_version="2",
            properties={"exception": "KeyError", "frames": frames, "signature": "0" * 16},
        )
        for i in range(3)
    ]  # fmt: skip
    assert store.write(events).stored == 3
    assert store.write(events).stored == 0  # still de-duplicated
    assert store.count("argilla") == 3
    assert store.totals("argilla", "all", DAY0, DAY0)[0].events == 3
    assert store.forget("argilla", "crash-0") == 1
    store.apply_retention(1, moment + 100 * MS_PER_DAY)  # ClickHouse drops whole months
    assert store.count("argilla") == 0
