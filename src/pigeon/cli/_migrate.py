"""``pigeon migrate``: bring a store written by an older pigeon to this version's layout.

A collector does the same at start; this runs it alone (before a rolling
upgrade, or to see what it would do with ``--dry-run``). The store code is
standard library only for SQLite, so the command needs no extra for it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pigeon.cli._commands import CommandError, add_store_option

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``migrate`` subcommand."""
    parser = sub.add_parser(
        "migrate",
        help="upgrade a store written by an older pigeon to this version's layout",
        description="Upgrade the store's layout in place. SQLite: every collector serving "
        "the file must be stopped; the store is first copied beside itself "
        "(<name>.layout-N.<time>.db), then changed in one transaction, so an interrupted "
        "migration leaves it as it was. ClickHouse: idempotent statements, the version "
        "recorded last. A collector runs the same migration at start.\n\n"
        "Example:\n"
        "  pigeon migrate --store sqlite:////var/lib/pigeon/pigeon.db --dry-run\n"
        "  pigeon migrate --store sqlite:////var/lib/pigeon/pigeon.db",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_store_option(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would change; change nothing"
    )
    parser.add_argument(
        "--no-backup",
        action="store_true",
        help="do not copy a SQLite store aside first (you have your own backup)",
    )
    parser.set_defaults(handler=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    """Migrate (or plan); exit 0, else 1 with one line on stderr (2 for a bad URL)."""
    from pigeon.collector.storage import StoreError, redact_url
    from pigeon.collector.storage._migration import migrate_store
    from pigeon.collector.storage._open import scheme_of

    try:
        scheme_of(args.store)
    except StoreError as exc:
        raise CommandError(f"--store: {exc}") from None
    try:
        result = migrate_store(
            args.store, dry_run=args.dry_run, backup=not args.no_backup, say=_say
        )
    except StoreError as exc:
        raise CommandError(str(exc), status=1) from None
    store = redact_url(args.store)
    if result.created:
        _say(f"created {store} at layout {result.target}")
    elif result.source is None:
        _say(f"no store at {store} yet: it is created at layout {result.target} on first start")
    elif not result.needed:
        _say(f"{store} is up to date (layout {result.target})")
    elif args.dry_run:
        _say(f"{store} is at layout {result.source}; migrating it to {result.target} would:")
        for step in result.steps:
            sys.stdout.write(f"  - {step}\n")
        if not args.no_backup and args.store.lower().startswith("sqlite:"):
            sys.stdout.write("  (after copying the store beside itself)\n")
    else:
        copy = f"; backup at {result.backup}" if result.backup is not None else ""
        _say(
            f"{store} migrated from layout {result.source} to {result.target} "
            f"in {result.seconds:.1f} s{copy}"
        )
    return 0


def _say(message: str) -> None:
    sys.stdout.write(f"pigeon migrate: {message}\n")
    sys.stdout.flush()
