"""The ``adoption`` view: how fast installs upgrade, and how many stay, per first-seen week.

Two parts, both from store primitives only:

* **Upgrade curves** (``Store.series`` of ``version`` and ``all``): per day,
  the share of that day's active installs running each version, and per
  version the days from its first sighting to the first day it ran on at
  least half of the active installs. A version's first sighting is looked for
  :data:`LOOKBACK_DAYS` days before the range starts, so a version already
  out before the range is not taken for a new one; one already there on the
  look-back's first day has no known first sighting (``first_seen`` and
  ``days_to_half`` are ``None``).
* **Cohort table** (``Store.cohorts``): the installs first seen in each week
  the range touches, and how many of them were active in each week since,
  as counts and as percentages of the cohort. A week's bitmaps run Monday to
  Sunday, so the range's first and last weeks count whole weeks; the last
  one may still be running.

k-anonymity, on top of the rules of :mod:`._anonymity`:

* A version is named (curve, milestones) only when at least ``min_installs``
  distinct installs ran it over the range; the others are merged into
  ``"other"``, and a chart draws the top :data:`CHART_TOP` named versions.
* A day's share is published only when the version's installs that day reach
  ``min_installs`` (else ``None``, and its installs go to that day's
  ``"other"``), and only when the day's active installs reach it too.
* The 50% milestone counts only such days: it is reached on a day a version
  ran on at least ``min_installs`` installs and on at least half of the
  active ones. A first sighting is a date, not a count.
* A cohort under ``min_installs`` installs is hidden whole (``size`` and every
  cell ``None``); a cell with ``0 < count < min_installs`` is hidden (count
  and percentage ``None``). Zero stays zero. No published number stands for
  fewer than ``min_installs`` installs, and none is the difference of two
  published ones (cells of one cohort overlap, they do not partition it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Final

from pigeon.collector.stats._anonymity import OTHER, Count, merge_series, merge_totals
from pigeon.collector.stats._query import StatsQuery, day_to_iso
from pigeon.collector.storage._base import CohortRow, RollupRow, Store, week_days, week_of

__all__ = ["CHART_TOP", "LOOKBACK_DAYS", "adoption"]

JSON = dict[str, Any]

LOOKBACK_DAYS: Final = 365
"""How far before the range a version's first sighting is looked for."""

CHART_TOP: Final = 8
"""How many versions the upgrade chart draws before the rest joins ``"other"``."""


def _label(value: str) -> str:
    return value or "unknown"


def _named_versions(totals: list[RollupRow], min_installs: int) -> list[tuple[str, Count]]:
    named, _ = merge_totals(totals, min_installs)
    return sorted(named.items(), key=lambda item: (-item[1].installs, -item[1].events, item[0]))


def _share(count: Count | None, active: int, min_installs: int) -> float | None:
    if count is None or active == 0 or active < min_installs:
        return None
    return round(count.installs / active, 4)


def _milestone(
    days: Sequence[tuple[int, int]],
    active: dict[int, int],
    *,
    lookback_first: int,
    range_first: int,
    min_installs: int,
) -> JSON:
    """First sighting and the first day on half the active installs, from ``(day, installs)``."""
    first_seen = days[0][0] if days else None
    if first_seen is None or first_seen <= lookback_first:
        return {"first_seen": None, "new_in_range": False, "half_on": None, "days_to_half": None}
    half_on = next(
        (
            day
            for day, installs in days
            if installs >= min_installs and 2 * installs >= active.get(day, 0) > 0
        ),
        None,
    )
    return {
        "first_seen": day_to_iso(first_seen),
        "new_in_range": first_seen >= range_first,
        "half_on": None if half_on is None else day_to_iso(half_on),
        "days_to_half": None if half_on is None else half_on - first_seen,
    }


def _upgrades(
    query: StatsQuery,
    totals: list[RollupRow],
    versions: list[RollupRow],
    actives: list[RollupRow],
    min_installs: int,
) -> JSON:
    span = query.range
    lookback_first = span.first - LOOKBACK_DAYS
    active = {row.day: row.installs for row in actives if row.day is not None}
    named = _named_versions(totals, min_installs)
    by_version: dict[str, list[tuple[int, int]]] = {}
    for row in versions:  # sorted by day: each list is too
        if row.installs and row.day is not None:
            by_version.setdefault(row.value, []).append((row.day, row.installs))
    days = span.day_list()
    in_range = [row for row in versions if row.day is not None and row.day >= span.first]
    shown = [value for value, _ in named[:CHART_TOP]]
    cells = merge_series(in_range, shown, days, min_installs)
    series = [
        {
            "value": value,
            "label": _label(value),
            "share": [
                _share(cell, active.get(day, 0), min_installs)
                for cell, day in zip(data, days, strict=True)
            ],
        }
        for value, data in cells.items()
    ]
    milestones = [
        {
            "value": value,
            "label": _label(value),
            "installs": count.installs,
            **_milestone(
                by_version.get(value, []),
                active,
                lookback_first=lookback_first,
                range_first=span.first,
                min_installs=min_installs,
            ),
        }
        for value, count in named
        if value != OTHER
    ]
    return {
        "days": [day_to_iso(day) for day in days],
        "lookback_days": LOOKBACK_DAYS,
        "series": series,
        "versions": milestones,
    }


def _cell(count: int, size: int, min_installs: int) -> tuple[int | None, float | None]:
    if 0 < count < min_installs:
        return None, None
    return count, round(100 * count / size, 1) if size else None


def _cohorts(rows: list[CohortRow], min_installs: int) -> JSON:
    out: list[JSON] = []
    for row in rows:
        monday = day_to_iso(week_days(row.week)[0])
        if 0 < row.size < min_installs:
            hidden: list[Any] = [None] * len(row.active)
            out.append({"week": monday, "size": None, "active": hidden, "percent": hidden})
            continue
        cells = [_cell(count, row.size, min_installs) for count in row.active]
        out.append(
            {
                "week": monday,
                "size": row.size,
                "active": [count for count, _ in cells],
                "percent": [percent for _, percent in cells],
            }
        )
    return {"weeks": [row["week"] for row in out], "rows": out}


async def adoption(store: Store, query: StatsQuery, min_installs: int) -> JSON:
    """Upgrade curves and time to 50% per version, and retention by first-seen week."""
    span = query.range
    lookback_first = span.first - LOOKBACK_DAYS
    totals, versions, actives, cohorts = await asyncio.gather(
        store.totals(query.app, "version", span.first, span.last),
        store.series(query.app, "version", lookback_first, span.last),
        store.series(query.app, "all", lookback_first, span.last),
        store.cohorts(query.app, week_of(span.first), week_of(span.last)),
    )
    return {
        "upgrades": _upgrades(query, totals, versions, actives, min_installs),
        "cohorts": _cohorts(cohorts, min_installs),
    }
