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

from pigeon.collector.stats._adoption import adoption
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

CSV_COLUMNS = (
    *("table", "day", "value", "label", "events", "installs", "records"),
    *("version", "rate", "status", "ratio"),  # filled on release-health rows only
)


async def export_data(store: Store, query: StatsQuery, min_installs: int) -> JSON:
    """Every table and the daily activity over the query's range, k-anonymous."""
    span = query.range
    daily, health, totals, upgrades = await asyncio.gather(
        installs(store, query, min_installs),
        release_health(store, query, min_installs, changes=None),  # every change
        asyncio.gather(
            *(store.totals(query.app, dim, span.first, span.last) for _, dim, _ in EXPORT_TABLES)
        ),
        adoption(store, query, min_installs),
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
        # Milestones and cohorts; the per-day share curves stay on the dashboard.
        "adoption": {
            "versions": upgrades["upgrades"]["versions"],
            "cohorts": upgrades["cohorts"],
        },
        "release_health": health,
    }


_NO_RELEASE = ("", "", "", "")  # the release-health columns of the other rows


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
        writer.writerow(("daily", day, "", "", _cell(events), _cell(count), "", *_NO_RELEASE))
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
                    *_NO_RELEASE,
                )
            )
    if "release_health" in data:
        writer.writerows(_release_rows(data["release_health"]))
    return out.getvalue()


def _release_rows(health: JSON) -> list[tuple[object, ...]]:
    """Release health as CSV rows (stacks stay in the JSON).

    ``release_versions``: installs are the version's active installs;
    ``release_errors``/``release_crashes``: the version's overall row (empty
    value) then its top problems; ``release_changes``: the latest version's side
    of each change, with status and ratio; ``top_crashes``: ``version`` lists the
    versions, ``;``-separated.
    """
    rows: list[tuple[object, ...]] = []

    def row(table: str, value: str, label: str, numbers: JSON | None, **extra: object) -> None:
        n = numbers or {}
        rows.append(
            (
                table,
                "",
                _text(value),
                _text(label),
                _cell(n.get("events")),
                _cell(n.get("installs")),
                "",
                _text(str(extra.get("version", ""))),
                _cell(n.get("rate")),
                extra.get("status", ""),
                _cell(extra.get("ratio")),
            )
        )

    for v in health["versions"]:
        version = v["version"]
        row("release_versions", version, version, {"installs": v["installs"]}, version=version)
        for kind, key in (("errors", "error"), ("crashes", "crash")):
            overall = {"events": v[f"{key}_events"], "rate": v[f"{key}_rate"]}
            row(f"release_{kind}", "", f"all {kind}", overall, version=version)
            for problem in v[f"top_{kind}"]:
                value = problem.get("signature") or f"{problem['code']}\t{problem['type']}"
                label = problem.get("label") or problem["exception"]
                row(f"release_{kind}", value, label, problem, version=version)
    comparison = health["comparison"]
    for kind in ("errors", "crashes") if comparison else ():
        for change in comparison[kind]:
            value = change.get("signature") or f"{change['code']}\t{change['type']}"
            label = change.get("label") or change["exception"]
            extra = {"status": change["status"], "ratio": change["ratio"]}
            row(
                "release_changes",
                value,
                f"{kind}: {label}",
                change["latest"],
                version=comparison["latest"],
                **extra,
            )
    for crash in health["top_crashes"]:
        version = ";".join(crash["versions"])
        row("top_crashes", crash["signature"], crash["exception"], crash, version=version)
    return rows
