"""The ClickHouse store's install cohorts, in SQL over ``rollup_installs``.

One pass: per install (dimension ``all``, every day up to the last week asked,
so first activity looks at all the history kept), its first week (``min``) and
the set of weeks it was active in (``groupUniqArray``); then the sets are
unfolded (``ARRAY JOIN``) and counted per (first week, active week). Both
aggregates are plain ones that 18.16 has, merge across the shards of a
cluster, and are exact whatever the merge state of the ``ReplacingMergeTree``
(a duplicate row adds the same week again, which the set ignores).
"""

from __future__ import annotations

from typing import Final

from pigeon.collector.storage._base import CohortRow, week_days
from pigeon.collector.storage.clickhouse._connection import Connection
from pigeon.collector.storage.clickhouse._rows import as_date
from pigeon.collector.storage.clickhouse._sql import SqlValue, identifier, render

__all__ = ["read_cohorts"]

# Date to UInt32 is the day number since the epoch in every release; the week
# is `week_of` of _base, written again in SQL.
_WEEK: Final = "intDiv(toUInt32(day) + 3, 7)"

_COHORTS: Final = """SELECT first_week, active_week, count() AS installs FROM (
    SELECT install, min({week}) AS first_week, groupUniqArray({week}) AS weeks
    FROM {db}.rollup_installs
    WHERE {where}
    GROUP BY install
) ARRAY JOIN weeks AS active_week
WHERE first_week >= %(first_week)s
GROUP BY first_week, active_week"""


def read_cohorts(
    conn: Connection, database: str, *, app: str | None, first_week: int, last_week: int
) -> list[CohortRow]:
    """The cohorts of weeks ``first_week..last_week`` (see ``Store.cohorts``)."""
    if first_week > last_week:
        return []
    params: dict[str, SqlValue] = {
        "first_week": max(first_week, 0),
        "last": as_date(week_days(last_week)[1]),
    }
    where = "dimension = 'all' AND day <= %(last)s"
    if app is not None:
        where = "app = %(app)s AND " + where
        params["app"] = app
    sql = _COHORTS.format(week=_WEEK, db=identifier(database), where=where)
    active = {week: [0] * (last_week - week + 1) for week in range(first_week, last_week + 1)}
    for cohort, week, installs in conn.query(render(sql, params)):
        counts = active.get(int(cohort))
        if counts is not None and int(week) <= last_week:
            counts[int(week) - int(cohort)] = int(installs)
    return [CohortRow(week, counts[0], tuple(counts)) for week, counts in active.items()]
