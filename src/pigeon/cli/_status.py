"""``pigeon status --app NAME``: is telemetry on for this app, why, and where would it go."""

from __future__ import annotations

import argparse
import os
from typing import Any

from pigeon._identity import ID_FILENAME, data_dir
from pigeon._settings import env_prefix, read_settings
from pigeon.cli._commands import add_app_argument, load_catalog

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``status`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "status",
        help="show whether telemetry is enabled for an app, and why",
        description="Show whether telemetry is enabled for an app and why, its id file, "
        "endpoint and catalog. Reads nothing but the environment and the id file.\n\n"
        "Example:\n  pigeon status --app argilla",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_app_argument(parser)
    parser.add_argument("--home", default=None, help="the app's telemetry directory")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the status; exit 0 (or 2 for an unknown catalog)."""
    app: str = args.app
    catalog = load_catalog(args.catalog or app)
    settings = read_settings(app, os.environ)
    prefix = env_prefix(app)
    id_path = data_dir(app, args.home) / ID_FILENAME
    lines = [
        f"app:          {app}",
        f"telemetry:    {'enabled' if settings.enabled else 'disabled'}",
    ]
    if settings.opt_outs:
        lines.append(f"because:      {'; '.join(settings.opt_outs)}")
    lines += [
        f"endpoint:     {settings.endpoint or '(the app default)'}",
        f"debug:        {'on: payloads are printed, nothing is sent' if settings.debug else 'off'}",
        f"id file:      {id_path} ({'exists' if id_path.exists() else 'not created'})",
        f"catalog:      {catalog.name} v{catalog.version} ({len(catalog.events)} events)",
        "",
        f"opt out:      {prefix}_ENABLE_TELEMETRY=0 or DO_NOT_TRACK=1",
        f"see payloads: pigeon preview --app {app}",
    ]
    print("\n".join(lines))
    return 0
