"""``pigeon preview --app NAME``: the exact JSON that would be sent, one sample per event."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from pigeon._pipeline import Pipeline
from pigeon._settings import read_settings
from pigeon.cli._commands import add_app_argument, load_app_catalog

__all__ = ["PREVIEW_ID", "register", "run"]

PREVIEW_ID = "00000000-0000-4000-8000-000000000000"
"""The placeholder install id shown instead of a real one (preview creates no id file)."""


def register(sub: Any) -> None:
    """Add the ``preview`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "preview",
        help="print the exact JSON an app would send (one sample per event)",
        description="Print the exact batch an app would send, with one sample of each "
        "event of its catalog and the full context of this machine. Nothing is sent "
        "and no id file is created (the install id shown is a placeholder).\n\n"
        "Example:\n  pigeon preview --app argilla\n"
        "  pigeon preview --app argilla --app-version 1.29.0",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_app_argument(parser)
    parser.add_argument("--app-version", default="0.0.0", help="the app version to show")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the batch as indented JSON on stdout; exit 0 (or 2 for an unknown app)."""
    catalog = load_app_catalog(args.app, args.catalog)
    pipeline = Pipeline(
        app=args.app, app_version=args.app_version, catalog=catalog, anonymous_id=PREVIEW_ID
    )
    now = time.time()
    messages = []
    for name, spec in catalog.events.items():
        encoded = pipeline.prepare((name, spec.sample(), now))
        if encoded is not None:
            messages.append(json.loads(encoded))
    print(json.dumps({"batch": messages, "sentAt": messages[0]["timestamp"]}, indent=2))
    settings = read_settings(args.app, os.environ)
    if not settings.enabled:
        sys.stderr.write(
            f"note: telemetry is disabled for {args.app} here ({settings.disabled_reason}): "
            "this is what would be sent if it were enabled; nothing is sent.\n"
        )
    return 0
