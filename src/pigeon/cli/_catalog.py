"""``pigeon catalog show|diff|docs``: read a catalog, compare two, write its policy page."""

from __future__ import annotations

import argparse
from typing import Any

from pigeon._catalog_text import describe
from pigeon.catalog import available_catalogs
from pigeon.cli._catalog_diff import add_diff
from pigeon.cli._catalog_docs import add_docs
from pigeon.cli._commands import load_catalog

__all__ = ["register", "run_show"]


def register(sub: Any) -> None:
    """Add the ``catalog`` subcommand group."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "catalog",
        help="show, compare or document an event catalog",
        description="Show an event catalog (every event, every property, its type, "
        "bounds and purpose), compare two versions of one, or write its telemetry "
        "policy page.\n\nExample:\n  pigeon catalog show argilla\n"
        "  pigeon catalog show ./my-app.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser(
        "show",
        help="print a catalog as a table",
        description="Print a catalog as a table.\n\nExample:\n  pigeon catalog show argilla",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument(
        "name", help=f"a shipped catalog ({', '.join(available_catalogs())}) or a path"
    )
    show.set_defaults(handler=run_show, command_name="catalog show")
    add_diff(actions)
    add_docs(actions)


def run_show(args: argparse.Namespace) -> int:
    """Print the table; exit 0 (or 2 for an unknown or malformed catalog)."""
    catalog = load_catalog(args.name)
    out = [f"catalog {catalog.name} v{catalog.version}: {catalog.description}", ""]
    for event in catalog.events.values():
        out.append(f"{event.name}")
        out.append(f"  purpose: {event.purpose}")
        if event.sent_from:
            out.append(f"  sent from: {event.sent_from}")
        if not event.properties:
            out.append("  (no properties beyond the context)")
        for prop in event.properties.values():
            out.append(f"  - {prop.name}: {describe(prop)}")
            out.append(f"      purpose: {prop.purpose}")
        out.append("")
    out.append(
        "Context sent with every event: anonymous install id, app name and version, "
        "Python version, system, release, system version string, machine, platform string, "
        "SDK and catalog versions."
    )
    out.append(
        "Never sent: IP addresses, hostnames, user names, paths, dataset names, records, "
        "metadata, exception messages, or any property not declared above."
    )
    print("\n".join(out))
    return 0
