"""A cluster's nodes: creating the layout on each, and reaching each shard for ``ALTER``.

With ``cluster=NAME`` the store reads the nodes of ``NAME`` from the server it
connects to (``system.clusters``, i.e. its ``remote_servers``) and creates the
layout on every node itself, over plain connections: no ``ON CLUSTER`` (which
needs ZooKeeper even without replication). Tables an operator created first,
such as replicated local tables, are left as they are (``IF NOT EXISTS``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pigeon.collector.storage._errors import StoreError
from pigeon.collector.storage._migration import Migration
from pigeon.collector.storage.clickhouse._connection import Connect, Connection
from pigeon.collector.storage.clickhouse._layout import ensure_layout
from pigeon.collector.storage.clickhouse._maintenance import Shards
from pigeon.collector.storage.clickhouse._sql import render

__all__ = [
    "Node",
    "NodeConnect",
    "cluster_nodes",
    "create_cluster_layout",
    "open_shards",
    "shard_leaders",
]

NodeConnect = Callable[[str, int], Connect]
"""Given a node's host and native port, how to connect to it."""


@dataclass(frozen=True, slots=True)
class Node:
    """One server of a cluster."""

    shard: int
    replica: int
    host: str
    port: int


def cluster_nodes(conn: Connection, cluster: str) -> list[Node]:
    """The nodes of ``cluster`` as the server behind ``conn`` knows them.

    Raises:
        StoreError: the server knows no such cluster.
    """
    rows = conn.query(
        render(
            "SELECT shard_num, replica_num, host_address, port FROM system.clusters "
            "WHERE cluster = %(cluster)s ORDER BY shard_num, replica_num",
            {"cluster": cluster},
        )
    )
    if not rows:
        raise StoreError(f"the server knows no cluster {cluster!r} (see its remote_servers)")
    return [Node(int(s), int(r), str(h), int(p)) for s, r, h, p in rows]


def create_cluster_layout(
    nodes: Sequence[Node],
    database: str,
    cluster: str,
    node_connect: NodeConnect,
    *,
    store: str,
    say: Callable[[str], None] | None = None,
) -> Migration:
    """Create or upgrade the local tables, views and ``Distributed`` tables on every node.

    Returns the first node's migration (every node is brought to the same layout).
    """
    migrations = []
    for node in nodes:
        conn = node_connect(node.host, node.port)()
        try:
            migrations.append(
                ensure_layout(conn, database, cluster, f"{store} ({node.host}:{node.port})", say)
            )
        finally:
            conn.close()
    return migrations[0]


def shard_leaders(nodes: Sequence[Node]) -> list[Node]:
    """One node per shard (its first replica): where that shard's ``ALTER`` goes."""
    leaders: dict[int, Node] = {}
    for node in nodes:
        leaders.setdefault(node.shard, node)
    return [leaders[shard] for shard in sorted(leaders)]


@contextlib.contextmanager
def open_shards(
    database: str, leaders: Sequence[Node], node_connect: NodeConnect
) -> Iterator[Shards]:
    """Connections to every shard's leader for one maintenance job, closed after."""
    connections: list[Connection] = []
    try:
        for node in leaders:
            connections.append(node_connect(node.host, node.port)())
        yield Shards(database, connections, "_local")
    finally:
        for conn in connections:
            with contextlib.suppress(Exception):
                conn.close()
