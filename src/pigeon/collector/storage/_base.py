"""The storage interface every store implements (SQLite, ClickHouse).

The API layer talks only to :class:`Store`: ingestion writes :class:`StoredEvent`
batches; reading asks for rollup rows of one *dimension* (see
``pigeon.collector.storage._dimensions``), per day (:meth:`Store.series`) or over a
date range (:meth:`Store.totals`). Everything a dashboard, report or export shows
is computed from those two primitives, so no query ever scans raw events and no
``if clickhouse`` branch exists above this line.

Days are whole UTC days since the Unix epoch (``timestamp_ms // 86_400_000``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from pigeon.catalog import PropertyValue

__all__ = ["CommitObserver", "RollupRow", "Store", "StoredEvent", "WriteResult", "day_of"]

MS_PER_DAY = 86_400_000


def day_of(timestamp_ms: int) -> int:
    """The UTC day number of a timestamp in milliseconds."""
    return timestamp_ms // MS_PER_DAY


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

    async def apps(self) -> list[str]:
        """The apps that have data."""
        ...

    async def count_events(self, app: str | None = None) -> int:
        """How many raw events are stored (tests, benchmarks, the health page)."""
        ...

    async def close(self) -> None:
        """Commit what is pending and release the store."""
        ...
