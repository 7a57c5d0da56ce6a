"""What lets several processes share one SQLite store: locks and a generation.

Several collector processes (``pigeon serve --workers N``, or two collectors
pointed at one file) each run a writer thread. SQLite already serialises
their transactions, but its busy handler polls with sleeps of 1 to 100 ms,
so a waiting writer idles long after the lock is free. :class:`WriteLock`
is an ``flock`` on a file beside the store, taken around each write
transaction: the kernel wakes the next writer as soon as the lock is
released. It only orders pigeon's own writers; SQLite's locks still decide
correctness, so a process that does not take it (a bulk import) is safe.

Each writer also keeps memories of what the store holds (install rows and
ordinals already written). Only forgetting an install makes such a memory
wrong, so forget bumps a *generation* stored in ``meta``; every write
transaction reads it first and drops its memories when it changed.

:class:`InUseLock` tells whether any collector has the store open: each
writing store holds it shared for its whole life, and ``pigeon restore``
takes it exclusively, so it never replaces a file a collector is writing, and
a collector does not start on a file being replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from pigeon.collector.storage._errors import StoreInUseError

__all__ = ["GENERATION_KEY", "InUseLock", "WriteLock", "bump_generation", "read_generation"]

GENERATION_KEY: Final = "generation"
"""The ``meta`` key of the store's generation (bumped by every forget)."""


class WriteLock:
    """An exclusive ``flock`` on ``<store>-lock``, held around each write transaction.

    The file is opened on first use, in the writer thread. If it cannot be
    opened (a read-only directory that still holds a writable store), the
    lock is skipped: SQLite's own locking still keeps writes correct.
    """

    def __init__(self, store_path: Path) -> None:
        """Lock beside the store file at ``store_path``."""
        self.path = store_path.with_name(f"{store_path.name}-lock")
        self._fd: int | None = None
        self._usable = True

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for the duration of the ``with`` block."""
        fd = self._open()
        if fd is None:
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks without the GIL
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (the lock itself is never held between transactions)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> int | None:
        if self._fd is None and self._usable:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                self._usable = False
        return self._fd


class InUseLock:
    """A ``flock`` on ``<store>-in-use``: shared by each open writing store, exclusive in a restore.

    The kernel drops it when its process ends, however it ends, so a killed
    collector never leaves the store marked as in use. When the file cannot
    be created (a read-only directory), nothing is locked: a restore could
    not write there either.
    """

    def __init__(self, store_path: Path) -> None:
        """Lock beside the store file at ``store_path``."""
        self.store_path = store_path
        self.path = store_path.with_name(f"{store_path.name}-in-use")
        self._fd: int | None = None

    def share(self) -> None:
        """Mark the store as used by this process (until :meth:`release`).

        Raises:
            StoreInUseError: a restore is replacing the store right now.
        """
        fd = self._open()
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            raise StoreInUseError(
                f"{self.store_path} is being replaced by `pigeon restore`; "
                "start the collector when it has finished"
            ) from None

    def claim(self) -> bool:
        """Take the store for this process alone; False when any other process uses it."""
        fd = self._open()
        if fd is None:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            return False
        return True

    def release(self) -> None:
        """Let go of the lock (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases its flock
            self._fd = None

    def _open(self) -> int | None:
        if self._fd is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                return None
        return self._fd


def read_generation(conn: sqlite3.Connection) -> int:
    """The store's generation (0 before the first forget)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (GENERATION_KEY,)).fetchone()
    return 0 if row is None else int(row[0])


def bump_generation(conn: sqlite3.Connection) -> int:
    """Start a new generation (inside the forgetting transaction); return it."""
    new = read_generation(conn) + 1
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (GENERATION_KEY, str(new)),
    )
    return new
