"""The SQLite layout, its URL and its connections.

Tables (every one ``WITHOUT ROWID``: the primary key *is* the storage order):

- ``events``: one row per stored event, keyed by ``message_id``. pigeon's ids
  are UUIDv7, time ordered, so new rows append at the right edge of the B-tree.
  ``events_by_day`` serves retention, ``events_by_install`` serves forget.
- ``rollup_daily(app, dimension, day, value, events, amount, installs)``: what
  every dashboard view sums (see ``pigeon.collector.storage._dimensions``);
  ``installs`` is the distinct installs of that day and value.
- ``rollup_weekly(app, dimension, week, value, events, amount)``: the same sums
  per week (Monday to Sunday), so the sums over a range read a row per value
  and week, not per value and day (a range's whole weeks; its edge days come
  from ``rollup_daily``). Derived from ``rollup_daily`` and written with it.
- ``rollup_installs(app, dimension, day, value, install)``: one row per
  distinct install in a bucket, ``install`` being a 64-bit hash of the
  anonymous id. The writer learns from it which installs are new in a bucket;
  ``rollup_installs_by_install`` serves forget. Reads never scan it.
- ``install_ordinals(install, ordinal)``: a dense number per install (one
  numbering for every app, so bitmaps of several apps can be ORed).
- ``rollup_bitmaps(app, dimension, day, value, chunk, bits)`` and
  ``rollup_bitmaps_weekly(app, dimension, week, value, chunk, bits)``: the
  installs of a bucket as bitmaps of ordinals (see ``_sqlite_bitmaps``), so
  distinct installs over a range are an OR of a few weekly and daily rows.
- ``apps``: the apps that have data (reads list them instead of scanning).
- ``meta``: the layout version (``schema_version``) and the forget generation.

Every layout pigeon has shipped is listed in :data:`LAYOUTS`; a store of an
older one is migrated in place at start (``_sqlite_migrate``), a store of a
newer one is refused.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from pigeon.collector.storage._errors import StoreError
from pigeon.collector.storage._raw import RAW_COLUMNS
from pigeon.collector.storage._sqlite_bitmaps import register_functions

__all__ = [
    "EVENT_COLUMNS",
    "LAYOUTS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SQLiteLocation",
    "connect_reader",
    "connect_writer",
    "parse_sqlite_url",
    "stored_version",
    "version_problem",
]

LAYOUTS: Final = ("1", "2", "3", "4")
"""Every layout version a pigeon release wrote, oldest first (each has a migration to the next)."""

SCHEMA_VERSION: Final = LAYOUTS[-1]
"""The layout this pigeon writes."""

EVENT_COLUMNS: Final = RAW_COLUMNS
"""The columns of ``events``, in the order rows are bound."""

SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS events (
        message_id TEXT NOT NULL PRIMARY KEY,
        app TEXT NOT NULL,
        event TEXT NOT NULL,
        anonymous_id TEXT NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        received_ms INTEGER NOT NULL,
        day INTEGER NOT NULL,
        app_version TEXT NOT NULL,
        python_version TEXT NOT NULL,
        system TEXT NOT NULL,
        release TEXT NOT NULL,
        machine TEXT NOT NULL,
        platform TEXT NOT NULL,
        library TEXT NOT NULL,
        catalog_version TEXT NOT NULL,
        properties TEXT NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS events_by_day ON events (day)",
    "CREATE INDEX IF NOT EXISTS events_by_install ON events (app, anonymous_id)",
    """CREATE TABLE IF NOT EXISTS rollup_daily (
        app TEXT NOT NULL,
        dimension TEXT NOT NULL,
        day INTEGER NOT NULL,
        value TEXT NOT NULL,
        events INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        installs INTEGER NOT NULL,
        PRIMARY KEY (app, dimension, day, value)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS rollup_weekly (
        app TEXT NOT NULL,
        dimension TEXT NOT NULL,
        week INTEGER NOT NULL,
        value TEXT NOT NULL,
        events INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        PRIMARY KEY (app, dimension, week, value)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS rollup_installs (
        app TEXT NOT NULL,
        dimension TEXT NOT NULL,
        day INTEGER NOT NULL,
        value TEXT NOT NULL,
        install INTEGER NOT NULL,
        PRIMARY KEY (app, dimension, day, value, install)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS rollup_installs_by_install ON rollup_installs (app, install)",
    """CREATE TABLE IF NOT EXISTS install_ordinals (
        install INTEGER NOT NULL PRIMARY KEY,
        ordinal INTEGER NOT NULL UNIQUE
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS rollup_bitmaps (
        app TEXT NOT NULL,
        dimension TEXT NOT NULL,
        day INTEGER NOT NULL,
        value TEXT NOT NULL,
        chunk INTEGER NOT NULL,
        bits BLOB NOT NULL,
        PRIMARY KEY (app, dimension, day, value, chunk)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS rollup_bitmaps_weekly (
        app TEXT NOT NULL,
        dimension TEXT NOT NULL,
        week INTEGER NOT NULL,
        value TEXT NOT NULL,
        chunk INTEGER NOT NULL,
        bits BLOB NOT NULL,
        PRIMARY KEY (app, dimension, week, value, chunk)
    ) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS apps (app TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID",
    """CREATE TABLE IF NOT EXISTS meta (
        key TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID""",
)
"""Every statement that creates the layout (idempotent)."""

Synchronous = Literal["normal", "full"]


@dataclass(frozen=True, slots=True)
class SQLiteLocation:
    """A parsed ``sqlite:///PATH[?synchronous=normal|full]`` URL."""

    path: Path
    synchronous: Synchronous = "normal"


def parse_sqlite_url(url: str) -> SQLiteLocation:
    """Parse ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``.

    Raises:
        StoreError: not a SQLite URL, no path, or an unknown option.
    """
    prefix = "sqlite:///"
    if not url.lower().startswith(prefix):
        raise StoreError(f"a SQLite store URL looks like sqlite:///PATH, got {url!r}")
    rest = url[len(prefix) :]
    path_text, _, query = rest.partition("?")
    path_text = urllib.parse.unquote(path_text)
    if not path_text or path_text == ":memory:" or path_text.endswith("/"):
        raise StoreError(f"a SQLite store needs a file path: sqlite:///PATH, got {url!r}")
    synchronous: Synchronous = "normal"
    for key, values in urllib.parse.parse_qs(query, keep_blank_values=True).items():
        value = values[-1].lower()
        if key != "synchronous" or value not in ("normal", "full"):
            raise StoreError(
                f"unknown SQLite store option {key}={values[-1]!r} (known: synchronous=normal|full)"
            )
        synchronous = "full" if value == "full" else "normal"
    return SQLiteLocation(Path(path_text), synchronous)


def connect_writer(location: SQLiteLocation) -> sqlite3.Connection:
    """Open (creating the file and layout if needed) the one writing connection.

    Raises:
        StoreError: the directory or file cannot be created or opened, or the
            file holds a layout this version does not know.
    """
    path = location.path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open the SQLite store at {path}: {exc}") from None
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: the file system does not support SQLite's WAL mode")
        # WAL + synchronous=NORMAL: a commit is written to the WAL file (the OS
        # page cache) before COMMIT returns, so it survives the process being
        # killed (SIGKILL, OOM, crash); only a power loss or kernel crash can
        # lose the last transactions, because the WAL is fsynced at checkpoints
        # only. `?synchronous=full` fsyncs every commit, for power-loss safety.
        conn.execute(f"PRAGMA synchronous = {location.synchronous.upper()}")
        conn.execute("PRAGMA cache_size = -131072")  # 128 MiB: keeps the hot index pages
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA wal_autocheckpoint = 16000")  # checkpoint every ~64 MB of WAL
        register_functions(conn)
        conn.execute("BEGIN IMMEDIATE")
        # The version is checked before creating anything: an old file is left as it was.
        version = stored_version(conn)
        if version is not None:
            _check_version(path, version)
        for statement in SCHEMA:
            conn.execute(statement)
        if version is None:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot open the SQLite store at {path}: {exc}") from None
    except StoreError:
        conn.close()
        raise
    return conn


def stored_version(conn: sqlite3.Connection) -> str | None:
    """The layout version of the store on ``conn``; ``None`` when it has none (a new file)."""
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if has_meta is None:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return None if row is None else str(row[0])


def version_problem(path: Path, version: str, *, older_ok: bool = False) -> str | None:
    """Why this pigeon cannot use a store of layout ``version`` as it is (``None``: it can).

    Args:
        path: the store file, for the message.
        version: its layout version.
        older_ok: an older layout that a migration upgrades is acceptable
            (a backup or restore copies it as it is).
    """
    if version == SCHEMA_VERSION:
        return None
    if version in LAYOUTS:
        if older_ok:
            return None
        return (
            f"{path}: store layout {version} is older than this pigeon's ({SCHEMA_VERSION}): "
            "start the collector, which migrates it in place after a backup, or run "
            f"`pigeon migrate --store sqlite:///{path}`"
        )
    if version.isdigit() and int(version) > int(SCHEMA_VERSION):
        return (
            f"{path}: store layout {version} was written by a newer pigeon (this one knows "
            f"layouts up to {SCHEMA_VERSION}): upgrade pigeon, or restore the backup "
            "taken before that upgrade"
        )
    return f"{path}: store layout {version!r} was not written by any pigeon release"


def _check_version(path: Path, version: str, *, older_ok: bool = False) -> None:
    problem = version_problem(path, version, older_ok=older_ok)
    if problem is not None:
        raise StoreError(problem)


def connect_reader(
    location: SQLiteLocation,
    *,
    check: bool = False,
    older_ok: bool = False,
    same_thread: bool = True,
) -> sqlite3.Connection:
    """A read-only connection to an existing store (never creates the file).

    Args:
        location: the store.
        check: also verify that the file is a store of this layout version.
        older_ok: with ``check``, also accept a layout a migration upgrades.
        same_thread: refuse use from another thread (False: the caller
            guarantees one thread at a time, e.g. closing after its thread ended).

    Raises:
        StoreError: no store at the path, or (``check``) not one this version reads.
    """
    path = location.path
    if check and not path.is_file():
        raise StoreError(f"no store at {path} (start the collector first?)")
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=same_thread)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the SQLite store at {path}: {exc}") from None
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA query_only = 1")
        conn.execute("PRAGMA cache_size = -32768")
        if check:
            version = stored_version(conn)
            if version is None:
                raise StoreError(f"{path} is not a pigeon store (no layout version)")
            _check_version(path, version, older_ok=older_ok)
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot read the SQLite store at {path}: {exc}") from None
    except StoreError:
        conn.close()
        raise
    return conn
