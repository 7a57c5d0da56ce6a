"""How a ClickHouse store is backed up and restored: by the server, with its own commands.

pigeon does not copy a ClickHouse database itself: the server's ``BACKUP``
and ``RESTORE`` (ClickHouse 22.8 and later) copy parts consistently and fast,
but write only to a disk or path that the server's configuration allows,
which pigeon cannot set up. ``pigeon backup`` and ``pigeon restore`` print
these instructions instead, filled in with the store's database and host.
"""

from __future__ import annotations

from typing import Final

from pigeon.collector.storage.clickhouse._url import ClickHouseLocation

__all__ = ["SERVER_CONFIG", "backup_instructions"]

SERVER_CONFIG: Final = """\
<clickhouse>
  <storage_configuration><disks>
    <backups><type>local</type><path>/var/lib/clickhouse/backups/</path></backups>
  </disks></storage_configuration>
  <backups>
    <allowed_disk>backups</allowed_disk>
    <allowed_path>/var/lib/clickhouse/backups/</allowed_path>
  </backups>
</clickhouse>"""
"""The server configuration (``config.d/backups.xml``) that allows the ``backups`` disk."""


def backup_instructions(location: ClickHouseLocation, name: str, *, restore: bool) -> str:
    """What to run to back up (or, ``restore``, to restore) the store's database as ``name``."""
    database = location.database
    if restore:
        statement = f"RESTORE DATABASE {database} FROM Disk('backups', '{name}')"
        what = f"restore the database {database} from the backup {name}"
    else:
        statement = f"BACKUP DATABASE {database} TO Disk('backups', '{name}')"
        what = f"back up the database {database} as {name}"
    client = (
        f"clickhouse-client --host {location.host} --port {location.port} "
        f"--user {location.user}{' --password' if location.password else ''}"
        f'{" --secure" if location.secure else ""} --query "{statement}"'
    )
    lines = [
        f"A ClickHouse store is backed up by the server itself. To {what}:",
        "",
        "1. Once, allow the `backups` disk in the server's configuration",
        "   (/etc/clickhouse-server/config.d/backups.xml) and restart it:",
        "",
        *(f"   {line}" for line in SERVER_CONFIG.splitlines()),
        "",
        "2. Run (ClickHouse 22.8 or later):",
        "",
        f"   {client}",
    ]
    if restore:
        lines += [
            "",
            f"   Stop every collector first; RESTORE refuses a database {database} that",
            f"   exists: drop it (DROP DATABASE {database}) or add",
            "   SETTINGS allow_non_empty_tables=true.",
        ]
    if location.cluster is not None:
        lines += [
            "",
            f"   The tables are spread over the shards of cluster {location.cluster}: run it",
            "   on one server of every shard, each with its own backup name (ON CLUSTER",
            "   needs ClickHouse Keeper).",
        ]
    return "\n".join(lines) + "\n"
