"""k-anonymity: no published number stands for fewer than ``min_installs`` installs.

The rules, shared by every view, the export and ``pigeon report``:

* A value (a version, an error, a language...) is named only when at least
  ``min_installs`` distinct installs sent it over the whole range. Every other
  value is merged into one bucket, ``"other"``. A value that is literally
  ``"other"`` (a client family or trainer framework nobody listed) joins it too,
  so the name has one meaning.
* ``"other"`` is published only when it reaches the threshold itself. The store
  counts distinct installs per value, not per union of values, so the installs
  of ``"other"`` are the *sum* over its members: an install counted in two
  merged values counts twice. That sum is an upper bound; ``"other"`` names no
  value, so what it can reveal is a count, and the threshold still applies to it.
* In per-day series the same rule holds per cell: a named value's day with
  fewer than ``min_installs`` installs is hidden (``None``) and its numbers go
  to that day's ``"other"``, which is shown when its own sum reaches the threshold.
* A day's overall activity (active installs, events) with ``0 < installs <
  min_installs`` is hidden too: published aggregates must not let someone who
  knows one of two installs read the other's activity. Zero stays zero.

``min_installs=1`` turns every rule off (each bucket has at least one install).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from pigeon.collector.storage._base import RollupRow

__all__ = ["OTHER", "Count", "hide_small", "merge_series", "merge_totals"]

OTHER = "other"
"""The name of the merged bucket."""


class Count(NamedTuple):
    """The numbers of one bucket: events, amount (records for bulk uploads), installs."""

    events: int
    amount: int
    installs: int


ZERO = Count(0, 0, 0)


def hide_small(count: Count, min_installs: int) -> Count | None:
    """``count``, or ``None`` when it stands for fewer than ``min_installs`` installs."""
    if 0 < count.installs < min_installs:
        return None
    return count


def merge_totals(
    rows: Iterable[RollupRow], min_installs: int
) -> tuple[dict[str, Count], Count | None]:
    """Split range totals into named values and the ``"other"`` bucket.

    Returns:
        ``(named, other)``: every value that reaches the threshold with its count,
        and the merged bucket, or ``None`` when nothing was merged or when the
        merged bucket itself stays under the threshold.
    """
    named: dict[str, Count] = {}
    events = amount = installs = 0
    merged = False
    for row in rows:
        if row.value != OTHER and row.installs >= min_installs:
            named[row.value] = Count(row.events, row.amount, row.installs)
        else:
            merged = True
            events += row.events
            amount += row.amount
            installs += row.installs
    if not merged or installs < min_installs:
        return named, None
    return named, Count(events, amount, installs)


def merge_series(
    rows: Iterable[RollupRow], shown: Sequence[str], days: Sequence[int], min_installs: int
) -> dict[str, list[Count | None]]:
    """Per-day counts of the ``shown`` values, everything else merged into ``"other"``.

    Args:
        rows: per-day rows of one dimension (``Store.series``).
        shown: the values to chart, in order; each must have reached the
            threshold over the range (see :func:`merge_totals`). Values not in
            it (rare ones, or beyond a chart's top N) go to ``"other"``.
        days: the days of the range, oldest first.
        min_installs: the k-anonymity threshold.

    Returns:
        For each shown value, then ``"other"`` when anything was merged, one
        entry per day: the count, ``ZERO`` when nothing happened, or ``None``
        when the cell is hidden (under the threshold).
    """
    position = {day: i for i, day in enumerate(days)}
    keep = set(shown)
    cells: dict[str, list[Count | None]] = {value: [ZERO] * len(days) for value in shown}
    other_events = [0] * len(days)
    other_amount = [0] * len(days)
    other_installs = [0] * len(days)
    merged = False
    for row in rows:
        i = position.get(row.day) if row.day is not None else None
        if i is None:
            continue
        if row.value in keep:
            if row.installs >= min_installs:
                cells[row.value][i] = Count(row.events, row.amount, row.installs)
                continue
            cells[row.value][i] = None
        merged = True
        other_events[i] += row.events
        other_amount[i] += row.amount
        other_installs[i] += row.installs
    if merged:
        cells[OTHER] = [
            hide_small(Count(e, a, n), min_installs)
            for e, a, n in zip(other_events, other_amount, other_installs, strict=True)
        ]
    return cells
