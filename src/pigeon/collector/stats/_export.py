"""The publishable aggregates: every table and the daily activity, as JSON or CSV.

The export is what a project may publish openly (as Go and Homebrew publish
theirs): range totals per dimension and active installs per day, all through the
same k-anonymity rules as the dashboard. ``pigeon report`` prints the same data.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from typing import Any

from pigeon.collector.stats._query import StatsQuery
from pigeon.collector.stats._release_health import release_health
from pigeon.collector.stats._views import installs, table
from pigeon.collector.storage._base import Store

__all__ = ["EXPORT_TABLES", "export_csv", "export_data"]

JSON = dict[str, Any]

EXPORT_TABLES = (
    # (table name, dimension, order-by)
    ("events", "event", "events"),
    ("versions", "version", "installs"),
    ("python", "python", "installs"),
    ("systems", "system", "installs"),
    ("machines", "machine", "installs"),
    ("errors", "error", "events"),
    ("bulk", "bulk_task", "amount"),
    ("trainer", "trainer", "events"),
    ("clients", "client", "installs"),
    ("languages", "language", "installs"),
    ("libraries", "library", "installs"),
)
"""Every table the export carries, in order."""

CSV_COLUMNS = ("table", "day", "value", "label", "events", "installs", "records")


async def export_data(store: Store, query: StatsQuery, min_installs: int) -> JSON:
    """Every table and the daily activity over the query's range, k-anonymous."""
    span = query.range
    daily, health, totals = await asyncio.gather(
        installs(store, query, min_installs),
        release_health(store, query, min_installs),
        asyncio.gather(
            *(store.totals(query.app, dim, span.first, span.last) for _, dim, _ in EXPORT_TABLES)
        ),
    )
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "app": query.app,
        "range": span.as_dict(),
        "min_installs": min_installs,
        "note": (
            f"Values with fewer than {min_installs} distinct installs over the range are "
            "merged into 'other' (shown only when it reaches the threshold itself); days "
            "with fewer active installs are left empty (null)."
        ),
        "actives": daily["actives"],
        "daily": {key: daily[key] for key in ("days", "installs", "events")},
        "tables": {
            name: table(dim, rows, min_installs, by)["rows"]
            for (name, dim, by), rows in zip(EXPORT_TABLES, totals, strict=True)
        },
        # The release_health view's body (JSON only: its nested lists have no CSV rows yet).
        "release_health": health,
    }


def _cell(value: object) -> object:
    return "" if value is None else value


def _text(value: str) -> str:
    # Clients choose some strings (app versions): never let a spreadsheet run one.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_csv(data: JSON) -> str:
    """The export as one CSV table: a ``daily`` row per day, then a row per table bucket.

    Hidden numbers (under the threshold) are empty cells.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    daily = data["daily"]
    for day, count, events in zip(daily["days"], daily["installs"], daily["events"], strict=True):
        writer.writerow(("daily", day, "", "", _cell(events), _cell(count), ""))
    for name, rows in data["tables"].items():
        for row in rows:
            writer.writerow(
                (
                    name,
                    "",
                    _text(row["value"]),
                    _text(row["label"]),
                    row["events"],
                    row["installs"],
                    _cell(row.get("records")),
                )
            )
    return out.getvalue()
