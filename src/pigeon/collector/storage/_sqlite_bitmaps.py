"""Install bitmaps: distinct installs over any date range without a scan.

Every install gets a dense *ordinal* (``install_ordinals``). The installs of a
bucket (app, dimension, day or week, value) are kept as bitmaps of ordinals,
split in chunks of :data:`CHUNK_SIZE` ordinals (``chunk = ordinal >> 12``,
bit ``ordinal & 4095``), each a little-endian bit string trimmed of its zero
high bytes (at most 512 bytes). The installs of a range are the OR of the
weekly rows of the whole weeks inside it and the daily rows of the days at
its edges: a few hundred small rows whatever the number of events.

Weeks run Monday to Sunday: ``week = (day + 3) // 7`` (day 0, 1970-01-01, was
a Thursday; :func:`~pigeon.collector.storage._base.week_of`, re-exported here).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Final

from pigeon.collector.storage._base import week_of

__all__ = [
    "CHUNK_BITS",
    "bit_position",
    "day_span_of_weeks",
    "register_functions",
    "to_blob",
    "week_of",
]

CHUNK_BITS: Final = 12
CHUNK_SIZE: Final = 1 << CHUNK_BITS
_LOW: Final = CHUNK_SIZE - 1


def day_span_of_weeks(first_day: int, last_day: int) -> tuple[int, int] | None:
    """The first and last whole weeks inside ``first_day..last_day``, or ``None``."""
    first_week = -(-(first_day + 3) // 7)  # the first week starting on or after first_day
    last_week = (last_day - 3) // 7  # the last week ending on or before last_day
    return (first_week, last_week) if first_week <= last_week else None


def bit_position(ordinal: int) -> tuple[int, int]:
    """``(chunk, bit)`` of an ordinal."""
    return ordinal >> CHUNK_BITS, ordinal & _LOW


def to_blob(bits: int) -> bytes:
    """A chunk's bits as a trimmed little-endian byte string."""
    return bits.to_bytes((bits.bit_length() + 7) // 8, "little")


def or_blobs(blobs: Iterable[bytes]) -> int:
    """The union of chunk bitmaps, as an integer."""
    union = 0
    for blob in blobs:
        union |= int.from_bytes(blob, "little")
    return union


def _bit_or(old: bytes | None, new: bytes | None) -> bytes:
    if not old:
        return new or b""
    if not new:
        return old
    return to_blob(int.from_bytes(old, "little") | int.from_bytes(new, "little"))


def _bit_clear(old: bytes | None, bit: int) -> bytes:
    if not old:
        return b""
    return to_blob(int.from_bytes(old, "little") & ~(1 << bit))


def register_functions(conn: sqlite3.Connection) -> None:
    """Give the writing connection ``bit_or(a, b)`` and ``bit_clear(bits, bit)``."""
    conn.create_function("bit_or", 2, _bit_or, deterministic=True)
    conn.create_function("bit_clear", 2, _bit_clear, deterministic=True)
