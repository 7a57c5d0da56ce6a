"""Migrating a SQLite store from layout 1 to today's, against re-ingesting it, in one run.

Writes the dashboard benchmark's plausible traffic into a new store through
the store's own write path (the baseline: what re-ingesting would cost,
timed in this run), rewrites a copy as the layout-1 release wrote it
(``tests.collector.migrations``), then times, on fresh copies:

- the backup the migration takes first (SQLite's online backup API);
- the migration's transaction alone (``--no-backup``), and in another run
  its Python peak memory (``tracemalloc``);
- the whole migration, as ``pigeon serve`` runs it.

    python benchmarks/bench_migrate.py                      # 1M events, 20,000 installs
    python benchmarks/bench_migrate.py --events 100000 --installs 5000

Goals: the whole migration takes at most 0.25x the time of writing the same
events into a new store (an upgrade must not cost a re-ingest), and its
peak Python memory stays under 64 MiB whatever the store's size (bitmaps are
written in bounded batches).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from tests.collector.migrations._stores import downgrade_to_layout_1, numbers_of, url_of

from benchmarks.bench_dashboard import build
from pigeon.collector.stats import today_utc
from pigeon.collector.storage._sqlite_backup import backup_sqlite
from pigeon.collector.storage._sqlite_migrate import migrate_sqlite
from pigeon.collector.storage._sqlite_schema import SQLiteLocation

MEMORY_GOAL = 64 * 2**20
TIME_GOAL = 0.25


def rows(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def numbers(path: Path) -> dict[str, object]:
    from pigeon.collector.storage import open_store

    async def read() -> dict[str, object]:
        store = open_store(url_of(path), read_only=True)
        try:
            return await numbers_of(store, ((today_utc() - 89, today_utc()),))
        finally:
            await store.close()

    return asyncio.run(read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--installs", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pigeon-bench-migrate-") as tmp:
        work = Path(tmp)
        source = work / "source" / "pigeon.db"
        meta = build(source, args.events, args.installs, args.days, today_utc())
        ingest_s = float(str(meta["built_s"]))
        old = work / "layout-1.db"
        shutil.copyfile(source, old)
        downgrade_to_layout_1(old)
        installs = rows(old, "rollup_installs")
        size = old.stat().st_size
        print(
            f"layout-1 store: {meta['events']:,} events, {installs:,} install rows, "
            f"{size / 1e6:,.0f} MB; writing it from scratch took {ingest_s:.1f} s"
        )

        def fresh(name: str) -> Path:
            path = work / name / "pigeon.db"
            path.parent.mkdir()
            shutil.copyfile(old, path)
            return path

        steps = fresh("steps")
        started = time.perf_counter()
        migrate_sqlite(SQLiteLocation(steps), backup=False)
        steps_s = time.perf_counter() - started

        tracemalloc.start()  # a run of its own: tracing slows Python down several times
        migrate_sqlite(SQLiteLocation(fresh("memory")), backup=False)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

        copy_from = fresh("copy")
        started = time.perf_counter()
        backup_sqlite(SQLiteLocation(copy_from), work / "copy.db")
        backup_s = time.perf_counter() - started

        whole = fresh("whole")
        started = time.perf_counter()
        done = migrate_sqlite(SQLiteLocation(whole))
        whole_s = time.perf_counter() - started
        assert done.backup is not None

        same = numbers(steps) == numbers(source)
        per_million = steps_s / installs * 1e6 if installs else 0.0
        print(f"backup copy alone:     {backup_s:6.2f} s")
        print(
            f"migration transaction: {steps_s:6.2f} s ({per_million:.2f} s per million "
            f"install rows), peak Python memory {peak / 2**20:.1f} MiB"
        )
        print(f"whole migration:       {whole_s:6.2f} s")
        ratio = whole_s / ingest_s
        time_ok = ratio <= TIME_GOAL
        memory_ok = peak <= MEMORY_GOAL
        print(
            f"whole migration / writing the events anew: {ratio:.3f} "
            f"(goal <= {TIME_GOAL}: {'met' if time_ok else 'MISSED'})"
        )
        print(
            f"peak memory {peak / 2**20:.1f} MiB "
            f"(goal <= {MEMORY_GOAL // 2**20} MiB: {'met' if memory_ok else 'MISSED'})"
        )
        print(f"every view over 90 days equal to the store written today: {same}")
        return 0 if time_ok and memory_ok and same else 1


if __name__ == "__main__":
    sys.exit(main())
