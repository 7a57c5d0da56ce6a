"""The stats views: each one a JSON-ready dict computed from store rollups only.

Every view is built on the two store primitives, ``Store.series`` (per-day rows)
and ``Store.totals`` (rows over a range with distinct installs over it), then
passed through the k-anonymity rules of :mod:`._anonymity`; ``adoption``
(:mod:`._adoption`) also reads ``Store.cohorts``. No view knows which store it
reads: SQLite and ClickHouse answer the same calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pigeon.collector.stats._adoption import adoption
from pigeon.collector.stats._anonymity import OTHER, Count, hide_small, merge_series, merge_totals
from pigeon.collector.stats._query import DayRange, StatsQuery, day_to_iso
from pigeon.collector.stats._release_health import release_health
from pigeon.collector.storage._base import RollupRow, Store

__all__ = ["VIEWS", "Breakdown", "compute_view", "label_of", "table"]

JSON = dict[str, Any]
View = Callable[[Store, StatsQuery, int], Awaitable[JSON]]

# How many values a chart draws before the rest joins "other" (tables list them all).
CHART_TOP = 8


def label_of(dimension: str, value: str) -> str:
    """A readable label: ``code (Type)`` for errors, ``framework · task`` for trainers."""
    if dimension in ("error", "trainer") and "\t" in value:
        first, second = value.split("\t", 1)
        if dimension == "error":
            return f"{first} ({second})" if second else first
        return f"{first} · {second}"
    return value or "unknown"


def _row(dimension: str, value: str, count: Count, *, merged: bool = False) -> JSON:
    row: JSON = {"value": value, "label": label_of(dimension, value)}
    if dimension in ("error", "trainer"):
        first, _, second = value.partition("\t")
        keys = ("code", "type") if dimension == "error" else ("framework", "task")
        row[keys[0]], row[keys[1]] = (OTHER, "") if merged else (first, second)
    row["events"] = count.events
    row["installs"] = count.installs
    if dimension == "bulk_task":
        row["records"] = count.amount
    if merged:
        row["merged"] = True
    return row


class Breakdown:
    """Range totals of one dimension after k-anonymity, ordered by a metric."""

    def __init__(self, dimension: str, rows: list[RollupRow], min_installs: int, by: str) -> None:
        """Merge ``rows`` and order the named values by ``by`` (a :class:`Count` field)."""
        self.dimension = dimension
        named, self.other = merge_totals(rows, min_installs)
        self.named = sorted(
            named.items(), key=lambda item: (-getattr(item[1], by), -item[1].events, item[0])
        )

    def rows(self) -> list[JSON]:
        """The table: named values in order, then ``"other"`` when it is published."""
        out = [_row(self.dimension, value, count) for value, count in self.named]
        if self.other is not None:
            out.append(_row(self.dimension, OTHER, self.other, merged=True))
        return out

    def top(self, count: int = CHART_TOP) -> list[str]:
        """The first ``count`` named values: what a chart draws on its own."""
        return [value for value, _ in self.named[:count]]


def table(dimension: str, rows: list[RollupRow], min_installs: int, by: str = "installs") -> JSON:
    """``{"rows": [...]}`` for one dimension's range totals."""
    return {"dimension": dimension, "rows": Breakdown(dimension, rows, min_installs, by).rows()}


def _series(
    breakdown: Breakdown, rows: list[RollupRow], span: DayRange, min_installs: int, metric: str
) -> JSON:
    days = span.day_list()
    cells = merge_series(rows, breakdown.top(), days, min_installs)
    return {
        "days": [day_to_iso(day) for day in days],
        "metric": metric,
        "series": [
            {
                "value": value,
                "label": label_of(breakdown.dimension, value),
                "data": [None if c is None else getattr(c, _FIELD[metric]) for c in data],
            }
            for value, data in cells.items()
        ],
    }


_FIELD = {"events": "events", "installs": "installs", "records": "amount"}


async def _both(store: Store, query: StatsQuery, dimension: str) -> tuple[list[RollupRow], ...]:
    span = query.range
    return tuple(
        await asyncio.gather(
            store.totals(query.app, dimension, span.first, span.last),
            store.series(query.app, dimension, span.first, span.last),
        )
    )


async def _actives(store: Store, query: StatsQuery, min_installs: int) -> JSON:
    span = query.range
    windows = {
        "last_day": span.ending(1),
        "last_7_days": span.ending(7),
        "last_30_days": span.ending(30),
        "range": span,
    }
    # The default range is the last 30 days: ask the store once per distinct window.
    distinct = list(dict.fromkeys(windows.values()))
    results = await asyncio.gather(
        *(store.totals(query.app, "all", w.first, w.last) for w in distinct)
    )
    counts = {w: _all_count(rows) for w, rows in zip(distinct, results, strict=True)}
    out: JSON = {
        name: _shown(counts[window], min_installs, "installs") for name, window in windows.items()
    }
    out["events"] = _shown(counts[span], min_installs, "events")
    return out


def _all_count(rows: list[RollupRow]) -> Count:
    return next((Count(r.events, r.amount, r.installs) for r in rows), Count(0, 0, 0))


def _shown(count: Count, min_installs: int, field: str) -> int | None:
    visible = hide_small(count, min_installs)
    return None if visible is None else int(getattr(visible, field))


async def overview(store: Store, query: StatsQuery, min_installs: int) -> JSON:
    """Active installs (last day, 7 and 30 days, range), events, events by name, apps."""
    span = query.range
    actives, by_event, apps = await asyncio.gather(
        _actives(store, query, min_installs),
        store.totals(query.app, "event", span.first, span.last),
        store.apps(),
    )
    return {
        "installs": {k: v for k, v in actives.items() if k != "events"},
        "events": actives["events"],
        "by_event": table("event", by_event, min_installs, by="events")["rows"],
        "apps": sorted(apps),
    }


async def installs(store: Store, query: StatsQuery, min_installs: int) -> JSON:
    """Active installs and events per day, plus the 7- and 30-day actives."""
    span = query.range
    actives, rows = await asyncio.gather(
        _actives(store, query, min_installs),
        store.series(query.app, "all", span.first, span.last),
    )
    per_day = {row.day: Count(row.events, row.amount, row.installs) for row in rows}
    cells = [hide_small(per_day.get(day, Count(0, 0, 0)), min_installs) for day in span.day_list()]
    return {
        "actives": {k: v for k, v in actives.items() if k != "events"},
        "days": [day_to_iso(day) for day in span.day_list()],
        "installs": [None if c is None else c.installs for c in cells],
        "events": [None if c is None else c.events for c in cells],
    }


def _trend_view(dimension: str, by: str, metric: str) -> View:
    async def view(store: Store, query: StatsQuery, min_installs: int) -> JSON:
        totals, series = await _both(store, query, dimension)
        breakdown = Breakdown(dimension, totals, min_installs, by)
        return {
            "dimension": dimension,
            "rows": breakdown.rows(),
            "trend": _series(breakdown, series, query.range, min_installs, metric),
        }

    return view


def _tables_view(*dimensions: tuple[str, str, str]) -> View:
    """A view of several range tables: ``(key, dimension, order-by)`` each."""

    async def view(store: Store, query: StatsQuery, min_installs: int) -> JSON:
        span = query.range
        results = await asyncio.gather(
            *(store.totals(query.app, dim, span.first, span.last) for _, dim, _ in dimensions)
        )
        return {
            key: table(dim, rows, min_installs, by)
            for (key, dim, by), rows in zip(dimensions, results, strict=True)
        }

    return view


VIEWS: dict[str, View] = {
    "overview": overview,
    "installs": installs,
    "events": _trend_view("event", "events", "events"),
    "versions": _trend_view("version", "installs", "installs"),
    "adoption": adoption,
    "python": _trend_view("python", "installs", "installs"),
    "systems": _tables_view(("systems", "system", "installs"), ("machines", "machine", "installs")),
    "errors": _trend_view("error", "events", "events"),
    "release_health": release_health,
    "bulk": _trend_view("bulk_task", "amount", "records"),
    "trainer": _tables_view(("trainer", "trainer", "events")),
    "clients": _tables_view(
        ("clients", "client", "installs"), ("libraries", "library", "installs")
    ),
    "languages": _tables_view(("languages", "language", "installs")),
}
"""Every view by name, in the order the dashboard shows them."""


async def compute_view(store: Store, name: str, query: StatsQuery, min_installs: int) -> JSON:
    """Run the view ``name`` (a key of :data:`VIEWS`) and wrap it with its query.

    Raises:
        KeyError: no view has that name.
    """
    body = await VIEWS[name](store, query, min_installs)
    return {
        "view": name,
        "app": query.app,
        "range": query.range.as_dict(),
        "min_installs": min_installs,
        **body,
    }
