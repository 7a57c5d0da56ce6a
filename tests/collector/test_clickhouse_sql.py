"""The ClickHouse store's pure parts: SQL literals, its URL, month partitions, group commit."""

from __future__ import annotations

import asyncio
import datetime
import threading
from collections.abc import Sequence

import pytest

from pigeon.collector.storage import StoreClosedError, StoreError
from pigeon.collector.storage._base import StoredEvent
from pigeon.collector.storage._dimensions import dimensions
from pigeon.collector.storage.clickhouse import parse_clickhouse_url, schema_statements
from pigeon.collector.storage.clickhouse._committer import GroupCommitter
from pigeon.collector.storage.clickhouse._maintenance import droppable_months
from pigeon.collector.storage.clickhouse._rows import MAX_DAY, as_date, buckets
from pigeon.collector.storage.clickhouse._sql import identifier, literal, render, values_list


def day(year: int, month: int, dom: int) -> int:
    return (datetime.date(year, month, dom) - datetime.date(1970, 1, 1)).days


# -- literals -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "'plain'"),
        ("it's", "'it\\'s'"),
        ("back\\slash", "'back\\\\slash'"),
        ("tab\tnew\nline\r\0", "'tab\\tnew\\nline\\r\\0'"),
        ("", "''"),
        (-42, "-42"),
        (datetime.date(2024, 2, 29), "'2024-02-29'"),
        (("a", "b"), "('a', 'b')"),
        (("only",), "('only')"),
        (["x", 1], "['x', 1]"),
        ([], "[]"),
    ],
)
def test_literal(value: object, expected: str) -> None:
    assert literal(value) == expected  # type: ignore[arg-type]


def test_literal_refuses_booleans() -> None:
    with pytest.raises(TypeError):
        literal(True)


def test_render_substitutes_every_placeholder_once() -> None:
    sql = render("a = %(a)s AND b IN %(b)s AND c = %(a)s", {"a": "x'; DROP", "b": (1, 2)})
    assert sql == "a = 'x\\'; DROP' AND b IN (1, 2) AND c = 'x\\'; DROP'"
    with pytest.raises(KeyError):
        render("a = %(missing)s", {"a": 1})


def test_values_list() -> None:
    assert values_list([("a", 1), ("b", 2)]) == "('a', 1), ('b', 2)"


@pytest.mark.parametrize("name", ["pigeon", "_p1", "A_b_9"])
def test_identifier_accepts_plain_names(name: str) -> None:
    assert identifier(name) == f"`{name}`"


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a`b", "a b", "a;drop", "x" * 65])
def test_identifier_refuses_anything_else(name: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        identifier(name)


# -- URL ------------------------------------------------------------------------


def test_url_with_everything() -> None:
    location = parse_clickhouse_url(
        "clickhouse://writer:s%40cret@ch.example:9440/telemetry"
        "?flush_interval=0.5&min_batch=100&max_batch=5000&secure=true"
    )
    assert (location.host, location.port, location.user, location.password) == (
        "ch.example",
        9440,
        "writer",
        "s@cret",
    )
    assert (location.database, location.flush_interval, location.secure) == ("telemetry", 0.5, True)
    assert (location.min_batch, location.max_batch) == (100, 5000)


def test_url_defaults() -> None:
    location = parse_clickhouse_url("clickhouse://localhost")
    assert (location.port, location.user, location.password, location.database) == (
        9000,
        "default",
        "",
        "pigeon",
    )
    assert (location.flush_interval, location.min_batch, location.max_batch) == (1.0, 2000, 20_000)
    assert location.secure is False


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("sqlite:///x.db", "looks like"),
        ("clickhouse:///db", "no host"),
        ("clickhouse://h:notaport/db", "port"),
        ("clickhouse://h/bad-name", "database name"),
        ("clickhouse://h/db?flush_interval=-1", "flush_interval"),
        ("clickhouse://h/db?max_batch=0", "max_batch"),
        ("clickhouse://h/db?min_batch=x", "min_batch"),
        ("clickhouse://h/db?secure=maybe", "secure"),
        ("clickhouse://h/db?colour=blue", "colour"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, fragment: str) -> None:
    with pytest.raises(StoreError, match=fragment):
        parse_clickhouse_url(url)


# -- schema and rows -----------------------------------------------------------------


def test_schema_is_idempotent_and_qualified() -> None:
    statements = schema_statements("telemetry")
    assert all("IF NOT EXISTS `telemetry`." in s for s in statements)
    assert sum("MATERIALIZED VIEW" in s for s in statements) == 4
    with pytest.raises(ValueError, match="identifier"):
        schema_statements("bad name")


def test_dates_are_clamped_to_what_every_release_holds() -> None:
    assert as_date(0) == datetime.date(1970, 1, 1)
    assert as_date(-5) == datetime.date(1970, 1, 1)
    assert as_date(day(2024, 6, 30)) == datetime.date(2024, 6, 30)
    assert as_date(MAX_DAY + 100) == datetime.date(2105, 12, 31)


def _bulk(records: object, message_id: str) -> StoredEvent:
    return StoredEvent(
        message_id=message_id,
        app="a",
        event="LogRecordsRequested",
        anonymous_id="i",
        timestamp_ms=0,
        received_ms=0,
        properties={"task": "T", "records": records},  # type: ignore[dict-item]
    )


def test_buckets_match_dimensions_even_when_values_compare_equal() -> None:
    # True == 1 in Python; a cache keyed on values alone would mix them up.
    for first, second in ((1, True), (True, 1), (0, False)):
        for event in (_bulk(first, "m1"), _bulk(second, "m2")):
            dims, values, amounts = buckets(event)
            assert list(zip(dims, values, amounts, strict=True)) == list(dimensions(event))


# -- retention months ----------------------------------------------------------


def test_droppable_months_are_those_entirely_before_the_cutoff() -> None:
    partitions = ["202401", "202402", "202403", "tuple()", "'202312'"]
    assert droppable_months(partitions, day(2024, 3, 1)) == [202312, 202401, 202402]
    assert droppable_months(partitions, day(2024, 2, 29)) == [202312, 202401]
    assert droppable_months(partitions, day(2024, 1, 1)) == [202312]
    assert droppable_months(partitions, day(2023, 12, 31)) == []


# -- group commit ----------------------------------------------------------------


def test_group_commit_runs_concurrent_requests_as_one_flush() -> None:
    flushed: list[list[Sequence[int]]] = []
    release = threading.Event()

    def flush(groups: list[Sequence[int]]) -> list[int]:
        release.wait(10)
        flushed.append(groups)
        return [sum(items) for items in groups]

    committer: GroupCommitter[int, int] = GroupCommitter(
        "test", flush, interval=0.0, min_items=1, max_items=100, what="flush"
    )

    async def main() -> list[int]:
        first = asyncio.ensure_future(committer.submit([1]))
        await asyncio.sleep(0)  # the worker takes the first request and blocks in flush
        rest = [asyncio.ensure_future(committer.submit([n, n])) for n in range(2, 7)]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(first, *rest)

    try:
        assert asyncio.run(main()) == [1, 4, 6, 8, 10, 12]
    finally:
        committer.close()
    assert sum(len(group) for group in flushed) == 6
    assert len(flushed) <= 3  # the five late requests went together
    assert committer.flushes == len(flushed)


def test_group_commit_caps_the_items_of_one_flush() -> None:
    sizes: list[int] = []

    def flush(groups: list[Sequence[int]]) -> list[int]:
        sizes.append(sum(len(items) for items in groups))
        return [len(items) for items in groups]

    committer: GroupCommitter[int, int] = GroupCommitter(
        "test", flush, interval=0.2, min_items=10, max_items=10, what="flush"
    )

    async def main() -> list[int]:
        return await asyncio.gather(*(committer.submit([0] * 4) for _ in range(6)))

    try:
        assert asyncio.run(main()) == [4] * 6
    finally:
        committer.close()
    assert sum(sizes) == 24
    assert max(sizes) <= 10


def test_group_commit_flushes_early_once_enough_items_wait() -> None:
    def flush(groups: list[Sequence[int]]) -> list[int]:
        return [len(items) for items in groups]

    committer: GroupCommitter[int, int] = GroupCommitter(
        "test", flush, interval=600.0, min_items=10, max_items=100, what="flush"
    )

    async def main() -> tuple[int, int]:
        await committer.submit([0])  # after a quiet period: at once; the next interval is long
        few = asyncio.ensure_future(committer.submit([0] * 4))
        await asyncio.sleep(0.05)
        assert not few.done()  # 4 < 10 items: waits for the interval...
        enough = committer.submit([0] * 6)  # ...until 10 wait: both go now
        first, second = await asyncio.wait_for(asyncio.gather(few, enough), timeout=30)
        return first, second

    try:
        assert asyncio.run(main()) == (4, 6)
    finally:
        committer.close()
    assert committer.flushes == 2


def test_group_commit_failure_reaches_every_request_and_close_refuses_more() -> None:
    def flush(groups: list[Sequence[int]]) -> list[int]:
        raise RuntimeError("disk full\nstack trace line")

    committer: GroupCommitter[int, int] = GroupCommitter(
        "test", flush, interval=0.0, min_items=1, max_items=10, what="store the events"
    )

    async def main() -> list[BaseException | int]:
        return await asyncio.gather(
            *(committer.submit([n]) for n in range(3)), return_exceptions=True
        )

    outcomes = asyncio.run(main())
    committer.close()
    assert all(isinstance(o, StoreError) for o in outcomes)
    assert str(outcomes[0]) == "could not store the events: disk full"

    with pytest.raises(StoreClosedError):
        asyncio.run(committer.submit([1]))
