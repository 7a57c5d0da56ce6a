"""``pigeon report``: the dashboard's numbers in the terminal, read from the store directly.

It prints the same k-anonymous aggregates as ``GET /api/v1/export`` (text
tables by default, or the export itself with ``--format json|csv``), reading the
store's rollups, so it works beside a running collector or on a copied file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from pigeon.cli._commands import CommandError, add_store_option, require_collector

__all__ = ["register", "render_text"]

JSON = dict[str, Any]


# (export table, title, first columns): the text report's tables, in order.
_TABLES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("events", "Events", (("event", "value"),)),
    ("versions", "Version adoption", (("version", "value"),)),
    ("python", "Python versions", (("python", "value"),)),
    ("systems", "Systems", (("system", "value"),)),
    ("machines", "Machines", (("machine", "value"),)),
    ("errors", "Top errors", (("code", "code"), ("entity type", "type"))),
    ("bulk", "Bulk uploads", (("task", "value"), ("records", "records"))),
    ("trainer", "Trainer", (("framework", "framework"), ("task", "task"))),
    ("clients", "Clients (user-agent families)", (("client", "value"),)),
    ("languages", "Languages", (("language", "value"),)),
    ("libraries", "Sending libraries", (("library", "value"),)),
)


def register(sub: Any) -> None:
    """Add the ``report`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="print the collected stats in the terminal (needs pigeon[collector])",
        description="Print active installs, events, versions, Python versions, systems, "
        "errors, bulk uploads, trainer use, clients and languages from a collector's "
        "store, k-anonymous like the dashboard: values seen by fewer than --min-installs "
        "installs are merged into 'other'. Reads the rollups only.\n\n"
        "Example:\n"
        "  pigeon report --store sqlite:///./pigeon-data/pigeon.db --days 7\n"
        "  pigeon report --app argilla --format csv > stats.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_store_option(parser)
    parser.add_argument("--days", default=None, help="the last N days, today included (30)")
    parser.add_argument("--from", dest="date_from", default=None, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", default=None, help="last day, YYYY-MM-DD")
    parser.add_argument("--app", default=None, help="one app's data (default: every app)")
    parser.add_argument(
        "--min-installs",
        default=os.environ.get("PIGEON_MIN_INSTALLS", "5"),
        help="merge buckets with fewer distinct installs into 'other' (default: 5)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "csv"),
        default="text",
        help="text tables (default), or the export as JSON or CSV",
    )
    parser.set_defaults(handler=run)


def _min_installs(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise CommandError(f"--min-installs: expected a whole number >= 1, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    """Print the report; exit 0, or 2 with one line on stderr for bad input."""
    require_collector("pigeon report")
    from pigeon.collector.stats import StatsQueryError, export_csv, parse_query

    min_installs = _min_installs(str(args.min_installs))
    try:
        query = parse_query(
            days=args.days, date_from=args.date_from, date_to=args.date_to, app=args.app
        )
    except StatsQueryError as exc:
        raise CommandError(f"--{exc.parameter}: {exc.reason}") from None
    data = asyncio.run(_collect(args.store, query, min_installs))
    if args.format == "json":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    elif args.format == "csv":
        sys.stdout.write(export_csv(data))
    else:
        sys.stdout.write(render_text(data))
    return 0


async def _collect(url: str, query: Any, min_installs: int) -> JSON:
    from pigeon.collector.stats import export_data
    from pigeon.collector.storage import StoreError, open_store, redact_url

    try:
        store = open_store(url, read_only=True)  # a report never creates a store
    except StoreError as exc:
        raise CommandError(f"--store: {exc}") from None
    try:
        if query.app is not None:
            apps = await store.apps()
            if query.app not in apps:
                known = ", ".join(apps) or "none"
                raise CommandError(f"--app: no data for app {query.app!r} (apps: {known})")
        return await export_data(store, query, min_installs)
    except StoreError as exc:
        raise CommandError(f"cannot read {redact_url(url)}: {exc}", status=1) from None
    finally:
        await store.close()


def _number(value: object, hidden: str) -> str:
    return hidden if value is None else f"{value:,}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i >= numeric_from else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  " + "  ".join(parts).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def render_text(data: JSON) -> str:
    """The export ``data`` as plain-text tables."""
    k = data["min_installs"]
    hidden = f"<{k}"
    span = data["range"]
    out = [
        f"pigeon report: {data['app'] or 'all apps'}, {span['from']} to {span['to']} "
        f"({span['days']} days, UTC)",
        f'Values seen by fewer than {k} installs are merged into "other"; '
        f'hidden numbers show as "{hidden}".',
        "",
        "Active installs",
    ]
    actives = data["actives"]
    labels = {
        "last_day": "last day",
        "last_7_days": "last 7 days",
        "last_30_days": "last 30 days",
        "range": "in the range",
    }
    rows = [[labels[key], _number(actives[key], hidden)] for key in labels]
    rows.append(["events in the range", _number(sum(v or 0 for v in data["daily"]["events"]), "")])
    out += _table(["", "installs"], rows, 1)[1:]
    daily = data["daily"]
    out += ["", "Active installs and events per day"]
    per_day = [
        [day, _number(n, hidden), _number(e, hidden)]
        for day, n, e in zip(daily["days"], daily["installs"], daily["events"], strict=True)
    ]
    out += _table(["day", "installs", "events"], per_day, 1)
    for name, title, columns in _TABLES:
        table = data["tables"][name]
        out += ["", title]
        if not table:
            out.append("  (nothing at or above the threshold in this range)")
            continue
        numeric = [c[1] for c in columns if c[1] == "records"]
        text_cols = [c for c in columns if c[1] != "records"]
        headers = [c[0] for c in text_cols] + [c[0] for c in columns if c[1] == "records"]
        headers += ["events", "installs"]
        body = [
            [str(row.get(c[1]) or "—") for c in text_cols]
            + [_number(row.get(key), hidden) for key in numeric]
            + [_number(row["events"], hidden), _number(row["installs"], hidden)]
            for row in table
        ]
        out += _table(headers, body, len(text_cols))
    if "adoption" in data:
        out += _adoption_text(data["adoption"], hidden)
    if "release_health" in data:
        out += _release_health(data["release_health"], hidden)
    return "\n".join(out) + "\n"


def _adoption_text(adoption: JSON, hidden: str) -> list[str]:
    """Time to 50% per version, then the cohort table (weeks since first seen)."""
    out = ["", "Upgrades: days from first sighting to 50% of active installs"]
    versions = adoption["versions"]
    if versions:
        body = [
            [
                v["label"],
                v["first_seen"] or "before the look-back",
                v["half_on"] or "—",
                "not yet" if v["days_to_half"] is None else str(v["days_to_half"]),
                _number(v["installs"], hidden),
            ]
            for v in versions
        ]
        headers = ["version", "first seen", "50% on", "days", "installs"]
        out += _table(headers, body, 3)
    else:
        out.append("  (nothing at or above the threshold in this range)")
    out += ["", "Install retention by first-seen week (% of the cohort active, week 0 on)"]
    rows = adoption["cohorts"]["rows"]
    if not rows:
        out.append("  (no weeks in this range)")
        return out
    width = max(len(row["active"]) for row in rows)
    headers = ["week of", "installs", *(f"w{n}" for n in range(width))]
    body = []
    for row in rows:
        cells = [
            hidden if count is None else ("—" if percent is None else f"{percent:g}%")
            for count, percent in zip(row["active"], row["percent"], strict=True)
        ]
        body.append(
            [row["week"], _number(row["size"], hidden), *cells, *[""] * (width - len(cells))]
        )
    out += _table(headers, body, 1)
    return out


def _rate(value: float | None, hidden: str) -> str:
    return hidden if value is None else f"{value:.2f}"


def _release_health(health: JSON, hidden: str) -> list[str]:
    """The "Release health" section: versions, latest vs previous, top crashes."""
    out = ["", "Release health (rates: events per 100 active installs of the version per day)"]
    versions = health["versions"]
    if not versions:
        return [*out, "  (no version at or above the threshold in this range)"]
    rows = [
        [
            v["version"],
            _number(v["installs"], hidden),
            _rate(v["error_rate"], hidden),
            _rate(v["crash_rate"], hidden),
        ]
        for v in versions
    ]
    out += _table(["version", "installs", "error rate", "crash rate"], rows, 1)
    comparison = health["comparison"]
    if comparison is not None:
        out += ["", f"Latest vs previous: {comparison['latest']} vs {comparison['previous']}"]
        changes = [("error", c, c["label"]) for c in comparison["errors"]]
        changes += [
            ("crash", c, f"{c['signature']} {c['exception']}") for c in comparison["crashes"]
        ]
        body = [
            [
                kind,
                name,
                change["status"],
                _rate(None if change["previous"] is None else change["previous"]["rate"], hidden),
                _rate(None if change["latest"] is None else change["latest"]["rate"], hidden),
                "—" if change["ratio"] is None else f"{change['ratio']:.2f}x",
            ]
            for kind, change, name in changes
        ]
        if body:
            headers = ["kind", "problem", "status", "previous rate", "latest rate", "ratio"]
            out += _table(headers, body, 3)
    crashes = health["top_crashes"]
    out += ["", "Top crashes"]
    if not crashes:
        return [*out, "  (nothing at or above the threshold in this range)"]
    body = [
        [
            c["signature"],
            c["exception"] or "—",
            f"{c['events']:,}",
            f"{c['installs']:,}",
            ", ".join(c["versions"]) or "—",
        ]
        for c in crashes
    ]
    out += _table(["signature", "exception", "events", "installs", "versions"], body, 2)
    for crash in crashes:
        if crash["stack"]:
            out += [f"  stack of {crash['signature']}:", *(f"    {f}" for f in crash["stack"])]
    return out
