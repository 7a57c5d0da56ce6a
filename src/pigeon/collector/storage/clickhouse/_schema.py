"""The ClickHouse layout: tables, materialized views, and why they are shaped so.

Every statement is accepted by Debian's ClickHouse 18.16 and by current releases
(the tests run them on both). Hence: no ``LowCardinality`` (experimental in 18.x),
no ``TTL`` clauses (19.6), no ``Nullable`` keys, no server-side parameters; engine
arguments in the ``PARTITION BY``/``ORDER BY`` form that 18.x introduced and
current releases still use.

Tables:

- ``events_input``: what writers insert into. A ``Null`` table: it keeps nothing
  and only feeds the views below, all in the same ``INSERT``. Its rows carry the
  rollup buckets of each event (``bucket_*`` arrays) computed in Python by
  ``pigeon.collector.storage._dimensions.dimensions``: the views only unfold them
  (``ARRAY JOIN``), so both stores count every event in exactly the same buckets
  and no dimension logic is written twice.
- ``events``: the raw events, ``ReplacingMergeTree`` whose key ends with the
  message id, partitioned by month (retention drops whole months).
- ``rollup_daily``: ``SummingMergeTree`` of events and amount per
  ``(app, dimension, day, value)``; what dashboards sum.
- ``rollup_installs``: one row per install per bucket and day, keyed by the same
  64-bit install hash as the SQLite store; ``ReplacingMergeTree``, so a duplicate
  event adds a row identical to one already there: distinct install counts
  (``uniqExact``) are exact whatever the duplicates and whatever the merge state.
- ``message_copies``: ``SummingMergeTree`` counting how many copies of each
  message id were inserted, by any collector.
- ``rollup_corrections``: for a message inserted ``copies`` times, how much
  ``rollup_daily`` over-counts it. Reads subtract it.

Why corrections: a materialized view fires on every insert, duplicates included,
and ClickHouse has no unique constraint or transaction to stop two collectors
inserting the same message id at the same moment. So each writer first skips ids
already stored (the common retry), and after its insert asks ``message_copies``
how many copies of its new ids exist; any id with more than one gets correction
rows, idempotently (``ReplacingMergeTree`` on the message id, the highest copy
count wins). Whichever of two racing writers finishes last sees both copies, so
the correction is always written before the last of those writes returns. The
correction table holds rows for duplicated messages only: the daily rollups stay
one small row per bucket, and no read ever has to scan message ids.
"""

from __future__ import annotations

from typing import Final

from pigeon.collector.storage._raw import RAW_COLUMNS
from pigeon.collector.storage.clickhouse._sql import identifier

__all__ = [
    "CORRECTION_COLUMNS",
    "EVENT_COLUMNS",
    "SCHEMA_TABLES",
    "schema_statements",
]

EVENT_COLUMNS: Final = (
    *RAW_COLUMNS,
    "install",
    "bucket_dimensions",
    "bucket_values",
    "bucket_amounts",
)
"""The columns of ``events_input``, in the order rows are built."""

CORRECTION_COLUMNS: Final = ("app", "dimension", "day", "value", "message_id", "copies", "amount")
"""The columns of ``rollup_corrections``, in the order rows are built."""

SCHEMA_TABLES: Final = (
    "events_input",
    "events",
    "message_copies",
    "rollup_daily",
    "rollup_installs",
    "rollup_corrections",
)
"""Every table (views excluded), in creation order."""

_RAW_COLUMNS: Final = """
        message_id String,
        app String,
        event String,
        anonymous_id String,
        timestamp_ms Int64,
        received_ms Int64,
        day Date,
        app_version String,
        python_version String,
        system String,
        release String,
        machine String,
        platform String,
        library String,
        catalog_version String,
        properties String"""

_TEMPLATE: Final = (
    # Writers insert here; a Null table keeps nothing, it only feeds the views. So
    # the bucket arrays and install hash, needed by the views alone, cost no disk.
    """CREATE TABLE IF NOT EXISTS {events_input} ({raw_columns},
        install Int64,
        bucket_dimensions Array(String),
        bucket_values Array(String),
        bucket_amounts Array(Int64)
    ) ENGINE = Null""",
    # The key is the message id behind (app, day, install), all functions of the
    # message, so copies of one message collapse on merge. Sorting by install
    # inside a day makes the random install ids runs (they compress to almost
    # nothing) and lets forget find an install's rows without a full scan.
    """CREATE TABLE IF NOT EXISTS {events} ({raw_columns}
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(day)
    ORDER BY (app, day, anonymous_id, message_id)""",
    # Partitioned like `events`, so retention drops both together and dedup
    # remembers an id exactly as long as its raw event is kept (as in SQLite).
    """CREATE TABLE IF NOT EXISTS {message_copies} (
        message_id String,
        day Date,
        copies UInt64
    ) ENGINE = SummingMergeTree((copies))
    PARTITION BY toYYYYMM(day)
    ORDER BY message_id""",
    """CREATE TABLE IF NOT EXISTS {rollup_daily} (
        app String,
        dimension String,
        day Date,
        value String,
        events UInt64,
        amount Int64
    ) ENGINE = SummingMergeTree((events, amount))
    PARTITION BY toYYYYMM(day)
    ORDER BY (app, dimension, day, value)""",
    """CREATE TABLE IF NOT EXISTS {rollup_installs} (
        app String,
        dimension String,
        day Date,
        value String,
        install Int64
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(day)
    ORDER BY (app, dimension, day, value, install)""",
    """CREATE TABLE IF NOT EXISTS {rollup_corrections} (
        app String,
        dimension String,
        day Date,
        value String,
        message_id String,
        copies UInt64,
        amount Int64
    ) ENGINE = ReplacingMergeTree(copies)
    PARTITION BY toYYYYMM(day)
    ORDER BY (app, dimension, day, value, message_id)""",
    # `TO table` views (not inner tables): their targets can be queried, altered
    # and dropped by name, and the same form works from 18.x to today.
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_mv TO {events}
    AS SELECT {raw_names} FROM {events_input}""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.message_copies_mv TO {message_copies}
    AS SELECT message_id, day, toUInt64(1) AS copies FROM {events_input}""",
    # Each view aggregates its insert block before writing: one row per bucket
    # (or per install and bucket) per insert, not one per event and dimension.
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollup_daily_mv TO {rollup_daily}
    AS SELECT app, dimension, day, value, count() AS events, sum(bucket_amount) AS amount
    FROM {events_input}
    ARRAY JOIN bucket_dimensions AS dimension, bucket_values AS value,
        bucket_amounts AS bucket_amount
    GROUP BY app, dimension, day, value""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollup_installs_mv TO {rollup_installs}
    AS SELECT app, dimension, day, value, install
    FROM {events_input}
    ARRAY JOIN bucket_dimensions AS dimension, bucket_values AS value
    GROUP BY app, dimension, day, value, install""",
)


_SHARDED_BY: Final = {
    # Every copy of a message goes to one shard, whichever collector sent it: there
    # `message_copies` counts the copies and `events` merges them away.
    "events_input": "cityHash64(message_id)",
    "rollup_corrections": "cityHash64(message_id)",
}


def schema_statements(database: str, cluster: str | None = None) -> tuple[str, ...]:
    """Every statement that creates the layout in ``database`` (idempotent), in order.

    With ``cluster``, the statements one node of that cluster runs: the tables
    under ``<name>_local`` with the views between them, and under each of pigeon's
    names a ``Distributed`` table over the nodes' local ones (what the store reads
    and writes). Run them on every node.
    """
    db = identifier(database)
    suffix = "" if cluster is None else "_local"
    names = {table: f"{db}.{table}{suffix}" for table in SCHEMA_TABLES}
    raw_names = ", ".join(column.split()[0] for column in _RAW_COLUMNS.split(","))
    statements = [
        statement.format(db=db, raw_columns=_RAW_COLUMNS, raw_names=raw_names, **names)
        for statement in _TEMPLATE
    ]
    if cluster is not None:
        identifier(cluster)
        for table in SCHEMA_TABLES:
            key = _SHARDED_BY.get(table)
            arguments = f"'{cluster}', '{database}', '{table}_local'" + (f", {key}" if key else "")
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {db}.{table} AS {names[table]} "
                f"ENGINE = Distributed({arguments})"
            )
    return tuple(statements)
