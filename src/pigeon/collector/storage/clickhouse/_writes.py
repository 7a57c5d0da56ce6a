"""Writing one group of batches: dedup, one ``INSERT``, then the cross-collector check.

The protocol (see ``_schema`` for why):

1. Drop ids repeated inside the group (the first copy wins, as in SQLite).
2. Ask ``message_copies`` which ids are already stored: those are duplicates and
   are not inserted (a client retrying a batch whose answer it never got).
3. Insert the rest in one ``INSERT``: the views update the rollups, the install
   rows and the copy counter in the same statement.
4. Ask ``message_copies`` again, for the ids just inserted: an id with more than
   one copy was inserted by another collector at the same moment, so the rollups
   counted it twice; write its correction rows (idempotent: every writer that
   sees the race writes the same rows, the highest copy count wins).

Step 2 also re-writes the correction of an already-duplicated id it meets, so a
correction lost with a failed request is restored when the client retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from pigeon.collector.storage._base import StoredEvent, WriteResult
from pigeon.collector.storage.clickhouse._connection import Connection
from pigeon.collector.storage.clickhouse._rows import correction_rows, event_row
from pigeon.collector.storage.clickhouse._schema import CORRECTION_COLUMNS, EVENT_COLUMNS
from pigeon.collector.storage.clickhouse._sql import SqlValue, identifier, render

__all__ = ["LOOKUP_CHUNK", "copies_of", "write_group"]

LOOKUP_CHUNK: Final = 2_000
"""Ids per lookup query: ~80 KB of SQL, well under ClickHouse's 256 KiB ``max_query_size``."""

_COPIES: Final = (
    "SELECT message_id, sum(copies) FROM {db}.message_copies "
    "WHERE message_id IN %(ids)s GROUP BY message_id"
)


def copies_of(conn: Connection, database: str, ids: Sequence[str]) -> dict[str, int]:
    """How many copies of each of ``ids`` were ever inserted (absent ids: none)."""
    found: dict[str, int] = {}
    sql = _COPIES.format(db=identifier(database))
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = tuple(ids[start : start + LOOKUP_CHUNK])
        for message_id, copies in conn.query(render(sql, {"ids": chunk})):
            found[str(message_id)] = int(copies)
    return found


def write_group(
    conn: Connection, database: str, batches: Sequence[Sequence[StoredEvent]]
) -> list[WriteResult]:
    """Store the batches of concurrent writes as one insert; one result per batch."""
    seen: set[str] = set()
    fresh: list[StoredEvent] = []
    owners: list[int] = []
    for index, batch in enumerate(batches):
        for event in batch:
            if event.message_id not in seen:
                seen.add(event.message_id)
                fresh.append(event)
                owners.append(index)
    existing = copies_of(conn, database, [event.message_id for event in fresh])
    db = identifier(database)
    corrections: list[tuple[SqlValue, ...]] = []
    new: list[StoredEvent] = []
    stored = [0] * len(batches)
    for event, owner in zip(fresh, owners, strict=True):
        copies = existing.get(event.message_id, 0)
        if copies == 0:
            new.append(event)
            stored[owner] += 1
        elif copies > 1:
            corrections.extend(correction_rows(event, copies))
    if new:
        conn.insert(f"{db}.events_input", EVENT_COLUMNS, [event_row(event) for event in new])
        after = copies_of(conn, database, [event.message_id for event in new])
        for event in new:
            copies = after.get(event.message_id, 1)
            if copies > 1:
                corrections.extend(correction_rows(event, copies))
    if corrections:
        conn.insert(f"{db}.rollup_corrections", CORRECTION_COLUMNS, corrections)
    return [
        WriteResult(stored=stored[index], duplicates=len(batch) - stored[index])
        for index, batch in enumerate(batches)
    ]
