"""``pigeon catalog docs NAME``: the app's telemetry policy page, in Markdown."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pigeon._policy_page import policy_page
from pigeon.cli._commands import CommandError, load_catalog

__all__ = ["add_docs", "run_docs"]


def add_docs(actions: Any) -> None:
    """Add ``catalog docs`` to the ``catalog`` group's actions."""
    parser: argparse.ArgumentParser = actions.add_parser(
        "docs",
        help="write the telemetry policy page of a catalog (Markdown)",
        description="Write the user-facing telemetry policy page generated from a catalog: "
        "what is collected and why, every event and property, where each is sent from, "
        "how to opt out, what is never collected and where the id file lives.\n\n"
        "Example:\n  pigeon catalog docs argilla --output docs/telemetry.md\n"
        "  pigeon catalog docs ./my-app.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", help="a shipped catalog or a path")
    parser.add_argument(
        "--output", "-o", metavar="FILE", default=None, help="write here instead of stdout"
    )
    parser.set_defaults(handler=run_docs, command_name="catalog docs")


def run_docs(args: argparse.Namespace) -> int:
    """Print or write the page; exit 0, 1 (cannot write FILE) or 2 (bad catalog)."""
    page = policy_page(load_catalog(args.name))
    if args.output is None:
        sys.stdout.write(page)
        return 0
    try:
        # newline="\n": the committed page is the same bytes on every platform.
        with open(args.output, "w", encoding="utf-8", newline="\n") as file:
            file.write(page)
    except OSError as exc:
        raise CommandError(f"{args.output}: cannot write: {exc.strerror}", status=1) from None
    return 0
