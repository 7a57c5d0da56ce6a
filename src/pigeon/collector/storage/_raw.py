"""The raw event row every store keeps: one column list and one way to fill it.

A store adds its own columns after these (ClickHouse: the install key and the
rollup buckets) and chooses how the ``day`` is typed (SQLite: a day number;
ClickHouse: a ``Date``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, TypeVar

import msgspec

from pigeon.collector.storage._base import StoredEvent

__all__ = ["RAW_COLUMNS", "event_of", "raw_values"]

RAW_COLUMNS: Final = (
    "message_id",
    "app",
    "event",
    "anonymous_id",
    "timestamp_ms",
    "received_ms",
    "day",
    "app_version",
    "python_version",
    "system",
    "release",
    "machine",
    "platform",
    "library",
    "catalog_version",
    "properties",
)
"""The raw event columns, in the order :func:`raw_values` fills them."""

_encode_json = msgspec.json.Encoder().encode
_decode_json = msgspec.json.Decoder(dict[str, Any]).decode
_Day = TypeVar("_Day")


def raw_values(event: StoredEvent, day: _Day) -> tuple[str | int | _Day, ...]:
    """The :data:`RAW_COLUMNS` values of ``event``, with ``day`` as the store types it."""
    props = event.properties
    return (
        event.message_id,
        event.app,
        event.event,
        event.anonymous_id,
        event.timestamp_ms,
        event.received_ms,
        day,
        event.app_version,
        event.python_version,
        event.system,
        event.release,
        event.machine,
        event.platform,
        event.library,
        event.catalog_version,
        _encode_json(props).decode() if props else "{}",
    )


def event_of(row: Sequence[object], columns: Sequence[str] = RAW_COLUMNS) -> StoredEvent:
    """The event a raw row holds, as ingestion made it (``columns``: the row's, in order).

    ``day`` is derived from the timestamp and skipped; a JSON array (``frames``)
    becomes the tuple that validation made of it.
    """
    fields: dict[str, Any] = {
        column: value for column, value in zip(columns, row, strict=True) if column != "day"
    }
    properties = _decode_json(str(fields["properties"]))
    fields["properties"] = {
        key: tuple(value) if type(value) is list else value for key, value in properties.items()
    }
    return StoredEvent(**fields)
