"""``pigeon status --app NAME``: is telemetry on for this app, why, and where would it go."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from pigeon import _consent
from pigeon._identity import ID_FILENAME, data_dir
from pigeon._ledger import LEDGER_DIRNAME
from pigeon._settings import (
    DO_NOT_TRACK,
    ENABLE_TELEMETRY,
    TELEMETRY_ENDPOINT,
    TELEMETRY_MODE,
    TELEMETRY_WRITE_KEY,
    env_prefix,
    read_settings,
)
from pigeon.cli._commands import add_app_argument, load_app_catalog

__all__ = ["register", "run"]


def register(sub: Any) -> None:
    """Add the ``status`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "status",
        help="show whether telemetry is enabled for an app, and why",
        description="Show whether telemetry is enabled for an app and why (every opt-out "
        "in force), where events would go, the id file and the catalog. Reads the "
        "environment and the id file; creates nothing, sends nothing.\n\n"
        "Example:\n  pigeon status --app argilla\n  DO_NOT_TRACK=1 pigeon status --app argilla",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_app_argument(parser)
    parser.add_argument(
        "--home", default=None, help="the app's telemetry directory, if the app sets one"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the status; exit 0 (or 2 for an unknown app or catalog)."""
    app: str = args.app
    catalog = load_app_catalog(app, args.catalog)
    settings = read_settings(app, os.environ)
    prefix = env_prefix(app)
    endpoint_var = TELEMETRY_ENDPOINT.format(prefix=prefix)
    key_var = TELEMETRY_WRITE_KEY.format(prefix=prefix)
    id_path = data_dir(app, args.home) / ID_FILENAME
    ledger = id_path.parent / LEDGER_DIRNAME
    accepted = _consent.read(id_path.parent)
    accepted_version = accepted.version if accepted and accepted.catalog == catalog.name else None
    pending = (
        sorted(_consent.catalog_items(catalog) - accepted.items)
        if accepted and accepted.catalog == catalog.name
        else []
    )
    anonymous_id = _read_id(id_path)
    report: dict[str, Any] = {
        "app": app,
        "enabled": settings.enabled,
        "mode": settings.mode,
        "disabled_reason": settings.disabled_reason,
        "opt_outs": list(settings.opt_outs),
        "warnings": list(settings.warnings),
        "in_ci": settings.in_ci,
        "debug": settings.debug,
        "endpoint": settings.endpoint or None,
        "endpoint_source": endpoint_var if settings.endpoint else "app default",
        "write_key_source": key_var if settings.write_key else "app default",
        "id_file": str(id_path),
        "ledger": str(ledger),
        "anonymous_id": anonymous_id,
        "catalog": {
            "name": catalog.name,
            "version": catalog.version,
            "events": len(catalog.events),
            "accepted_version": accepted_version,
            "not_yet_notified": pending,
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    lines = [f"app:          {app}"]
    if settings.local:
        lines.append(
            "telemetry:    local: events are recorded on this machine only, nothing is sent"
        )
    elif settings.enabled:
        lines.append("telemetry:    enabled (unless the app disables it in its own code)")
        if settings.in_ci:
            lines.append(
                f"ci:           CI detected, but {ENABLE_TELEMETRY.format(prefix=prefix)} opts in"
            )
    else:
        lines.append("telemetry:    disabled: nothing is collected, stored or sent")
        lines.append(f"because:      {'; '.join(settings.opt_outs)}")
    lines += [f"warning:      {w}" for w in settings.warnings]
    debug = "on: payloads are printed on stderr, nothing is sent" if settings.debug else "off"
    lines += [
        f"endpoint:     {settings.endpoint or 'the app default'}"
        + (f" (from {endpoint_var})" if settings.endpoint else ""),
        f"write key:    {'from ' + key_var if settings.write_key else 'the app default'}",
        f"debug:        {debug}",
        f"id file:      {id_path} ({'exists' if anonymous_id else 'not created'})",
        f"ledger:       {ledger} (pigeon log --app {app})",
    ]
    if anonymous_id:
        lines.append(f"anonymous id: {anonymous_id} (random; delete the file for a new one)")
    lines += [
        f"catalog:      {catalog.name} v{catalog.version} ({len(catalog.events)} events; "
        f"pigeon catalog show {catalog.name})",
        "accepted:     "
        + (
            f"v{accepted_version} (the version whose notice this install saw)"
            if accepted_version
            else "none yet (the notice is shown when the app first runs)"
        ),
    ]
    if pending:
        lines.append(f"not yet told: {', '.join(pending)} (withheld until the notice is shown)")
    lines += [
        "",
        f"opt out:      {ENABLE_TELEMETRY.format(prefix=prefix)}=0 or {DO_NOT_TRACK}=1",
        f"local only:   {TELEMETRY_MODE.format(prefix=prefix)}=local (records, sends nothing)",
        f"see payloads: pigeon preview --app {app}",
    ]
    print("\n".join(lines))
    return 0


def _read_id(path: os.PathLike[str]) -> str | None:
    """The id in the file, without creating anything; ``None`` when absent or unreadable."""
    try:
        with open(path, encoding="ascii") as file:
            text = file.read(100).strip()
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return text or None
