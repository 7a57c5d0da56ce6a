"""``pigeon catalog diff OLD NEW``: what changed, and whether the version had to change."""

from __future__ import annotations

import argparse
import json
from typing import Any, Final, get_args

from pigeon._catalog_diff import CatalogDiff, ChangeKind, diff_catalogs
from pigeon.catalog import Catalog
from pigeon.cli._commands import CommandError, load_catalog

__all__ = ["JSON_SCHEMA_VERSION", "add_diff", "as_json", "run_diff"]

JSON_SCHEMA_VERSION: Final = 1
"""The ``schema`` field of ``--format json``; it changes only when a field changes meaning."""


def add_diff(actions: Any) -> None:
    """Add ``catalog diff`` to the ``catalog`` group's actions."""
    parser: argparse.ArgumentParser = actions.add_parser(
        "diff",
        help="compare two catalogs: added, removed, widened, narrowed, reworded",
        description="Compare two catalogs (a shipped name or a path each): added, removed, "
        "widened and narrowed events and properties, and changed purposes. Exit status 1 "
        "when something was added or widened without a new catalog version, so that CI "
        "can refuse it; 2 for a missing or malformed catalog.\n\n"
        "Example:\n  pigeon catalog diff argilla ./argilla.toml\n"
        "  pigeon catalog diff --format json old.toml new.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("old", metavar="OLD", help="the catalog before: a name or a path")
    parser.add_argument("new", metavar="NEW", help="the catalog after: a name or a path")
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format"
    )
    parser.set_defaults(handler=run_diff, command_name="catalog diff")


def run_diff(args: argparse.Namespace) -> int:
    """Print the changes; exit 0, 1 (a version bump is missing) or 2 (bad input)."""
    diff = diff_catalogs(load_catalog(args.old), load_catalog(args.new))
    if args.format == "json":
        print(json.dumps(as_json(diff), indent=2))
    else:
        print(_table(diff))
    if not diff.compatible:
        needing = ", ".join(f"{c.where} ({c.kind}: {c.detail})" for c in diff.needing_bump)
        raise CommandError(
            f"added or widened without a catalog version bump (version {diff.old.version!r} "
            f"-> {diff.new.version!r}): {needing}; raise [catalog] version in {diff.new.source}",
            status=1,
        )
    return 0


def as_json(diff: CatalogDiff) -> dict[str, Any]:
    """The ``--format json`` document (schema in docs/catalog.md)."""
    return {
        "schema": JSON_SCHEMA_VERSION,
        "old": _side(diff.old),
        "new": _side(diff.new),
        "version_bumped": diff.version_bumped,
        "needs_version_bump": [] if diff.compatible else _places(diff),
        "compatible": diff.compatible,
        "changes": [
            {
                "kind": c.kind,
                "event": c.event,
                "property": c.prop,
                "aspect": c.aspect,
                "old": list(c.old) if isinstance(c.old, tuple) else c.old,
                "new": list(c.new) if isinstance(c.new, tuple) else c.new,
                "detail": c.detail,
            }
            for c in diff.changes
        ],
    }


def _places(diff: CatalogDiff) -> list[str]:
    """Each event or property waiting for a bump, once (a property may widen twice)."""
    return list(dict.fromkeys(c.where for c in diff.needing_bump))


def _side(catalog: Catalog) -> dict[str, str]:
    return {"name": catalog.name, "version": catalog.version, "source": catalog.source}


def _table(diff: CatalogDiff) -> str:
    old, new = diff.old, diff.new
    lines = [
        f"{old.name} v{old.version} ({old.source}) -> {new.name} v{new.version} ({new.source})"
    ]
    if not diff.changes:
        lines.append("no changes")
        return "\n".join(lines)
    rows = [("KIND", "EVENT", "PROPERTY", "CHANGE")] + [
        (c.kind, c.event, c.prop or "-", c.detail) for c in diff.changes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines.append("")
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[3]]))
    kinds = [c.kind for c in diff.changes]
    summary = ", ".join(f"{kinds.count(k)} {k}" for k in get_args(ChangeKind) if k in kinds)
    lines += ["", f"{len(diff.changes)} changes: {summary}"]
    if diff.needing_bump:
        bumped = "bumped" if diff.version_bumped else "NOT bumped"
        lines.append(f"additions or widenings need a new version: version {bumped}")
    return "\n".join(lines)
