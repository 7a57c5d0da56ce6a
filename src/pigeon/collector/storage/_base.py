"""The storage interface every store implements (SQLite, ClickHouse).

The API layer talks only to :class:`Store`: ingestion writes :class:`StoredEvent`
batches; reading asks for rollup rows of one *dimension* (see
``pigeon.collector.storage._dimensions``), per day (:meth:`Store.series`) or over a
date range (:meth:`Store.totals`), plus install cohorts by first-seen week
(:meth:`Store.cohorts`). A view that needs distinct installs of only a few of
a dimension's values reads every value's sums (:meth:`Store.sums`) and counts
installs of those few (:meth:`Store.distinct_installs`): distinct counting is
the one read whose cost grows with the data. Everything a dashboard, report or
export shows is computed from those primitives, so no query ever scans raw events and no
``if clickhouse`` branch exists above this line.

Days are whole UTC days since the Unix epoch (``timestamp_ms // 86_400_000``).
Weeks run Monday to Sunday and are numbered by :func:`week_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from pigeon.catalog import PropertyValue

__all__ = [
    "CohortRow",
    "CommitObserver",
    "RollupRow",
    "Store",
    "StoredEvent",
    "SumRow",
    "WriteResult",
    "day_of",
    "week_days",
    "week_of",
]

MS_PER_DAY = 86_400_000


def day_of(timestamp_ms: int) -> int:
    """The UTC day number of a timestamp in milliseconds."""
    return timestamp_ms // MS_PER_DAY


def week_of(day: int) -> int:
    """The week (Monday to Sunday) of a day number: day 0, 1970-01-01, was a Thursday."""
    return (day + 3) // 7


def week_days(week: int) -> tuple[int, int]:
    """The first (Monday) and last (Sunday) day numbers of a week."""
    return 7 * week - 3, 7 * week + 3


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~1 µs more per event
class StoredEvent:
    """One validated event, as the stores keep it. No IP, hostname or user data.

    Treat it as immutable: it is shared between the request and the store's writer.

    Attributes:
        message_id: the client's message id (UUIDv7 from pigeon; any id from others).
        app: the app whose catalog validated the event (from the write key).
        event: the catalog event name.
        anonymous_id: the random install id.
        timestamp_ms: event time, corrected for client clock skew.
        received_ms: when the collector received it.
        app_version, python_version, system, release, machine, platform: context.
        library: the sending client library and version, e.g. ``pigeon/0.1.0``.
        catalog_version: the catalog version the client used ("" when unknown).
        properties: the validated properties.
    """

    message_id: str
    app: str
    event: str
    anonymous_id: str
    timestamp_ms: int
    received_ms: int
    app_version: str = ""
    python_version: str = ""
    system: str = ""
    release: str = ""
    machine: str = ""
    platform: str = ""
    library: str = ""
    catalog_version: str = ""
    properties: dict[str, PropertyValue] = field(default_factory=dict)

    @property
    def day(self) -> int:
        """The UTC day of the event."""
        return day_of(self.timestamp_ms)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: events newly stored, and duplicates (same message id) ignored."""

    stored: int
    duplicates: int


class RollupRow(NamedTuple):
    """One bucket of one dimension.

    A named tuple, not a dataclass: views read tens of thousands of rows and a
    tuple is built several times faster.

    Attributes:
        day: the UTC day (``series``), or ``None`` (``totals`` over a range).
        value: the bucket (a version, a system, an error: code, tab, entity type...).
        events: how many events fell in it.
        amount: the sum of the dimension's amount (records for bulk uploads), else 0.
        installs: distinct installs in it (over the day, or over the whole range).
    """

    day: int | None
    value: str
    events: int
    amount: int
    installs: int


class SumRow(NamedTuple):
    """One value's sums over a range, without its distinct installs (:meth:`Store.sums`).

    Attributes:
        value: the bucket.
        events: how many events fell in it over the range.
        amount: the sum of the dimension's amount over the range.
    """

    value: str
    events: int
    amount: int


class CohortRow(NamedTuple):
    """The installs first seen in one week, and how many of them were active each week since.

    Attributes:
        week: the cohort's week (:func:`week_of`): the week of each member's
            first activity in dimension ``all``, over all the history the store
            has (rollups outlive raw events), not only the range asked.
        size: how many installs the cohort has (``active[0]``).
        active: how many of them were active in ``week``, ``week + 1``, ... up
            to the last week asked, one entry per week.
    """

    week: int
    size: int
    active: tuple[int, ...]


CommitObserver = Callable[[int, float], None]
"""Told ``(events, seconds)`` after each commit of events (the collector's metrics)."""


class Store(Protocol):
    """Where the collector keeps events and their daily rollups."""

    async def write(self, events: Sequence[StoredEvent]) -> WriteResult:
        """Store a batch durably (raw events and rollups in one transaction), dedup on id.

        Returns only after the events are committed: the HTTP 200 waits for this.
        """
        ...

    def observe_commits(self, observer: CommitObserver | None) -> None:
        """Call ``observer`` after each successful commit of events, on the writing thread.

        One commit may hold the events of several concurrent writes; ``events``
        counts every event handed to it, duplicates included.
        """
        ...

    async def forget(self, app: str, anonymous_id: str) -> int:
        """Delete one install's raw events and its install rows; return raw events deleted."""
        ...

    async def apply_retention(self, days: int, now_ms: int | None = None) -> int:
        """Delete raw events older than ``days`` days (rollups are kept); return how many."""
        ...

    async def series(
        self, app: str | None, dimension: str, first_day: int, last_day: int
    ) -> list[RollupRow]:
        """Per-day rows of one dimension, days ``first_day..last_day`` inclusive.

        ``app=None`` means all apps. ``installs`` is distinct per day and value.
        """
        ...

    async def totals(
        self, app: str | None, dimension: str, first_day: int, last_day: int
    ) -> list[RollupRow]:
        """One row per value over the range; ``installs`` is distinct over the whole range."""
        ...

    async def sums(
        self, app: str | None, dimension: str, first_day: int, last_day: int
    ) -> list[SumRow]:
        """:meth:`totals` without installs: each value's events and amount over the range.

        Sorted like :meth:`totals` (events, most first, then value). Cheaper
        than :meth:`totals` by the whole cost of distinct counting.
        """
        ...

    async def distinct_installs(
        self,
        app: str | None,
        dimension: str,
        first_day: int,
        last_day: int,
        values: Collection[str],
    ) -> dict[str, int]:
        """Distinct installs over the range of each of ``values`` (as :meth:`totals` counts them).

        Values with no installs in the range are left out of the answer. The
        cost grows with the bitmap rows of ``values`` only, not of the dimension.
        """
        ...

    async def cohorts(self, app: str | None, first_week: int, last_week: int) -> list[CohortRow]:
        """One row per week ``first_week..last_week`` (oldest first), empty cohorts included.

        An install belongs to the week of its first activity (dimension ``all``)
        in everything the store has kept; ``app=None`` counts an install that
        reports to several apps once, by its first activity in any of them.
        An install an app forgot is in none of that app's cohorts.
        """
        ...

    async def apps(self) -> list[str]:
        """The apps that have data."""
        ...

    async def count_events(self, app: str | None = None) -> int:
        """How many raw events are stored (tests, benchmarks, the health page)."""
        ...

    async def close(self) -> None:
        """Commit what is pending and release the store."""
        ...
