"""Several writers on one SQLite store: worker processes, or two collectors on one file.

Each writer keeps its own memories of the store (install rows and ordinals
already written); these tests prove the counts stay exact when another
writer numbers installs or forgets one in between.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
from pathlib import Path
from typing import Any

from pigeon._wire import uuid7
from pigeon.collector.storage import StoredEvent, open_store
from pigeon.collector.storage._base import MS_PER_DAY
from tests.collector.conftest import SyncStore, url_for
from tests.collector.test_store import DAY0, DAYS, by_key, make_events, naive

DIMENSIONS = ("all", "event", "version", "system", "bulk_task", "error", "client", "language")


def _write_all(url: str, batches: list[list[StoredEvent]], barrier: Any, results: Any) -> None:
    """A writer process: every batch, four requests at a time, after the barrier."""

    async def run() -> tuple[int, int]:
        store = open_store(url)
        stored = duplicates = 0
        try:
            barrier.wait(timeout=60)
            for start in range(0, len(batches), 4):
                group = batches[start : start + 4]
                for result in await asyncio.gather(*(store.write(b) for b in group)):
                    stored += result.stored
                    duplicates += result.duplicates
        finally:
            await store.close()
        return stored, duplicates

    results.put(asyncio.run(run()))


def _assert_exact(store: SyncStore, events: list[StoredEvent]) -> None:
    assert store.count() == len({e.message_id for e in events})
    for app in ("argilla", None):
        for dimension in DIMENSIONS:
            for per_day in (True, False):
                read = store.series if per_day else store.totals
                got = by_key(read(app, dimension, DAY0, DAY0 + DAYS))
                want = by_key(naive(events, app, dimension, DAY0, DAY0 + DAYS, per_day=per_day))
                assert got == want, (app, dimension, per_day)


def test_two_processes_writing_the_same_events_store_each_once(tmp_path: Path) -> None:
    url = url_for("sqlite", tmp_path)
    events = make_events(6000, seed=11, installs=300)
    SyncStore(url).close()  # the layout exists before the writers race
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    writers = []
    for seed in (1, 2):  # both write every event, in a different order
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        batches = [shuffled[i : i + 100] for i in range(0, len(shuffled), 100)]
        writers.append(ctx.Process(target=_write_all, args=(url, batches, barrier, results)))
    for writer in writers:
        writer.start()
    outcomes = [results.get(timeout=120) for _ in writers]
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    assert sum(stored for stored, _ in outcomes) == len(events)
    assert sum(duplicates for _, duplicates in outcomes) == len(events)
    store = SyncStore(url)
    try:
        _assert_exact(store, events)
    finally:
        store.close()


def _started(install: str, day: int, version: str = "1.0.0") -> StoredEvent:
    moment = day * MS_PER_DAY + 1000
    return StoredEvent(
        uuid7(), "argilla", "ServerStarted", install, moment, moment, app_version=version
    )


def test_installs_numbered_by_two_writers_in_turn_are_all_counted(tmp_path: Path) -> None:
    url = url_for("sqlite", tmp_path)
    first, second = SyncStore(url), SyncStore(url)
    try:
        events = []
        for turn in range(6):
            writer = first if turn % 2 == 0 else second
            batch = [_started(f"i{turn}-{n}", DAY0) for n in range(10)]
            writer.write(batch)
            events += batch
        for store in (first, second):
            (row,) = store.totals("argilla", "event", DAY0, DAY0)
            assert row.installs == 60
        _assert_exact(first, events)
    finally:
        first.close()
        second.close()


def test_an_install_forgotten_by_one_writer_is_counted_again_by_the_other(
    tmp_path: Path,
) -> None:
    url = url_for("sqlite", tmp_path)
    writer, forgetter = SyncStore(url), SyncStore(url)
    try:
        writer.write([_started("kept", DAY0), _started("gone", DAY0)])
        assert forgetter.forget("argilla", "gone") == 1
        # The writer remembers "gone"'s rows and ordinal from its first write:
        # both are stale now, and must not be trusted.
        again = [_started("gone", DAY0), _started("new", DAY0)]
        writer.write(again)
        (row,) = writer.totals("argilla", "event", DAY0, DAY0)
        assert (row.events, row.installs) == (4, 3)
        (version,) = writer.series("argilla", "version", DAY0, DAY0)
        assert version.installs == 3
    finally:
        writer.close()
        forgetter.close()


def test_many_rounds_of_writes_and_forgets_across_two_writers_stay_exact(
    tmp_path: Path,
) -> None:
    url = url_for("sqlite", tmp_path)
    stores = SyncStore(url), SyncStore(url)
    rng = random.Random(5)
    kept: list[StoredEvent] = []
    try:
        for _ in range(30):
            install = f"i{rng.randrange(8)}"
            day = DAY0 + rng.randrange(3)
            batch = [_started(install, day, f"1.{rng.randrange(3)}.0") for _ in range(3)]
            rng.choice(stores).write(batch)
            kept += batch
            if rng.random() < 0.3:
                gone = f"i{rng.randrange(8)}"
                rng.choice(stores).forget("argilla", gone)
                kept = [e for e in kept if e.anonymous_id != gone]
        for store in stores:
            got = by_key(store.series("argilla", "version", DAY0, DAY0 + 2))
            want = by_key(naive(kept, "argilla", "version", DAY0, DAY0 + 2, per_day=True))
            assert {k: r.installs for k, r in got.items()} == {
                k: r.installs for k, r in want.items()
            }
    finally:
        for store in stores:
            store.close()
