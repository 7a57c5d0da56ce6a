"""The ``clickhouse://`` store URL.

``clickhouse://USER:PASSWORD@HOST:PORT/DATABASE?flush_interval=1.0&min_batch=2000&max_batch=20000``

``PORT`` is the native protocol port (9000 unless the server says otherwise), not
the HTTP one. ClickHouse wants few large inserts (each one is a new part on
disk), so a collector inserts when ``min_batch`` events wait or ``flush_interval``
seconds after its previous insert, whichever comes first; ``max_batch`` caps the
rows of one insert. ``secure=true`` turns on TLS. ``cluster=NAME`` spreads the
tables over the shards of the cluster ``NAME`` of the server's ``remote_servers``
(see ``docs/scaling.md``).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Final

from pigeon.collector.storage._errors import StoreError
from pigeon.collector.storage.clickhouse._sql import identifier

__all__ = ["ClickHouseLocation", "parse_clickhouse_url"]

DEFAULT_PORT: Final = 9000
DEFAULT_DATABASE: Final = "pigeon"
DEFAULT_FLUSH_INTERVAL: Final = 1.0
DEFAULT_MIN_BATCH: Final = 2_000
DEFAULT_MAX_BATCH: Final = 20_000

_EXAMPLE: Final = "clickhouse://USER:PASSWORD@HOST:PORT/DATABASE"


@dataclass(frozen=True, slots=True)
class ClickHouseLocation:
    """A parsed ``clickhouse://`` URL.

    Attributes:
        host: the server's host name or address.
        port: its native protocol port.
        user: the user name (``default`` when the URL has none).
        password: the password ("" when none).
        database: the database pigeon creates and uses.
        flush_interval: seconds between two inserts unless ``min_batch`` rows wait.
        min_batch: this many waiting rows are inserted at once.
        max_batch: most rows in one insert.
        secure: connect with TLS.
        cluster: the cluster whose shards hold the tables, or ``None`` (one server).
    """

    host: str
    port: int = DEFAULT_PORT
    user: str = "default"
    password: str = ""
    database: str = DEFAULT_DATABASE
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    min_batch: int = DEFAULT_MIN_BATCH
    max_batch: int = DEFAULT_MAX_BATCH
    secure: bool = False
    cluster: str | None = None


def _option(key: str, text: str) -> float | int | bool | str:
    try:
        if key == "flush_interval":
            interval = float(text)
            if not 0 <= interval <= 60:
                raise ValueError
            return interval
        if key in ("min_batch", "max_batch"):
            rows = int(text)
            if not 1 <= rows <= 1_000_000:
                raise ValueError
            return rows
        if key == "secure" and text.lower() in ("true", "false", "1", "0"):
            return text.lower() in ("true", "1")
        if key == "cluster":
            identifier(text)
            return text
    except ValueError:
        pass
    raise StoreError(
        f"bad ClickHouse store option {key}={text!r} (known: flush_interval=0..60 seconds, "
        "min_batch and max_batch=1..1000000 rows, secure=true|false, cluster=NAME)"
    )


def parse_clickhouse_url(url: str) -> ClickHouseLocation:
    """Parse a ``clickhouse://`` store URL.

    Raises:
        StoreError: not a ClickHouse URL, no host, a bad port or database name, or an
            unknown option.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "clickhouse":
        raise StoreError(f"a ClickHouse store URL looks like {_EXAMPLE}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise StoreError(f"bad port in the ClickHouse store URL (expected {_EXAMPLE})") from None
    if not parts.hostname:
        raise StoreError(f"the ClickHouse store URL names no host (expected {_EXAMPLE})")
    database = urllib.parse.unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE
    try:
        identifier(database)
    except ValueError:
        raise StoreError(
            f"bad ClickHouse database name {database!r}: letters, digits and _ only"
        ) from None
    options: dict[str, float | int | bool | str] = {}
    for key, values in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items():
        options[key] = _option(key, values[-1])
    return ClickHouseLocation(
        host=parts.hostname,
        port=port,
        user=urllib.parse.unquote(parts.username) if parts.username else "default",
        password=urllib.parse.unquote(parts.password) if parts.password else "",
        database=database,
        flush_interval=float(options.get("flush_interval", DEFAULT_FLUSH_INTERVAL)),
        min_batch=int(options.get("min_batch", DEFAULT_MIN_BATCH)),
        max_batch=int(options.get("max_batch", DEFAULT_MAX_BATCH)),
        secure=bool(options.get("secure", False)),
        cluster=str(options["cluster"]) if "cluster" in options else None,
    )
