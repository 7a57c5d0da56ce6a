"""From a store URL to a store: the one place that knows every URL scheme."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from pigeon.collector.storage._base import Store
from pigeon.collector.storage._errors import StoreError
from pigeon.errors import MissingExtraError

if TYPE_CHECKING:
    from pigeon.collector.storage.clickhouse import ClickHouseStore

__all__ = [
    "DEFAULT_STORE_URL",
    "clickhouse_store_class",
    "data_dir_of",
    "open_store",
    "redact_url",
    "scheme_of",
]

DEFAULT_STORE_URL = "sqlite:///./pigeon-data/pigeon.db"
"""Where ``pigeon serve`` keeps its data unless told otherwise."""

_SCHEMES = ("sqlite", "clickhouse")


def scheme_of(url: str) -> str:
    """``"sqlite"`` or ``"clickhouse"``.

    Raises:
        StoreError: neither.
    """
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in _SCHEMES:
        raise StoreError(
            f"unsupported store URL {redact_url(url)!r}: expected sqlite:///PATH "
            "or clickhouse://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    return scheme


def open_store(url: str, *, read_only: bool = False) -> Store:
    """Open (creating if needed) the store at ``url``.

    Args:
        url: ``sqlite:///PATH`` or ``clickhouse://...``.
        read_only: for readers such as ``pigeon report``: a SQLite store must
            already exist and is never created or changed (writes raise
            :class:`StoreError`). A ClickHouse store is opened as usual.

    Raises:
        StoreError: the URL is not understood, or the store cannot be opened
            (read-only: there is no store at the path).
    """
    if scheme_of(url) == "sqlite":
        from pigeon.collector.storage._sqlite import SQLiteStore

        return SQLiteStore.from_url(url, read_only=read_only)
    return clickhouse_store_class().from_url(url)


def clickhouse_store_class() -> type[ClickHouseStore]:
    """The ClickHouse store, imported on demand.

    Raises:
        StoreError: the ``clickhouse`` extra is not installed.
    """
    try:
        from pigeon.collector.storage.clickhouse import ClickHouseStore
    except ImportError as exc:
        message = str(MissingExtraError("clickhouse", "a clickhouse:// store"))
        raise StoreError(f"{message} ({exc})") from None
    return ClickHouseStore


def data_dir_of(url: str) -> Path | None:
    """The local directory that belongs with the data (where a generated admin token is kept).

    For SQLite it is the database's directory. A remote store has none: several
    collectors share it, so they must be given one admin token.

    Raises:
        StoreError: the URL is not understood.
    """
    if scheme_of(url) == "sqlite":
        from pigeon.collector.storage._sqlite_schema import parse_sqlite_url

        return parse_sqlite_url(url).path.parent
    return None


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
