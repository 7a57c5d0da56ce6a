"""``pigeon backup`` and ``pigeon restore``: a backup under load, the round trip, refusals."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from pigeon._wire import uuid7
from pigeon.collector.storage import StoredEvent, StoreInUseError, day_of, open_store
from pigeon.collector.storage._sqlite_shared import InUseLock
from tests.cli.conftest import RunCommand
from tests.collector._running import (
    WRITE_KEY,
    RunningCollector,
    basic,
    request,
    segment_batch,
    stored_message_ids,
)
from tests.collector.conftest import SyncStore

NOW_MS = int(time.time() * 1000)


def fill(url: str, events: int, installs: int = 50, version: str = "1.0") -> None:
    """Write ``events`` events of ``installs`` installs into the store at ``url``."""
    store = SyncStore(url)
    try:
        batch = [
            StoredEvent(
                uuid7(), "argilla", "ServerStarted" if n % 3 else "TrainerUsage",
                f"install-{n % installs}", NOW_MS - (n % 3) * 86_400_000, NOW_MS,
                app_version=version,
            )
            for n in range(events)
        ]  # fmt: skip
        for start in range(0, events, 5_000):
            store.write(batch[start : start + 5_000])
    finally:
        store.close()


def read_back(url: str) -> dict[str, object]:
    """What the store's read API says: events, and per-day events and installs of every event."""

    async def read() -> dict[str, object]:
        store = open_store(url, read_only=True)
        try:
            today = day_of(NOW_MS)
            return {
                "count": await store.count_events(),
                "days": {
                    (r.day, r.value): (r.events, r.installs)
                    for r in await store.series("argilla", "event", today - 5, today + 1)
                },
                "versions": {
                    r.value: r.events for r in await store.totals(None, "version", 0, today + 1)
                },
            }
        finally:
            await store.close()

    return asyncio.run(read())


def raw_facts(db: Path) -> dict[tuple[int, str], tuple[int, int]]:
    """Per (day, event): events and distinct installs, counted from the raw rows."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT day, event, COUNT(*), COUNT(DISTINCT anonymous_id) FROM events "
            "GROUP BY day, event"
        ).fetchall()
    finally:
        conn.close()
    return {(day, event): (n, installs) for day, event, n, installs in rows}


def test_a_backup_under_load_holds_everything_acknowledged_before_it(
    tmp_path: Path, pigeon_process: RunCommand
) -> None:
    db = tmp_path / "data" / "pigeon.db"
    url = f"sqlite:///{db}"
    fill(url, 60_000)  # tens of MB: the copy takes many steps of the backup API
    collector = RunningCollector.with_store(tmp_path / "run", url, "--rate-limit", "0")
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(worker: int) -> None:
        while not stop.is_set():
            ids, body = segment_batch(f"loader-{worker}", 50)
            reply = request(collector.url, "POST", "/v1/batch", body, headers=basic(WRITE_KEY))
            if reply.status == 200:
                with lock:
                    acked.extend(ids)

    loaders = [threading.Thread(target=load, args=(n,)) for n in range(3)]
    dest = tmp_path / "backups" / "pigeon-copy.db"
    dest.parent.mkdir()
    try:
        for loader in loaders:
            loader.start()
        deadline = time.monotonic() + 60
        while len(acked) < 1_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        with lock:
            before = list(acked)
        result = pigeon_process("backup", "--store", url, str(dest))
        with lock:
            during = len(acked) - len(before)
    finally:
        stop.set()
        for loader in loaders:
            loader.join(timeout=60)
        collector.stop()
    assert result.status == 0, result.err
    assert len(before) >= 1_000
    assert during > 0  # the collector kept acknowledging while the backup ran
    copied = stored_message_ids(dest)
    missing = set(before) - set(copied)
    assert not missing, f"{len(missing)} events acknowledged before the backup are missing"
    assert len(copied) == len(set(copied))
    stats = read_back(f"sqlite:///{dest}")
    assert stats["count"] == len(copied) >= 60_000 + len(before)
    assert f"({len(copied):,} events" in result.out
    # The rollups in the copy are those of its raw events: one consistent snapshot.
    assert stats["days"] == raw_facts(dest)
    assert stats["versions"] == {"1.0": 60_000, "unknown": len(copied) - 60_000}
    # One file, nothing beside it; opening it read-only leaves nothing either.
    assert sorted(p.name for p in dest.parent.iterdir()) == ["pigeon-copy.db"]


def test_restore_round_trip(tmp_path: Path, pigeon_main: RunCommand) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'pigeon.db'}"
    fill(url, 3_000, version="1.0")
    backup = tmp_path / "copy.db"
    assert pigeon_main("backup", "--store", url, str(backup)).status == 0
    saved = read_back(url)
    fill(url, 500, version="2.0")  # the store moves on after the backup...
    assert read_back(url) != saved
    result = pigeon_main("restore", "--store", url, "--force", str(backup))
    assert result.status == 0, result.err
    assert "(3,000 events" in result.out
    assert read_back(url) == saved  # ...and is back where it was
    fill(url, 10, version="3.0")  # a restored store takes writes again
    assert read_back(url)["count"] == 3_010
    fresh = f"sqlite:///{tmp_path / 'elsewhere' / 'p.db'}"  # no store there: no --force needed
    assert pigeon_main("restore", "--store", fresh, str(backup)).status == 0
    assert read_back(fresh) == saved


def test_restore_over_a_store_left_by_a_killed_collector_ignores_its_log(
    tmp_path: Path, pigeon_main: RunCommand
) -> None:
    db = tmp_path / "data" / "pigeon.db"
    url = f"sqlite:///{db}"
    fill(url, 1_000)
    backup = tmp_path / "copy.db"
    assert pigeon_main("backup", "--store", url, str(backup)).status == 0
    saved = read_back(url)
    collector = RunningCollector.with_store(tmp_path / "run", url)
    for n in range(5):
        _, body = segment_batch(f"late-{n}", 20)
        assert collector.request("POST", "/v1/batch", body, basic(WRITE_KEY)).status == 200
    collector.stop(signal.SIGKILL)
    wal = db.with_name("pigeon.db-wal")
    assert wal.stat().st_size > 0  # committed frames not yet in the main file
    result = pigeon_main("restore", "--store", url, "--force", str(backup))
    assert result.status == 0, result.err
    assert not wal.exists()
    assert read_back(url) == saved  # the old log was not replayed over the backup


def test_restore_refuses_a_store_a_collector_uses_even_with_force(
    tmp_path: Path, pigeon_process: RunCommand
) -> None:
    db = tmp_path / "data" / "pigeon.db"
    url = f"sqlite:///{db}"
    fill(url, 100)
    backup = tmp_path / "copy.db"
    assert pigeon_process("backup", "--store", url, str(backup)).status == 0
    collector = RunningCollector.with_store(tmp_path / "run", url, "--workers", "2")
    try:
        result = pigeon_process("restore", "--store", url, "--force", str(backup))
        unforced = pigeon_process("restore", "--store", url, str(backup))
        _, body = segment_batch("after", 5)
        assert collector.request("POST", "/v1/batch", body, basic(WRITE_KEY)).status == 200
    finally:
        collector.stop()
    assert result.status == 1
    assert result.err == (
        f"pigeon restore: error: a collector is using {db}: "
        "stop it (every process serving this store) first\n"
    )
    assert (unforced.status, unforced.err) == (1, result.err)  # in use is said first
    assert read_back(url)["count"] == 105
    # Stopped, it can be restored.
    assert pigeon_process("restore", "--store", url, "--force", str(backup)).status == 0
    assert read_back(url)["count"] == 100


def test_a_collector_does_not_open_a_store_being_restored(tmp_path: Path) -> None:
    db = tmp_path / "data" / "pigeon.db"
    restoring = InUseLock(db)
    assert restoring.claim()
    try:
        with pytest.raises(StoreInUseError, match="is being replaced by `pigeon restore`"):
            open_store(f"sqlite:///{db}")
    finally:
        restoring.release()
    store = SyncStore(f"sqlite:///{db}")  # once it is done, the store opens
    try:
        assert not InUseLock(db).claim()  # and an open store cannot be restored
    finally:
        store.close()
    assert InUseLock(db).claim()


def test_restore_refuses_an_existing_store_without_force(
    tmp_path: Path, pigeon_cli: RunCommand
) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'pigeon.db'}"
    fill(url, 10)
    backup = tmp_path / "copy.db"
    assert pigeon_cli("backup", "--store", url, str(backup)).status == 0
    fill(url, 5)
    result = pigeon_cli("restore", "--store", url, str(backup))
    assert result.status == 2
    assert "pass --force to replace it" in result.err
    assert read_back(url)["count"] == 15


def make_sqlite(path: Path, *statements: str) -> Path:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize(
    ("make", "status", "message"),
    [
        (lambda p: p / "missing.db", 2, "no backup at {src}"),
        (lambda p: p.joinpath("text.db").write_text("hello") and p / "text.db", 1,
         "file is not a database"),
        (lambda p: make_sqlite(p / "other.db", "CREATE TABLE t (x)"), 1,
         "{src} is not a pigeon store (no layout version)"),
        (lambda p: make_sqlite(p / "new.db", "CREATE TABLE meta (key TEXT, value TEXT)",
                               "INSERT INTO meta VALUES ('schema_version', '99')"), 1,
         "{src}: store layout 99 was written by a newer pigeon"),
    ],
    ids=["missing", "not-sqlite", "not-pigeon", "newer-layout"],
)  # fmt: skip
def test_restore_refuses_what_is_not_a_backup(
    tmp_path: Path, pigeon_cli: RunCommand, make: object, status: int, message: str
) -> None:
    assert callable(make)
    src = make(tmp_path)
    store = tmp_path / "data" / "pigeon.db"
    result = pigeon_cli("restore", "--store", f"sqlite:///{store}", "--force", str(src))
    assert result.status == status
    assert result.err.startswith("pigeon restore: error: ")
    assert message.format(src=src) in result.err
    assert result.err.count("\n") == 1
    assert not store.exists()


def test_restore_refuses_a_damaged_backup(tmp_path: Path, pigeon_main: RunCommand) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'pigeon.db'}"
    fill(url, 2_000)
    backup = tmp_path / "copy.db"
    assert pigeon_main("backup", "--store", url, str(backup)).status == 0
    data = bytearray(backup.read_bytes())
    page = 4096
    for offset in range(page * 3, len(data) - page, page * 2):  # garble every other page
        data[offset + 16 : offset + 200] = b"\xa5" * 184
    backup.write_bytes(bytes(data))
    fill(url, 1)
    result = pigeon_main("restore", "--store", url, "--force", str(backup))
    assert result.status == 1
    assert "damaged" in result.err or "malformed" in result.err
    assert read_back(url)["count"] == 2_001  # the store is left as it was


def test_backup_refusals(tmp_path: Path, pigeon_cli: RunCommand) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'pigeon.db'}"
    result = pigeon_cli("backup", "--store", url, str(tmp_path / "copy.db"))
    assert (result.status, result.err) == (
        1,
        f"pigeon backup: error: no store at {tmp_path / 'data' / 'pigeon.db'} "
        "(start the collector first?)\n",
    )
    fill(url, 10)
    (tmp_path / "taken.db").write_text("keep me")
    result = pigeon_cli("backup", "--store", url, str(tmp_path / "taken.db"))
    assert result.status == 2
    assert "taken.db exists: give the path of a new file" in result.err
    assert (tmp_path / "taken.db").read_text() == "keep me"
    result = pigeon_cli("backup", "--store", "mysql://db/x", str(tmp_path / "x.db"))
    assert result.status == 2
    assert "--store: a SQLite store URL looks like sqlite:///PATH" in result.err
    result = pigeon_cli("backup", "--store", url, str(tmp_path / "no-such-dir" / "x.db"))
    assert result.status == 0  # the directory is created
    assert (tmp_path / "no-such-dir" / "x.db").is_file()


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_a_clickhouse_store_gets_the_servers_commands(
    tmp_path: Path, pigeon_cli: RunCommand, command: str
) -> None:
    url = "clickhouse://pigeon:secret@ch.internal:9000/telemetry?cluster=main"
    result = pigeon_cli(command, "--store", url, "nightly.zip")
    assert result.status == 1
    statement = (
        "BACKUP DATABASE telemetry TO Disk('backups', 'nightly.zip')"
        if command == "backup"
        else "RESTORE DATABASE telemetry FROM Disk('backups', 'nightly.zip')"
    )
    assert f'--host ch.internal --port 9000 --user pigeon --password --query "{statement}"' in (
        result.out
    )
    assert "<allowed_disk>backups</allowed_disk>" in result.out
    assert "cluster main" in result.out
    assert "secret" not in result.out + result.err
    assert result.err.startswith(f"pigeon {command}: error: pigeon copies SQLite stores only")
    assert not (tmp_path / "nightly.zip").exists()
