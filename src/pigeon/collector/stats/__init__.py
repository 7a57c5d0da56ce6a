"""Reading the collector's data: stats views, the export, k-anonymity, date ranges.

Everything here is computed from store primitives (``Store.series``,
``Store.totals`` and, for adoption, ``Store.cohorts``), so it works unchanged
on every store. The HTTP API
(``pigeon.collector._read_api``) and ``pigeon report`` are thin layers over it::

    query = parse_query(days="30", app="argilla")
    body = await compute_view(store, "versions", query, min_installs=5)
"""

from pigeon.collector.stats._anonymity import OTHER
from pigeon.collector.stats._export import export_csv, export_data
from pigeon.collector.stats._query import (
    DEFAULT_DAYS,
    MAX_DAYS,
    DayRange,
    StatsQuery,
    StatsQueryError,
    day_to_iso,
    parse_query,
    today_utc,
)
from pigeon.collector.stats._views import VIEWS, compute_view

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "OTHER",
    "VIEWS",
    "DayRange",
    "StatsQuery",
    "StatsQueryError",
    "compute_view",
    "day_to_iso",
    "export_csv",
    "export_data",
    "parse_query",
    "today_utc",
]
