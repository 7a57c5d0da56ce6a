"""Fixtures of the collector tests: stores by URL, and a synchronous view of a store."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import pytest

from pigeon.collector.storage import (
    CohortRow,
    RollupRow,
    Store,
    StoredEvent,
    SumRow,
    WriteResult,
    open_store,
)

STORE_KINDS = ["sqlite", "clickhouse", "clickhouse-cluster"]
"""Every store the store tests run on (a ClickHouse store joins this list)."""


def url_for(kind: str, directory: Path) -> str:
    """A fresh store URL of ``kind`` under ``directory``."""
    if kind == "sqlite":
        return f"sqlite:///{directory / 'store' / 'pigeon.db'}"
    raise ValueError(f"no test store of kind {kind!r}")


class SyncStore:
    """A store driven from synchronous test code, on one event loop for its whole life."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._runner = asyncio.Runner()
        self.store: Store = open_store(url)
        self.closed = False

    def write(self, events: Sequence[StoredEvent]) -> WriteResult:
        return self._runner.run(self.store.write(events))

    def forget(self, app: str, anonymous_id: str) -> int:
        return self._runner.run(self.store.forget(app, anonymous_id))

    def apply_retention(self, days: int, now_ms: int | None = None) -> int:
        return self._runner.run(self.store.apply_retention(days, now_ms))

    def series(self, app: str | None, dimension: str, first: int, last: int) -> list[RollupRow]:
        return self._runner.run(self.store.series(app, dimension, first, last))

    def totals(self, app: str | None, dimension: str, first: int, last: int) -> list[RollupRow]:
        return self._runner.run(self.store.totals(app, dimension, first, last))

    def sums(self, app: str | None, dimension: str, first: int, last: int) -> list[SumRow]:
        return self._runner.run(self.store.sums(app, dimension, first, last))

    def distinct_installs(
        self, app: str | None, dimension: str, first: int, last: int, values: Collection[str]
    ) -> dict[str, int]:
        return self._runner.run(self.store.distinct_installs(app, dimension, first, last, values))

    def cohorts(self, app: str | None, first_week: int, last_week: int) -> list[CohortRow]:
        return self._runner.run(self.store.cohorts(app, first_week, last_week))

    def apps(self) -> list[str]:
        return self._runner.run(self.store.apps())

    def count(self, app: str | None = None) -> int:
        return self._runner.run(self.store.count_events(app))

    def run_many(self, batches: Sequence[Sequence[StoredEvent]]) -> list[WriteResult]:
        """Write batches concurrently (as concurrent requests do)."""

        async def all_at_once() -> list[WriteResult]:
            return list(await asyncio.gather(*(self.store.write(b) for b in batches)))

        return self._runner.run(all_at_once())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._runner.run(self.store.close())
            self._runner.close()


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store URL, once per store kind."""
    kind = str(request.param)
    if kind == "clickhouse":
        return str(request.getfixturevalue("clickhouse_url"))
    if kind == "clickhouse-cluster":
        return str(request.getfixturevalue("clickhouse_cluster_urls")[0])
    return url_for(kind, tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[SyncStore]:
    """An open store (closed after the test)."""
    opened = SyncStore(store_url)
    yield opened
    opened.close()
