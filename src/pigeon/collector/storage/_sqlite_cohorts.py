"""The SQLite store's install cohorts, from the weekly bitmaps of dimension ``all``.

An install's cohort is the week of its first activity: its bit is set in that
week's bitmap and in no earlier one. So, walking the weeks oldest first, the
cohort of a week is ``week AND NOT seen`` where ``seen`` is the OR of every
earlier week, and how many of a cohort were active in a later week is the
popcount of ``cohort AND that week``. Python's big integers do the bitwise
work, chunk by chunk (see ``_sqlite_bitmaps``).

Memory stays bounded at millions of installs: ``seen`` holds one bit per
install (125 kB at 1M), and each cohort only the chunks it has members in;
ordinals are handed out in order of first arrival, so a cohort's members sit
in few chunks. The weeks before the range are read too, because first
activity looks at everything the store kept (rollups outlive raw events).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from pigeon.collector.storage._base import CohortRow
from pigeon.collector.storage._sqlite_reads import apps

__all__ = ["cohorts"]

Chunks = dict[int, int]
"""Chunk number -> that chunk's bits."""


def _weeks(
    conn: sqlite3.Connection, names: list[str], last_week: int
) -> Iterator[tuple[int, Chunks]]:
    """Each week up to ``last_week`` that has installs, oldest first, its apps' bits ORed."""
    marks = ", ".join("?" * len(names))
    # One app: the primary key's (app, dimension, week, value, chunk) order is
    # the ORDER BY, so SQLite streams rows without sorting them.
    sql = (
        "SELECT week, chunk, bits FROM rollup_bitmaps_weekly "  # noqa: S608  # fixed SQL
        f"WHERE app IN ({marks}) AND dimension = 'all' AND week <= ? ORDER BY week"
    )
    current: int | None = None
    chunks: Chunks = {}
    from_bytes = int.from_bytes
    for week, chunk, blob in conn.execute(sql, (*names, last_week)):
        if week != current:
            if current is not None:
                yield current, chunks
            current, chunks = week, {}
        chunks[chunk] = chunks.get(chunk, 0) | from_bytes(blob, "little")
    if current is not None:
        yield current, chunks


def cohorts(
    conn: sqlite3.Connection, app: str | None, first_week: int, last_week: int
) -> list[CohortRow]:
    """The cohorts of weeks ``first_week..last_week`` (see ``Store.cohorts``)."""
    if first_week > last_week:
        return []
    names = [app] if app is not None else apps(conn)
    active = {week: [0] * (last_week - week + 1) for week in range(first_week, last_week + 1)}
    members: dict[int, Chunks] = {}  # cohort week -> its installs
    seen: Chunks = {}
    for week, chunks in _weeks(conn, names, last_week) if names else ():
        if week >= first_week:
            for cohort, parts in members.items():
                active[cohort][week - cohort] = sum(
                    (part & chunks.get(chunk, 0)).bit_count() for chunk, part in parts.items()
                )
            new = {chunk: bits & ~seen.get(chunk, 0) for chunk, bits in chunks.items()}
            members[week] = {chunk: bits for chunk, bits in new.items() if bits}
            active[week][0] = sum(bits.bit_count() for bits in new.values())
        for chunk, bits in chunks.items():
            seen[chunk] = seen.get(chunk, 0) | bits
    return [CohortRow(week, counts[0], tuple(counts)) for week, counts in active.items()]
