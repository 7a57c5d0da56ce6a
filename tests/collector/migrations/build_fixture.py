"""Write the history into a new store with whichever pigeon is importable.

Each fixture in ``fixtures/`` was made by the pigeon release that wrote that
layout, from a checkout of it::

    git worktree add ../pigeon-layout-1 <commit of the release>
    PYTHONPATH=../pigeon-layout-1/src:. python tests/collector/migrations/build_fixture.py \\
        tests/collector/migrations/fixtures/layout-1.db

It uses only the Store API every release has: write in batches, apply
retention as of the history's end, forget one install. The file is then
turned into one self-contained file (no ``-wal``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

from pigeon.collector.storage import StoredEvent, open_store
from tests.collector.migrations.history import FORGOTTEN, NOW_MS, RETENTION_DAYS, history


async def build(path: Path) -> None:
    """Write the history into a new store at ``path``."""
    if path.exists():
        raise SystemExit(f"{path} exists")
    store = open_store(f"sqlite:///{path}")
    events = [StoredEvent(**fields) for fields in history()]
    for start in range(0, len(events), 250):
        await store.write(events[start : start + 250])
    await store.apply_retention(RETENTION_DAYS, now_ms=NOW_MS)
    await store.forget(*FORGOTTEN)
    await store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("VACUUM")
    conn.close()


if __name__ == "__main__":
    asyncio.run(build(Path(sys.argv[1])))
