"""Upgrade a SQLite store of an older layout in place: backup first, then one transaction.

Order of a migration:

1. Under the store's write lock (so collector processes starting together
   migrate once: the others wait, then find the store up to date), read the
   layout again and stop if there is nothing to do.
2. Claim the store: no collector may have it open (one that has is of this
   version, so the store could not be of an older layout: something is wrong).
3. Copy it with the online backup API to ``<stem>.layout-<N>.<time>.db``
   beside it, a complete file or none (see ``_sqlite_backup``).
4. Run every step from its layout to today's, and record the new version, in
   one write transaction. A crash or SIGKILL at any point before ``COMMIT``
   leaves the store exactly as it was (SQLite's log discards the rest), so the
   next start migrates it again from the beginning.
"""

from __future__ import annotations

import contextlib
import glob
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pigeon.collector.storage._errors import StoreError, StoreInUseError
from pigeon.collector.storage._migration import Migration, steps_between, summaries
from pigeon.collector.storage._sqlite_backup import backup_sqlite
from pigeon.collector.storage._sqlite_bitmaps import register_functions
from pigeon.collector.storage._sqlite_layouts import STEPS, SQLiteStep
from pigeon.collector.storage._sqlite_schema import (
    SCHEMA_VERSION,
    SQLiteLocation,
    connect_reader,
    stored_version,
    version_problem,
)
from pigeon.collector.storage._sqlite_shared import InUseLock, WriteLock

__all__ = ["migrate_sqlite", "plan_sqlite"]


def plan_sqlite(location: SQLiteLocation) -> Migration:
    """What migrating the store at ``location`` would do (nothing is changed).

    Raises:
        StoreError: the file is not a pigeon store, or was written by a newer pigeon.
    """
    path = location.path
    if not path.is_file():
        return Migration(str(path), None, SCHEMA_VERSION)
    conn = connect_reader(location)
    try:
        version = _version_of(conn, path)
    finally:
        conn.close()
    return Migration(
        str(path), version, SCHEMA_VERSION, summaries(steps_between(STEPS, version, SCHEMA_VERSION))
    )


def migrate_sqlite(
    location: SQLiteLocation,
    *,
    backup: bool = True,
    say: Callable[[str], None] | None = None,
) -> Migration:
    """Bring the store at ``location`` to this pigeon's layout (nothing to do is cheap).

    Args:
        location: the store.
        backup: copy the store aside before changing it.
        say: told, in words, each stage as it starts (for a command's output).

    Raises:
        StoreInUseError: another collector has the store open.
        StoreError: the store is not a pigeon store or is newer than this pigeon,
            or the backup or migration failed (the store is then as it was).
    """
    plan = plan_sqlite(location)
    if not plan.needed:
        return plan
    started = time.monotonic()
    path = location.path
    lock = WriteLock(path)
    try:
        with lock.held():
            conn = _connect_writing(location)
            try:
                version = _version_of(conn, path)  # another process may have migrated it
                steps = steps_between(STEPS, version, SCHEMA_VERSION)
                if not steps:
                    return Migration(str(path), version, SCHEMA_VERSION)
                with _claimed(path):
                    _remove_partial_backups(path)
                    copy = None
                    if backup:
                        copy = _backup_path(path, version)
                        if say is not None:
                            say(f"backing up {path} (layout {version}) to {copy}")
                        try:
                            backup_sqlite(location, copy)
                        except StoreError as exc:
                            raise StoreError(
                                f"{exc}; nothing was migrated (the store is unchanged)"
                            ) from None
                    _run(conn, path, steps, say)
            finally:
                conn.close()
    finally:
        lock.close()
    return Migration(
        str(path), version, SCHEMA_VERSION, summaries(steps), copy, time.monotonic() - started
    )


def _run(
    conn: sqlite3.Connection, path: Path, steps: list[SQLiteStep], say: Callable[[str], None] | None
) -> None:
    try:
        conn.execute("BEGIN IMMEDIATE")
        for step in steps:
            if say is not None:
                say(f"migrating {path} from layout {step.source} to {step.target}")
            step.run(conn)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (steps[-1].target,))
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise StoreError(
            f"cannot migrate the SQLite store at {path}: {exc} (the store is unchanged)"
        ) from None


def _connect_writing(location: SQLiteLocation) -> sqlite3.Connection:
    """A writing connection that neither checks nor creates the layout (``connect_writer`` does)."""
    path = location.path
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA cache_size = -131072")
        register_functions(conn)  # the steps upsert bitmaps with bit_or
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the SQLite store at {path}: {exc}") from None
    return conn


def _version_of(conn: sqlite3.Connection, path: Path) -> str:
    try:
        version = stored_version(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} cannot be read as a pigeon store: {exc}") from None
    if version is None:
        raise StoreError(f"{path} is not a pigeon store (no layout version)")
    problem = version_problem(path, version, older_ok=True)
    if problem is not None:
        raise StoreError(problem)
    return version


def _backup_path(path: Path, version: str) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    candidate = path.with_name(f"{path.stem}.layout-{version}.{stamp}.db")
    number = 1
    while candidate.exists():  # two migrations in one second (one was rolled back)
        number += 1
        candidate = path.with_name(f"{path.stem}.layout-{version}.{stamp}-{number}.db")
    return candidate


def _remove_partial_backups(path: Path) -> None:
    """Delete backups that a killed migration left half-written (never a complete one).

    Only called with the store claimed: no other migration is copying it now.
    """
    for partial in path.parent.glob(f".{glob.escape(path.stem)}.layout-*.db.partial-*"):
        partial.unlink(missing_ok=True)


@contextlib.contextmanager
def _claimed(path: Path) -> Iterator[None]:
    lock = InUseLock(path)
    if not lock.claim():
        raise StoreInUseError(
            f"a collector is using {path}: stop every collector serving it, then migrate"
        )
    try:
        yield
    finally:
        lock.release()
