"""``pigeon backup`` and ``pigeon restore``: copy a store aside, and put a copy back.

For SQLite both commands do the copy (``pigeon.collector.storage._sqlite_backup``);
``backup`` is safe while collectors write. For ClickHouse they print the
server's own ``BACKUP`` / ``RESTORE`` commands and exit 1, since no copy was
made. The store code is standard library only, so neither needs an extra.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pigeon.cli._commands import CommandError, add_store_option

if TYPE_CHECKING:
    from pigeon.collector.storage._sqlite_backup import CopyResult
    from pigeon.collector.storage._sqlite_schema import SQLiteLocation

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``backup`` and ``restore`` subcommands."""
    backup = sub.add_parser(
        "backup",
        help="copy a collector's store to a file, safely while it runs",
        description="Copy a SQLite store to DEST, a new file, while collectors keep "
        "writing: the copy is the store as it was when the backup began. DEST appears "
        "only once complete. For a ClickHouse store, print the server's BACKUP commands.\n\n"
        "Example:\n"
        "  pigeon backup --store sqlite:////var/lib/pigeon/pigeon.db "
        "/backups/pigeon-$(date +%F).db",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_store_option(backup)
    backup.add_argument("dest", metavar="DEST", help="the backup file to create")
    backup.set_defaults(handler=run_backup)
    restore = sub.add_parser(
        "restore",
        help="replace a stopped collector's store with a backup",
        description="Check that SRC is an intact pigeon store of a layout this version "
        "opens, then replace the store with it. Refuses while any collector uses the "
        "store, and refuses to replace an existing store without --force. For a ClickHouse "
        "store, print the server's RESTORE commands.\n\n"
        "Example:\n"
        "  pigeon restore --store sqlite:////var/lib/pigeon/pigeon.db --force "
        "/backups/pigeon-2026-12-01.db",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_store_option(restore)
    restore.add_argument("--force", action="store_true", help="replace the store if one exists")
    restore.add_argument("source", metavar="SRC", help="the backup file to restore")
    restore.set_defaults(handler=run_restore)


def run_backup(args: argparse.Namespace) -> int:
    """Back the store up; exit 0, else 1 (or 2 for bad input) with one line on stderr."""
    from pigeon.collector.storage import StoreError
    from pigeon.collector.storage._sqlite_backup import DestinationExistsError, backup_sqlite

    location = _sqlite_location(args.store, Path(args.dest).name, restore=False)
    try:
        result = backup_sqlite(location, Path(args.dest))
    except DestinationExistsError as exc:
        raise CommandError(str(exc)) from None
    except StoreError as exc:
        raise CommandError(str(exc), status=1) from None
    _say("backup", f"{location.path} copied to {_summary(result)}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    """Restore the store from a backup; exit 0, else 1 (or 2 for bad input) with one line."""
    from pigeon.collector.storage import StoreError
    from pigeon.collector.storage._sqlite_backup import DestinationExistsError, restore_sqlite

    location = _sqlite_location(args.store, Path(args.source).name, restore=True)
    source = Path(args.source)
    if not source.is_file():
        raise CommandError(f"no backup at {source}")
    try:
        result = restore_sqlite(source, location, force=args.force)
    except DestinationExistsError as exc:
        raise CommandError(str(exc)) from None
    except StoreError as exc:
        raise CommandError(str(exc), status=1) from None
    _say("restore", f"{source} restored to {_summary(result)}")
    return 0


def _sqlite_location(url: str, name: str, *, restore: bool) -> SQLiteLocation:
    """The SQLite location of ``url``; for a ClickHouse URL, print its commands and fail."""
    from pigeon.collector.storage import StoreError, redact_url
    from pigeon.collector.storage._sqlite_schema import parse_sqlite_url

    undone = "nothing was restored" if restore else "no backup was made"
    if url.lower().startswith("clickhouse:"):
        from pigeon.collector.storage.clickhouse._backup import backup_instructions
        from pigeon.collector.storage.clickhouse._url import parse_clickhouse_url

        try:
            location = parse_clickhouse_url(url)
        except StoreError as exc:
            raise CommandError(f"--store: {exc}") from None
        sys.stdout.write(backup_instructions(location, name, restore=restore))
        raise CommandError(
            f"pigeon copies SQLite stores only, so {undone} of {redact_url(url)}; "
            "run the commands printed above",
            status=1,
        )
    try:
        return parse_sqlite_url(url)
    except StoreError as exc:
        raise CommandError(f"--store: {exc}") from None


def _summary(result: CopyResult) -> str:
    size = result.size / 1_000_000
    return f"{result.path} ({result.events:,} events, {size:,.1f} MB, {result.seconds:.1f} s)"


def _say(command: str, message: str) -> None:
    sys.stdout.write(f"pigeon {command}: {message}\n")
    sys.stdout.flush()
