"""The ClickHouse store: ``clickhouse://USER:PASSWORD@HOST:PORT/DATABASE``.

For deployments that outgrow one machine: several stateless collectors behind a
load balancer, all writing to one ClickHouse database (or cluster). Needs the
``clickhouse`` extra: ``pip install 'pigeon-telemetry[clickhouse]'``. See
``docs/scaling.md``.
"""

from pigeon.collector.storage.clickhouse._connection import (
    Connect,
    Connection,
    NativeConnection,
    native_connect,
)
from pigeon.collector.storage.clickhouse._schema import SCHEMA_TABLES, schema_statements
from pigeon.collector.storage.clickhouse._store import ClickHouseStore
from pigeon.collector.storage.clickhouse._url import ClickHouseLocation, parse_clickhouse_url

__all__ = [
    "SCHEMA_TABLES",
    "ClickHouseLocation",
    "ClickHouseStore",
    "Connect",
    "Connection",
    "NativeConnection",
    "native_connect",
    "parse_clickhouse_url",
    "schema_statements",
]
