"""Stores: where the collector keeps events and rollups (``sqlite://``, ``clickhouse://``).

Everything above this package talks to :class:`Store` only; :func:`open_store`
is the one place that picks an implementation from a URL.
"""

from pigeon.collector.storage._base import (
    CohortRow,
    CommitObserver,
    RollupRow,
    Store,
    StoredEvent,
    SumRow,
    WriteResult,
    day_of,
    week_of,
)
from pigeon.collector.storage._errors import StoreClosedError, StoreError, StoreInUseError
from pigeon.collector.storage._open import DEFAULT_STORE_URL, data_dir_of, open_store, redact_url

__all__ = [
    "DEFAULT_STORE_URL",
    "CohortRow",
    "CommitObserver",
    "RollupRow",
    "Store",
    "StoreClosedError",
    "StoreError",
    "StoreInUseError",
    "StoredEvent",
    "SumRow",
    "WriteResult",
    "data_dir_of",
    "day_of",
    "open_store",
    "redact_url",
    "week_of",
]
