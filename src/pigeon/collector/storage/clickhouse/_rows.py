"""From :class:`StoredEvent` to ClickHouse rows: raw events and rollup corrections."""

from __future__ import annotations

import datetime
from collections.abc import Hashable
from typing import Final

from pigeon.collector.storage._base import StoredEvent, day_of
from pigeon.collector.storage._dimensions import dimensions, signature
from pigeon.collector.storage._installs import install_key
from pigeon.collector.storage._raw import raw_values
from pigeon.collector.storage.clickhouse._sql import SqlValue

__all__ = ["MAX_DAY", "Buckets", "EventRow", "as_date", "buckets", "correction_rows", "event_row"]

MAX_DAY: Final = 49_672
"""2105-12-31, the last day ClickHouse 18.x ``Date`` holds (current releases hold more)."""

EventRow = tuple[SqlValue, ...]
"""One row of ``events_input``, in ``EVENT_COLUMNS`` order."""

Buckets = tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]
"""An event's rollup buckets: dimensions, values and amounts, side by side."""

_EPOCH: Final = datetime.date(1970, 1, 1)
_dates: dict[int, datetime.date] = {}
_buckets: dict[Hashable, Buckets] = {}
_CACHE_MAX: Final = 50_000


def as_date(day: int) -> datetime.date:
    """The ``Date`` of a day number, clamped to what every ClickHouse release holds.

    The collector bounds event times long before this; the clamp only keeps an
    absurd timestamp from failing a whole batch.
    """
    day = min(max(day, 0), MAX_DAY)
    date = _dates.get(day)
    if date is None:
        date = _EPOCH + datetime.timedelta(days=day)
        if len(_dates) < _CACHE_MAX:
            _dates[day] = date
    return date


def buckets(event: StoredEvent) -> Buckets:
    """The rollup buckets of ``event`` (see :func:`dimensions`)."""
    key = signature(event)
    cached = _buckets.get(key)
    if cached is not None:
        return cached
    found = list(dimensions(event))
    result: Buckets = (
        tuple(d for d, _, _ in found),
        tuple(v for _, v, _ in found),
        tuple(a for _, _, a in found),
    )
    if len(_buckets) >= _CACHE_MAX:
        _buckets.clear()
    _buckets[key] = result
    return result


def event_row(event: StoredEvent) -> EventRow:
    """The ``events_input`` row of one event."""
    dims, values, amounts = buckets(event)
    return (
        *raw_values(event, as_date(day_of(event.timestamp_ms))),
        install_key(event.anonymous_id),
        list(dims),
        list(values),
        list(amounts),
    )


def correction_rows(event: StoredEvent, copies: int) -> list[tuple[SqlValue, ...]]:
    """The ``rollup_corrections`` rows of a message stored ``copies`` times."""
    dims, values, amounts = buckets(event)
    date = as_date(day_of(event.timestamp_ms))
    return [
        (event.app, dimension, date, value, event.message_id, copies, amount)
        for dimension, value, amount in zip(dims, values, amounts, strict=True)
    ]
