"""Back a SQLite store up while collectors write it, and restore it from such a copy.

A backup is SQLite's online backup API run over one read transaction on the
source. In WAL mode a reader never blocks writers, so collectors keep
committing while the copy runs, and the copy is the store as it was when that
transaction began. Without the transaction, each step of the API would see the
writers' new commits and start the copy over: under steady ingestion it would
never end. The copy is stepped a few MiB at a time and written beside the
destination, then renamed, so a destination path only ever holds a complete
backup. It is a rollback-journal file: one self-contained file, that opens
read-only without leaving ``-wal`` and ``-shm`` files beside it.

A backup or restore copies a store of an older layout as it is (the next
start migrates it). A restore checks that the source is a pigeon store this
version opens or migrates, and not corrupt, refuses while any collector has the destination open
(:class:`~pigeon.collector.storage._sqlite_shared.InUseLock`, held for the
whole restore so none starts meanwhile), copies the source beside the
destination, removes the destination's ``-wal`` and ``-shm`` (SQLite would
otherwise apply the old store's log to the new file) and renames the copy.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pigeon.collector.storage._errors import StoreError, StoreInUseError
from pigeon.collector.storage._sqlite_schema import SQLiteLocation, connect_reader
from pigeon.collector.storage._sqlite_shared import InUseLock

__all__ = ["STEP_PAGES", "CopyResult", "DestinationExistsError", "backup_sqlite", "restore_sqlite"]

STEP_PAGES: Final = 1024
"""Pages copied per step of the backup API (4 MiB at SQLite's default page size)."""


class DestinationExistsError(StoreError):
    """The file to write exists: a backup never overwrites, a restore only when forced."""


@dataclass(frozen=True)
class CopyResult:
    """What a backup or a restore wrote.

    Attributes:
        path: the file written.
        events: raw events in it.
        size: its size in bytes.
        seconds: how long the copy took.
    """

    path: Path
    events: int
    size: int
    seconds: float


def backup_sqlite(location: SQLiteLocation, dest: Path) -> CopyResult:
    """Copy the store at ``location`` to the new file ``dest`` (collectors may be writing).

    Raises:
        DestinationExistsError: ``dest`` exists.
        StoreError: no pigeon store this version opens or migrates at ``location``, or the
            copy failed (nothing is left at ``dest`` then).
    """
    if dest.exists():  # the store itself included
        raise DestinationExistsError(f"{dest} exists: give the path of a new file")
    started = time.monotonic()
    source = connect_reader(location, check=True, older_ok=True)
    try:
        # One read transaction for the whole copy: a snapshot that writers do
        # not disturb (and, in WAL mode, are not blocked by). Closing ends it.
        source.execute("BEGIN")
        source.execute("SELECT value FROM meta LIMIT 1").fetchall()
        events = _copy(source, dest, f"cannot back up {location.path} to {dest}")
    finally:
        source.close()
    return CopyResult(dest, events, dest.stat().st_size, time.monotonic() - started)


def restore_sqlite(source_path: Path, location: SQLiteLocation, *, force: bool) -> CopyResult:
    """Replace the store at ``location`` with the backup at ``source_path``.

    Args:
        source_path: a file written by :func:`backup_sqlite` (or a store file).
        location: the store to restore; no collector may have it open.
        force: replace a store that exists (else refuse).

    Raises:
        StoreInUseError: a collector has the destination open (checked first).
        DestinationExistsError: the destination exists and ``force`` is false.
        StoreError: the source is missing, not a pigeon store this version opens or migrates,
            or corrupt; or the copy failed (the destination is then left as it was).
    """
    dest = location.path
    if not source_path.is_file():
        raise StoreError(f"no backup at {source_path}")
    if dest.exists() and source_path.resolve() == dest.resolve():
        raise StoreError("the backup is the store itself")
    started = time.monotonic()
    source = connect_reader(SQLiteLocation(source_path), check=True, older_ok=True)
    try:
        _check_integrity(source, source_path)
        with _claimed(dest):
            if dest.exists() and not force:
                raise DestinationExistsError(
                    f"a store exists at {dest}: pass --force to replace it"
                )
            events = _copy(source, dest, f"cannot restore {source_path} to {dest}", replace=True)
    finally:
        source.close()
    return CopyResult(dest, events, dest.stat().st_size, time.monotonic() - started)


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    try:
        problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check(3)")]
    except sqlite3.Error as exc:
        raise StoreError(f"{path} cannot be read: {exc}") from None
    if problems != ["ok"]:
        raise StoreError(f"{path} is damaged: {'; '.join(problems)}")


@contextlib.contextmanager
def _claimed(dest: Path) -> Iterator[None]:
    lock = InUseLock(dest)
    if not lock.claim():
        raise StoreInUseError(
            f"a collector is using {dest}: stop it (every process serving this store) first"
        )
    try:
        yield
    finally:
        lock.release()


def _copy(source: sqlite3.Connection, dest: Path, failure: str, *, replace: bool = False) -> int:
    """Copy ``source`` to ``dest`` through a file beside it; return the events copied."""
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        target = sqlite3.connect(partial, isolation_level=None)
        try:
            source.backup(target, pages=STEP_PAGES)
            # The pages copied say WAL; one file with no log beside it is what a copy should be.
            target.execute("PRAGMA journal_mode = DELETE")
            events = int(target.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        finally:
            target.close()
        _fsync(partial)
        connect_reader(SQLiteLocation(partial), check=True, older_ok=True).close()
        if replace:
            for suffix in ("-wal", "-shm"):
                dest.with_name(dest.name + suffix).unlink(missing_ok=True)
        os.replace(partial, dest)
        _fsync(dest.parent)
    except BaseException as exc:  # Ctrl-C included: no partial copy is left behind
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError | sqlite3.Error):
            raise StoreError(f"{failure}: {exc}") from None
        raise
    return events


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
