"""SQLite stores of every layout shipped open with the numbers of a store written today.

The fixtures were written by the release of each layout (``build_fixture.py``);
the reference is the same history written into a new store by this version.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pigeon.collector.stats import day_to_iso
from pigeon.collector.storage import StoredEvent, StoreError, open_store
from pigeon.collector.storage._sqlite_layouts import RELEASE_DIMENSIONS, STEPS
from pigeon.collector.storage._sqlite_schema import LAYOUTS, SCHEMA_VERSION
from tests.collector._running import ADMIN_TOKEN, RunningCollector
from tests.collector.migrations._stores import (
    FIXTURES,
    RANGES,
    about_release,
    downgrade_to_layout_1,
    fixture_copy,
    history_events,
    kept_events,
    layout_of,
    new_store_with,
    new_store_with_history,
    numbers_at,
    numbers_of,
    release_numbers_at,
    url_of,
)
from tests.collector.migrations.history import FIRST_DAY, MS_PER_DAY


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The numbers of the history written into a new store by this version."""
    path = new_store_with_history(tmp_path_factory.mktemp("reference") / "pigeon.db")
    return numbers_at(url_of(path))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows_of(conn: sqlite3.Connection, table: str) -> list[tuple[object, ...]]:
    return sorted(conn.execute(f"SELECT * FROM {table}"))  # a fixed name


def pigeon(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pigeon", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def test_every_layout_shipped_has_a_fixture_and_a_step_to_the_next() -> None:
    assert LAYOUTS[-1] == SCHEMA_VERSION
    for older, newer in itertools.pairwise(LAYOUTS):
        assert STEPS[older].target == newer
    assert set(STEPS) == set(LAYOUTS[:-1])
    for version in LAYOUTS:
        assert layout_of(FIXTURES / f"layout-{version}.db") == version


@pytest.mark.parametrize("version", LAYOUTS)
def test_a_store_of_each_layout_opens_with_the_numbers_of_a_new_one(
    version: str, tmp_path: Path, reference: dict[str, object]
) -> None:
    path = fixture_copy(version, tmp_path)
    before = digest(path)
    kept = kept_events(path) if int(version) < 3 else []
    numbers = numbers_at(url_of(path))
    assert layout_of(path) == SCHEMA_VERSION
    assert numbers.keys() == reference.keys()
    backfilled = {}
    if kept:
        # Layout 3's dimensions are counted from the raw events the old store
        # kept: exactly what a new store holding those events counts.
        url = url_of(new_store_with(kept, tmp_path / "kept" / "pigeon.db"))
        backfilled = release_numbers_at(url, [key for key in numbers if about_release(key)])
        assert any(rows for rows in backfilled.values())
    for key, value in reference.items():
        if key in backfilled:
            assert numbers[key] == backfilled[key], key
        elif not (kept and key.startswith("view release_health ")):
            # (That view joins versions, kept whole, with the backfilled problems.)
            assert numbers[key] == value, key
    backups = sorted(tmp_path.glob(f"pigeon.layout-{version}.*.db"))
    if version == SCHEMA_VERSION:
        assert backups == []
    else:
        # The copy taken first is the store exactly as the old release left it.
        assert [layout_of(copy) for copy in backups] == [version]
        conn = sqlite3.connect(backups[0])
        original = sqlite3.connect(FIXTURES / f"layout-{version}.db")
        for table in ("events", "rollup_daily", "rollup_installs"):
            assert rows_of(conn, table) == rows_of(original, table), table
        conn.close()
        original.close()
    assert before == digest(FIXTURES / f"layout-{version}.db")  # the fixture itself untouched


def test_a_migrated_store_keeps_counting_like_a_new_one(tmp_path: Path) -> None:
    migrated = fixture_copy("1", tmp_path / "migrated")
    fresh = new_store_with_history(tmp_path / "fresh" / "pigeon.db")
    # Layout 3's dimensions count the raw events the old store kept (see above).
    kept = new_store_with(kept_events(migrated), tmp_path / "kept" / "pigeon.db")
    day = FIRST_DAY + 59
    later = [
        StoredEvent(
            f"later-{n}", "argilla", "ServerStarted", f"install-{n % 45}", day * MS_PER_DAY + n,
            day * MS_PER_DAY + n, app_version="1.30.0",
        )
        for n in range(300)
    ]  # fmt: skip

    async def more(path: Path) -> dict[str, object]:
        store = open_store(url_of(path))
        try:
            await store.write(later)  # old and new installs: ordinals continue, bits add up
            await store.forget("argilla", "install-3")
            return await numbers_of(store)
        finally:
            await store.close()

    numbers, expected = asyncio.run(more(migrated)), asyncio.run(more(fresh))
    assert numbers.keys() == expected.keys()
    expected_release = asyncio.run(more(kept))
    for key, value in numbers.items():
        if about_release(key):
            assert value == expected_release[key], key
        elif not key.startswith("view release_health "):
            assert value == expected[key], key


def test_the_rewrite_to_layout_1_gives_what_the_release_wrote(tmp_path: Path) -> None:
    path = fixture_copy(SCHEMA_VERSION, tmp_path)
    downgrade_to_layout_1(path)
    rewritten, released = sqlite3.connect(path), sqlite3.connect(FIXTURES / "layout-1.db")
    schema = "SELECT type, name, sql FROM sqlite_master ORDER BY name"
    assert rewritten.execute(schema).fetchall() == released.execute(schema).fetchall()
    for table in ("events", "rollup_daily", "rollup_installs", "meta"):
        assert rows_of(rewritten, table) == rows_of(released, table), table
    rewritten.close()
    released.close()


def test_dry_run_lists_the_steps_and_changes_nothing(tmp_path: Path) -> None:
    path = fixture_copy("1", tmp_path)
    before = digest(path)
    done = pigeon("migrate", "--store", url_of(path), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert f"is at layout 1; migrating it to {SCHEMA_VERSION} would:" in done.stdout
    assert all(step.summary in done.stdout for step in STEPS.values())
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pigeon.db"]


def test_the_command_migrates_once_then_says_up_to_date(tmp_path: Path) -> None:
    path = fixture_copy("1", tmp_path)
    done = pigeon("migrate", "--store", url_of(path))
    assert done.returncode == 0, done.stderr
    assert f"migrated from layout 1 to {SCHEMA_VERSION}" in done.stdout
    assert "backup at" in done.stdout
    again = pigeon("migrate", "--store", url_of(path))
    assert again.returncode == 0, again.stderr
    assert f"is up to date (layout {SCHEMA_VERSION})" in again.stdout
    assert len(list(tmp_path.glob("pigeon.layout-1.*.db"))) == 1


def test_no_backup_means_none(tmp_path: Path) -> None:
    path = fixture_copy("1", tmp_path)
    done = pigeon("migrate", "--store", url_of(path), "--no-backup")
    assert done.returncode == 0, done.stderr
    assert layout_of(path) == SCHEMA_VERSION
    assert list(tmp_path.glob("pigeon.layout-*")) == []


def test_no_store_yet_is_not_an_error(tmp_path: Path) -> None:
    done = pigeon("migrate", "--store", url_of(tmp_path / "none.db"))
    assert done.returncode == 0, done.stderr
    assert "no store at" in done.stdout
    assert not (tmp_path / "none.db").exists()


def test_a_store_of_a_newer_layout_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = fixture_copy(SCHEMA_VERSION, tmp_path)
    conn = sqlite3.connect(path)
    newer = str(int(SCHEMA_VERSION) + 1)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (newer,))
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(StoreError, match=f"layout {newer} was written by a newer pigeon"):
        open_store(url_of(path))
    done = pigeon("migrate", "--store", url_of(path))
    assert done.returncode == 1
    assert f"layout {newer} was written by a newer pigeon" in done.stderr
    assert "Traceback" not in done.stderr
    served = pigeon("serve", "--store", url_of(path), "--port", "0")
    assert served.returncode == 1
    assert "newer pigeon" in served.stderr
    assert digest(path) == before


def test_a_report_on_an_older_store_says_how_to_migrate(tmp_path: Path) -> None:
    path = fixture_copy("1", tmp_path)
    done = pigeon("report", "--store", url_of(path))
    assert done.returncode != 0
    assert "pigeon migrate --store" in done.stderr
    assert layout_of(path) == "1"


def test_a_failed_migration_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    path = fixture_copy("1", tmp_path)
    conn = sqlite3.connect(path)
    # A table in the way that refuses the step's rows: it fails half-way through,
    # after rollup_daily was renamed and the new tables created.
    conn.execute(
        "CREATE TABLE install_ordinals (install INTEGER PRIMARY KEY, "
        "ordinal INTEGER CHECK (ordinal < 5))"
    )
    conn.commit()
    schema = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    daily = rows_of(conn, "rollup_daily")
    conn.close()
    done = pigeon("migrate", "--store", url_of(path), "--no-backup")
    assert done.returncode == 1
    assert "cannot migrate" in done.stderr
    assert "CHECK constraint failed" in done.stderr
    assert "the store is unchanged" in done.stderr
    assert "Traceback" not in done.stderr
    assert layout_of(path) == "1"
    conn = sqlite3.connect(path)
    assert (
        conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() == schema
    )
    assert rows_of(conn, "rollup_daily") == daily
    conn.close()


def test_a_backup_of_an_older_store_restores_and_then_migrates(tmp_path: Path) -> None:
    old = fixture_copy("1", tmp_path / "old")
    copy = tmp_path / "copy.db"
    assert pigeon("backup", "--store", url_of(old), str(copy)).returncode == 0
    assert layout_of(copy) == "1"
    target = tmp_path / "restored" / "pigeon.db"
    restored = pigeon("restore", "--store", url_of(target), str(copy))
    assert restored.returncode == 0, restored.stderr
    assert layout_of(target) == "1"
    asyncio.run(open_store(url_of(target)).close())
    assert layout_of(target) == SCHEMA_VERSION


def test_processes_starting_together_migrate_once(tmp_path: Path) -> None:
    path = fixture_copy("1", tmp_path)
    code = (
        "import asyncio, sys\n"
        "from pigeon.collector.storage import open_store\n"
        "store = open_store(sys.argv[1])\n"
        "print(store.migration.needed)\n"
        "asyncio.run(store.close())\n"
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code, url_of(path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=120)[0].strip() for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0]
    assert sorted(outputs) == ["False", "False", "False", "True"]
    assert len(list(tmp_path.glob("pigeon.layout-1.*.db"))) == 1
    assert layout_of(path) == SCHEMA_VERSION


def test_serve_with_workers_migrates_once_and_serves_the_old_numbers(
    tmp_path: Path, reference: dict[str, object]
) -> None:
    path = fixture_copy("1", tmp_path / "data")
    collector = RunningCollector.with_store(
        tmp_path, url_of(path), "--workers", "2", "--min-installs", "1"
    )
    try:
        assert f"store migrated from layout 1 to {SCHEMA_VERSION}" in collector.stdout
        first, last = RANGES[0]
        for name in ("overview", "versions", "errors", "bulk"):
            reply = collector.request(
                "GET",
                f"/api/v1/stats/{name}?from={day_to_iso(first)}&to={day_to_iso(last)}",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert reply.status == 200, reply.body
            body = reply.json
            expected = reference[f"view {name} None {first}-{last}"]
            assert isinstance(expected, dict)
            assert body == expected
    finally:
        assert collector.stop() == 0
    assert len(list(path.parent.glob("pigeon.layout-1.*.db"))) == 1


def test_layout_3_counts_crashes_and_versioned_errors_from_the_kept_events(
    tmp_path: Path,
) -> None:
    # The fixtures hold no crash (their history predates it): write some, with
    # stacks as JSON lists, then strip the layout-3 rows as layout 2 lacked them.
    crashes = [
        StoredEvent(
            f"crash-{n}", "argilla", "CrashReported", f"install-{n % 7}",
            (FIRST_DAY + 50 + n % 9) * MS_PER_DAY + n, (FIRST_DAY + 50) * MS_PER_DAY,
            app_version=f"1.29.{n % 2}",
            properties={
                "exception": "KeyError", "signature": f"{n % 3:016x}",
                "frames": ("<other>", f"argilla.api:handler:{10 + n % 4}"),
            },
        )
        for n in range(120)
    ]  # fmt: skip
    path = tmp_path / "pigeon.db"
    new_store_with(history_events() + crashes, path)
    expected = numbers_at(url_of(path))
    assert any(expected[key] for key in expected if key.startswith("totals crash_frames "))
    conn = sqlite3.connect(path, isolation_level=None)
    marks = ", ".join("?" * len(RELEASE_DIMENSIONS))
    for table in ("rollup_daily", "rollup_installs", "rollup_bitmaps", "rollup_bitmaps_weekly"):
        conn.execute(f"DELETE FROM {table} WHERE dimension IN ({marks})", RELEASE_DIMENSIONS)
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.close()
    assert numbers_at(url_of(path)) == expected
    assert layout_of(path) == SCHEMA_VERSION
