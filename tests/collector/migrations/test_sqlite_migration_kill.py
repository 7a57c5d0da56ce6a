"""A migration killed (SIGKILL) at any moment leaves a store the next start migrates correctly.

The store is big enough that the backup and the migration each take a while
(tens of thousands of install rows); the kill comes at each stage's start and
at random moments within them. After every kill the store must be of the old
layout or the new one, never in between, every backup file present must be
complete, and migrating again must give the numbers of a store written from
scratch by this version.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pigeon.collector.storage import StoredEvent, open_store
from pigeon.collector.storage._sqlite_schema import SCHEMA_VERSION
from tests.collector.migrations._stores import (
    downgrade_to_layout_1,
    layout_of,
    numbers_at,
    url_of,
)
from tests.collector.migrations.history import history

KILLS = 8


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """A big layout-1 store, and the numbers of the same events in a store of today's layout."""
    directory = tmp_path_factory.mktemp("big")
    reference = directory / "reference.db"

    async def write() -> None:
        store = open_store(url_of(reference))
        events = [StoredEvent(**fields) for fields in history(30_000, seed=7, installs=4000)]
        try:
            for start in range(0, len(events), 2000):
                await store.write(events[start : start + 2000])
        finally:
            await store.close()

    asyncio.run(write())
    numbers = numbers_at(url_of(reference))
    old = directory / "layout-1.db"
    shutil.copyfile(reference, old)
    downgrade_to_layout_1(old)
    return old, numbers


def start_migration(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pigeon", "migrate", "--store", url_of(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], text: str) -> None:
    assert process.stdout is not None
    for line in process.stdout:  # ends at EOF: the process cannot hang the test
        if text in line:
            return
    raise AssertionError(f"the migration ended without printing {text!r}")


def test_a_killed_migration_is_finished_by_the_next_one(
    stores: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    old, reference = stores
    # How long a whole migration takes here: kills are spread over it.
    timing = tmp_path / "timing" / "pigeon.db"
    timing.parent.mkdir()
    shutil.copyfile(old, timing)
    with start_migration(timing) as done:
        wait_for_line(done, "backing up")
        began = time.monotonic()
        assert done.wait(timeout=120) == 0
        duration = time.monotonic() - began

    rng = random.Random(20261202)
    stages = ["backing up", "migrating"]
    killed_midway = 0
    for attempt in range(KILLS):
        path = tmp_path / f"kill-{attempt}" / "pigeon.db"
        path.parent.mkdir()
        shutil.copyfile(old, path)
        with start_migration(path) as process:
            wait_for_line(process, stages[attempt % 2])
            if attempt >= 2:  # the first two die right at a stage's start
                time.sleep(rng.uniform(0, duration))  # the random moment of the kill
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        layout = layout_of(path)
        assert layout in ("1", SCHEMA_VERSION)
        if process.returncode == -signal.SIGKILL and layout == "1":
            killed_midway += 1
        for backup in path.parent.glob("pigeon.layout-1.*.db"):
            conn = sqlite3.connect(backup)
            assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            conn.close()
            assert layout_of(backup) == "1"
        again = subprocess.run(
            [sys.executable, "-m", "pigeon", "migrate", "--store", url_of(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert again.returncode == 0, again.stderr
        assert layout_of(path) == SCHEMA_VERSION
        assert not list(path.parent.glob(".pigeon.layout-*partial*")), "a partial backup was left"
        assert numbers_at(url_of(path)) == reference, f"kill {attempt} after {layout=}"
    # Most kills must have landed before the commit, or the test proves little.
    assert killed_midway >= KILLS // 2, killed_midway
