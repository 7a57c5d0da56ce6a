"""The ClickHouse store on real engines: Debian's server (18.16) and chdb (current release).

Every test here runs on both engines, so the layout and every query are proven on
the oldest server pigeon supports and on a current one. The numbers are checked
against a naive count of the same events through ``dimensions()``, the definition
both stores share (the SQLite store is held to the same count by its own tests;
tests/collector/test_clickhouse_collectors.py compares the two stores end to end).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from pigeon.catalog import PropertyValue
from pigeon.collector.storage import RollupRow, Store, StoredEvent, StoreError
from pigeon.collector.storage._base import MS_PER_DAY
from pigeon.collector.storage._dimensions import DIMENSIONS, dimensions
from pigeon.collector.storage._installs import install_key
from pigeon.collector.storage.clickhouse import (
    SCHEMA_TABLES,
    ClickHouseStore,
    Connect,
    Connection,
    native_connect,
    parse_clickhouse_url,
)
from pigeon.collector.storage.clickhouse._sql import SqlValue
from pigeon.demo._processes import free_port
from tests._clickhouse import TEST_FLUSH_INTERVAL, ServerAddress, drop_database

FIRST_DAY = (datetime.date(2024, 5, 20) - datetime.date(1970, 1, 1)).days
"""The data spans 2024-05-20 .. 2024-06-18: two monthly partitions."""
DAYS = 30


@dataclass
class Engine:
    """A fresh database on one engine, and how to connect to it."""

    kind: str
    connect: Connect
    database: str
    options: dict[str, Any] = field(default_factory=dict)

    def store(self, connect: Connect | None = None, **options: Any) -> ClickHouseStore:
        """A store on this engine's database (through ``connect`` when given)."""
        options = {"flush_interval": TEST_FLUSH_INTERVAL, **self.options, **options}
        return ClickHouseStore(connect or self.connect, self.database, **options)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            return conn.query(sql.format(db=f"`{self.database}`"))
        finally:
            conn.close()

    def rows_per_shard(self, table: str) -> list[int]:
        """Rows of a cluster table's local part on each shard."""
        ports = self.query("SELECT port FROM system.clusters WHERE cluster = 'pigeon'")
        counts = []
        for (port,) in ports:
            conn = self.options["node_connect"]("127.0.0.1", port)()
            try:
                counts.append(
                    conn.query(f"SELECT count() FROM `{self.database}`.{table}_local")[0][0]
                )
            finally:
                conn.close()
        return counts


@pytest.fixture(params=["clickhouse-18.16", "chdb", "cluster-2-shards"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A fresh database on Debian's server, on chdb, and over a cluster of two shards."""
    if request.param == "chdb":
        connect, database = request.getfixturevalue("chdb_connect")
        yield Engine("chdb", connect, database)
        return
    if request.param == "cluster-2-shards":
        urls: list[str] = request.getfixturevalue("clickhouse_cluster_urls")
        location = parse_clickhouse_url(urls[0])

        def node_connect(host: str, port: int) -> Connect:
            return native_connect(dataclasses.replace(location, host=host, port=port))

        options = {"cluster": location.cluster, "node_connect": node_connect}
        yield Engine("cluster", native_connect(location), location.database, options)
        return
    address: ServerAddress = request.getfixturevalue("clickhouse_server")
    database = f"pigeon_test_{uuid.uuid4().hex[:12]}"
    yield Engine("server", native_connect(parse_clickhouse_url(address.url(database))), database)
    drop_database(address, database)


@pytest.fixture
def stores() -> Iterator[list[Store]]:
    """Stores a test opens; all closed after it."""
    opened: list[Store] = []
    yield opened

    async def close_all() -> None:
        for store in opened:
            await store.close()

    asyncio.run(close_all())


# -- data ------------------------------------------------------------------------

_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 AppleWebKit/537.36 Chrome/125.0 Safari/537.36 Edg/125.0",
    "python-requests/2.32",
    "argilla/1.29.0 python-httpx/0.27",
    "",
)
_LANGUAGES = ("de-DE,de;q=0.9", "en-US", "fr", "*", "", "x-123")


def _properties(rng: random.Random, name: str) -> dict[str, PropertyValue]:
    if name == "ServerErrorFound":
        return {
            "code": rng.choice(["E::NotFound", "E::Forbidden", None, 7]),
            "type": rng.choice(["Dataset", "", None, True]),
        }
    if name == "LogRecordsRequested":
        # True == 1 in Python, but counts no records: the stores must agree on that.
        return {"task": rng.choice(["TextClassification", "TokenClassification", None]),
                "records": rng.choice([1, 10, 250, True, None])}  # fmt: skip
    if name == "TrainerUsage":
        return {"framework": rng.choice(["transformers", "setfit", None, 1, True]),
                "task": rng.choice(["TextClassification", ""])}  # fmt: skip
    if name == "UserInfoRequested":
        return {"user-agent": rng.choice(_AGENTS), "accept-language": rng.choice(_LANGUAGES)}
    if name == "CrashReported":
        line = rng.randrange(10, 12)  # one signature, several stacks
        frames = rng.choice([("<other>", f"argilla.api:get:{line}"), "not frames", None])
        return {"exception": rng.choice(["KeyError", None]),
                "signature": rng.choice(["00000000000000aa", "", None]),
                "frames": frames}  # fmt: skip
    return {}


def mixed_events(seed: int, count: int, installs: int = 40) -> list[StoredEvent]:
    """Events of two apps over ``DAYS`` days, touching every dimension."""
    rng = random.Random(seed)
    names = ("ServerStarted", "ServerErrorFound", "LogRecordsRequested", "TrainerUsage",
             "UserInfoRequested", "CrashReported")  # fmt: skip
    events = []
    for _ in range(count):
        install = rng.randrange(installs)
        name = rng.choice(names)
        ts = (FIRST_DAY + rng.randrange(DAYS)) * MS_PER_DAY + rng.randrange(MS_PER_DAY)
        events.append(
            StoredEvent(
                message_id=str(uuid.UUID(int=rng.getrandbits(128))),
                app="argilla" if install % 4 else "labelbox",
                event=name,
                anonymous_id=f"install-{install}",
                timestamp_ms=ts,
                received_ms=ts + 5,
                app_version=rng.choice(["1.28.0", "1.29.0", ""]),
                python_version=rng.choice(["3.11.9", "3.12.3"]),
                system=rng.choice(["Linux", "Darwin", ""]),
                release="6.1",
                machine=rng.choice(["x86_64", "arm64"]),
                platform="Linux-6.1-x86_64",
                library=rng.choice(["pigeon/0.1.0", "analytics-python/2.3.0"]),
                catalog_version="1",
                properties=_properties(rng, name),
            )
        )
    return events


async def snapshot(store: Store, apps: Sequence[str | None]) -> dict[str, Any]:
    """Everything the read side can ask of a store, for comparison."""
    out: dict[str, Any] = {"apps": await store.apps()}
    last = FIRST_DAY + DAYS - 1
    for app in apps:
        out[f"count/{app}"] = await store.count_events(app)
        for dimension in DIMENSIONS:
            for first, end in ((FIRST_DAY, last), (FIRST_DAY + 12, FIRST_DAY + 14)):
                key = f"{app}/{dimension}/{first}-{end}"
                out[f"series/{key}"] = await store.series(app, dimension, first, end)
                out[f"totals/{key}"] = await store.totals(app, dimension, first, end)
    return out


def reference_snapshot(batches: Sequence[Sequence[StoredEvent]]) -> dict[str, Any]:
    """What a store must answer, counted naively from :func:`dimensions` (first copy wins)."""
    kept: dict[str, StoredEvent] = {}
    for batch in batches:
        for event in batch:
            kept.setdefault(event.message_id, event)
    # (app, dimension, day, value) -> [events, amount, installs]
    buckets: dict[tuple[str, str, int, str], list[Any]] = {}
    for event in kept.values():
        for dimension, value, amount in dimensions(event):
            cell = buckets.setdefault((event.app, dimension, event.day, value), [0, 0, set()])
            cell[0] += 1
            cell[1] += amount
            cell[2].add(install_key(event.anonymous_id))

    def rows(
        app: str | None, dimension: str, first: int, end: int, per_day: bool
    ) -> list[RollupRow]:
        merged: dict[tuple[int | None, str], list[Any]] = {}
        for (b_app, b_dim, b_day, value), (n, amount, installs) in buckets.items():
            if b_dim == dimension and first <= b_day <= end and app in (None, b_app):
                cell = merged.setdefault((b_day if per_day else None, value), [0, 0, set()])
                cell[0] += n
                cell[1] += amount
                cell[2] |= installs
        out = [RollupRow(d, v, n, a, len(i)) for (d, v), (n, a, i) in merged.items()]
        if per_day:
            return sorted(out, key=lambda r: (r.day, r.value))
        return sorted(out, key=lambda r: (-r.events, r.value))

    out: dict[str, Any] = {"apps": sorted({e.app for e in kept.values()})}
    last = FIRST_DAY + DAYS - 1
    for app in (None, "argilla", "labelbox"):
        out[f"count/{app}"] = sum(app in (None, e.app) for e in kept.values())
        for dimension in DIMENSIONS:
            for first, end in ((FIRST_DAY, last), (FIRST_DAY + 12, FIRST_DAY + 14)):
                key = f"{app}/{dimension}/{first}-{end}"
                out[f"series/{key}"] = rows(app, dimension, first, end, True)
                out[f"totals/{key}"] = rows(app, dimension, first, end, False)
    return out


def total(rows: list[RollupRow]) -> tuple[int, int, int]:
    assert len(rows) == 1
    return rows[0].events, rows[0].amount, rows[0].installs


# -- tests -------------------------------------------------------------------------


def test_layout_is_created_by_the_first_collector_and_reused(
    engine: Engine, stores: list[Store]
) -> None:
    stores.append(engine.store())
    stores.append(engine.store())  # a second collector starting against the same database
    tables = {
        row[0]: row[1]
        for row in engine.query(
            f"SELECT name, engine FROM system.tables WHERE database = '{engine.database}'"
        )
    }
    assert set(SCHEMA_TABLES) <= set(tables)
    local = "_local" if engine.kind == "cluster" else ""
    assert tables[f"events{local}"] == "ReplacingMergeTree"
    assert tables[f"rollup_daily{local}"] == "SummingMergeTree"
    assert tables[f"events_input{local}"] == "Null"
    assert sum(kind == "MaterializedView" for kind in tables.values()) == 4
    if local:  # pigeon's names are Distributed tables over every shard's local ones
        assert {tables[name] for name in SCHEMA_TABLES} == {"Distributed"}


def test_every_dimension_counts_what_dimensions_says(engine: Engine, stores: list[Store]) -> None:
    events = mixed_events(seed=1, count=600)
    # Retries: a whole batch again, and ids repeated inside and across batches.
    batches = [events[:250], events[250:], events[100:300], events[590:] + events[590:]]
    expected = reference_snapshot(batches)
    store = engine.store()
    stores.append(store)

    async def run() -> dict[str, Any]:
        for batch in batches:
            await store.write(batch)
        return await snapshot(store, [None, "argilla", "labelbox"])

    got = asyncio.run(run())
    assert got["count/None"] == 600
    if engine.kind == "cluster":  # the events really are spread over both shards
        assert all(rows > 100 for rows in engine.rows_per_shard("message_copies"))
    assert got["apps"] == ["argilla", "labelbox"]
    mismatched = [key for key in expected if got[key] != expected[key]]
    assert not mismatched, (mismatched[:5], got[mismatched[0]] if mismatched else None)


def test_concurrent_writes_share_an_insert_that_precedes_every_answer(
    engine: Engine, stores: list[Store]
) -> None:
    events = mixed_events(seed=2, count=400)
    store = engine.store(flush_interval=0.5)
    observer = engine.store()
    stores.extend([store, observer])

    async def run() -> tuple[list[int], int]:
        results = await asyncio.gather(
            *(store.write(events[i : i + 10]) for i in range(0, 400, 10))
        )
        # Another connection sees every event the moment the writes returned.
        return [r.stored for r in results], await observer.count_events()

    stored, visible = asyncio.run(run())
    assert stored == [10] * 40
    assert visible == 400
    assert store.inserts <= 3  # 40 requests: the first may go alone, the rest wait and share


def test_retried_batches_are_duplicates(engine: Engine, stores: list[Store]) -> None:
    events = mixed_events(seed=3, count=50)
    store = engine.store()
    stores.append(store)
    last = FIRST_DAY + DAYS - 1

    async def run() -> None:
        first = await store.write(events)
        again = await store.write(events)
        both = await asyncio.gather(store.write(events[:10] * 2), store.write(events[5:15]))
        assert (first.stored, first.duplicates) == (50, 0)
        assert (again.stored, again.duplicates) == (0, 50)
        assert [(r.stored, r.duplicates) for r in both] == [(0, 20), (0, 10)]
        assert await store.count_events() == 50
        assert total(await store.totals(None, "all", FIRST_DAY, last))[0] == 50

    asyncio.run(run())


class BlindConnection:
    """A connection that sees no stored copies at first: a collector that checked for
    duplicates just before another collector's insert of the same ids landed."""

    def __init__(self, inner: Connection, *, fail_corrections: bool = False) -> None:
        self.inner = inner
        self.fail_corrections = fail_corrections
        self.lookups = 0

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if "message_copies" in sql:
            self.lookups += 1
            if self.lookups == 1:
                return []
        return self.inner.query(sql)

    def command(self, sql: str) -> None:
        self.inner.command(sql)

    def insert(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[SqlValue, ...]]
    ) -> None:
        if self.fail_corrections and "rollup_corrections" in table:
            raise ConnectionError("connection lost before the correction")
        self.inner.insert(table, columns, rows)

    def close(self) -> None:
        self.inner.close()


def test_two_collectors_racing_on_the_same_ids_count_them_once(
    engine: Engine, stores: list[Store]
) -> None:
    events = mixed_events(seed=4, count=300)
    expected = reference_snapshot([events])
    first = engine.store()
    second = engine.store(connect=lambda: BlindConnection(engine.connect()))
    stores.extend([first, second])

    async def run() -> dict[str, Any]:
        assert (await first.write(events)).stored == 300
        # The second collector missed the first one's insert and stores every id again...
        assert (await second.write(events)).stored == 300
        return await snapshot(first, [None, "argilla", "labelbox"])

    got = asyncio.run(run())
    # ...both copies are in the raw table and the views counted both, yet:
    copies = engine.query("SELECT sum(copies) FROM {db}.message_copies")[0][0]
    assert copies == 600
    assert engine.query("SELECT count() FROM {db}.rollup_corrections")[0][0] > 0
    mismatched = [key for key in expected if got[key] != expected[key]]
    assert not mismatched, mismatched[:5]


def test_a_lost_correction_is_restored_when_the_client_retries(
    engine: Engine, stores: list[Store]
) -> None:
    events = mixed_events(seed=5, count=40)
    first = engine.store()
    broken = engine.store(connect=lambda: BlindConnection(engine.connect(), fail_corrections=True))
    stores.extend([first, broken])
    last = FIRST_DAY + DAYS - 1

    async def run() -> None:
        await first.write(events)
        with pytest.raises(StoreError, match="could not store the events: connection lost"):
            await broken.write(events)  # inserted a second copy, lost the correction: 503
        assert total(await first.totals(None, "all", FIRST_DAY, last))[0] == 80  # over-counted
        retried = await first.write(events)  # the client retries the batch it got a 503 for
        assert retried.duplicates == 40
        assert total(await first.totals(None, "all", FIRST_DAY, last))[0] == 40

    asyncio.run(run())


def test_forget_deletes_raw_events_and_install_rows(engine: Engine, stores: list[Store]) -> None:
    events = mixed_events(seed=6, count=300, installs=10)
    store = engine.store()
    stores.append(store)
    last = FIRST_DAY + DAYS - 1
    mine = [e for e in events if e.anonymous_id == "install-1"]
    theirs = [e for e in events if e.anonymous_id == "install-2"]
    assert mine
    assert theirs
    assert {e.app for e in mine + theirs} == {"argilla"}

    async def run() -> None:
        await store.write(events)
        before = await store.totals("argilla", "all", FIRST_DAY, last)
        deleted = await asyncio.gather(
            store.forget("argilla", "install-1"),
            store.forget("argilla", "install-2"),
            store.forget("labelbox", "install-1"),  # not an install of that app
        )
        assert list(deleted) == [len(mine), len(theirs), 0]
        assert await store.count_events() == 300 - len(mine) - len(theirs)
        after = await store.totals("argilla", "all", FIRST_DAY, last)
        assert after[0].events == before[0].events  # aggregate counts stay
        assert after[0].installs == before[0].installs - 2
        assert await store.forget("argilla", "install-1") == 0

    asyncio.run(run())


def test_retention_drops_whole_months_and_keeps_rollups(
    engine: Engine, stores: list[Store]
) -> None:
    events = mixed_events(seed=7, count=200)
    june_1 = (datetime.date(2024, 6, 1) - datetime.date(1970, 1, 1)).days
    may = [e for e in events if e.timestamp_ms // MS_PER_DAY < june_1]
    june = len(events) - len(may)
    assert may
    assert june
    store = engine.store()
    stores.append(store)
    last = FIRST_DAY + DAYS - 1
    july_10 = (datetime.date(2024, 7, 10) - datetime.date(1970, 1, 1)).days * MS_PER_DAY

    async def run() -> None:
        await store.write(events)
        before = await store.series(None, "event", FIRST_DAY, last)
        # Cutoff June 10: May is entirely older and goes; June is only partly older: kept.
        assert await store.apply_retention(30, now_ms=july_10) == len(may)
        assert await store.count_events() == june
        assert await store.series(None, "event", FIRST_DAY, last) == before
        assert await store.apply_retention(30, now_ms=july_10) == 0
        # Dedup memory goes with the raw events (as in SQLite): May's ids can come back.
        assert (await store.write(may[:3])).stored == 3
        with pytest.raises(ValueError, match="retention"):
            await store.apply_retention(-1)

    asyncio.run(run())


def test_close_inserts_what_is_queued(engine: Engine, stores: list[Store]) -> None:
    events = mixed_events(seed=8, count=30)
    store = engine.store(flush_interval=30.0)
    stores.append(store)

    async def run() -> list[int]:
        await store.write(events[:1])  # the next insert may only start 30 s later...
        pending = [asyncio.ensure_future(store.write(events[i : i + 10])) for i in (1, 11, 21)]
        await asyncio.sleep(0.05)
        await store.close()  # ...but closing sends it at once
        return [r.stored for r in await asyncio.gather(*pending)]

    assert asyncio.run(run()) == [10, 10, 9]
    reopened = engine.store()
    stores.append(reopened)
    assert asyncio.run(reopened.count_events()) == 30


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(StoreError, match=f"cannot open the ClickHouse store 127.0.0.1:{port}/pg"):
        ClickHouseStore.from_url(f"clickhouse://writer:canary-s3cret@127.0.0.1:{port}/pg")
    with pytest.raises(StoreError) as caught:
        ClickHouseStore.from_url(f"clickhouse://writer:canary-s3cret@127.0.0.1:{port}/pg")
    assert "canary-s3cret" not in str(caught.value)


def test_an_unknown_cluster_is_a_clear_error(clickhouse_url: str) -> None:
    with pytest.raises(StoreError, match="knows no cluster 'nowhere'"):
        ClickHouseStore.from_url(f"{clickhouse_url}&cluster=nowhere")


def test_cohorts_count_what_the_events_say(engine: Engine, stores: list[Store]) -> None:
    from tests.collector.test_cohorts import WEEK0, WEEKS, cohort_events, naive

    events = cohort_events(seed=8)
    store = engine.store()
    stores.append(store)

    async def run() -> None:
        await store.write(events)
        await store.write(events[:50])  # duplicates: rows the merges have not folded yet
        for app in ("argilla", None):
            for first, last in ((WEEK0, WEEK0 + WEEKS - 1), (WEEK0 + 3, WEEK0 + 5)):
                assert await store.cohorts(app, first, last) == naive(events, app, first, last)

    asyncio.run(run())
