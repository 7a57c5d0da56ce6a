"""The collector's configuration and its fixed limits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from pigeon.catalog import Catalog
from pigeon.collector.storage import DEFAULT_STORE_URL

if TYPE_CHECKING:
    from pigeon.collector.alerts import AlertsConfig

__all__ = [
    "DEFAULT_CATALOG",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_EVENT_BYTES",
    "MAX_ID_LENGTH",
    "MAX_REQUEST_BYTES",
    "CollectorConfig",
    "parse_write_keys",
]

MAX_EVENT_BYTES: Final = 32 * 1024
"""One event (its JSON text) may not exceed this (Segment's limit)."""
MAX_REQUEST_BYTES: Final = 500 * 1024
"""One request body may not exceed this, after decompression (Segment's limit)."""
MAX_ID_LENGTH: Final = 128
"""Message ids and install ids longer than this are refused."""
DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8642
DEFAULT_CATALOG: Final = "argilla"


@dataclass(frozen=True)
class CollectorConfig:
    """Everything a collector needs; ``pigeon serve`` builds one from options and environment.

    Example::

        from pigeon.catalog import Catalog
        from pigeon.collector import CollectorConfig, create_app

        config = CollectorConfig(
            write_keys={"argilla-demo": Catalog.load("argilla")},
            store_url="sqlite:///./pigeon-data/pigeon.db",
            admin_token="change-me",
        )
        app = create_app(config)  # any ASGI server can run it

    Attributes:
        write_keys: write key -> the catalog that validates its events; the
            catalog's name is the app the events are stored under.
        store_url: ``sqlite:///PATH`` (or, later, ``clickhouse://...``).
        admin_token: the Bearer token of the dashboard and stats API.
        retention_days: raw events older than this many days are deleted at
            start and daily (rollups are kept); 0 keeps raw events forever.
        min_installs: buckets with fewer distinct installs are shown as "other".
        rate_limit: requests per second allowed per client IP on the ingestion
            endpoints (bursts up to ``max(10, 2 * rate_limit)``); 0 turns it off.
        host: the address ``pigeon serve`` listens on.
        port: the port ``pigeon serve`` listens on (0: any free port).
        max_pending_events: events accepted but not committed yet, across
            requests; beyond it requests are answered 503 with ``Retry-After``.
        max_concurrent_requests: ingestion requests handled at once; beyond it 503.
        revocations_dir: where logged-out dashboard sessions are noted, so that
            every process serving this collector refuses them (``--workers``
            sets a private one); ``None`` keeps them in this process's memory.
        metrics_address: ``(host, port)`` of a second listener that ``serve``
            opens for ``GET /metrics`` without a token (port 0: any free
            port); ``None``: metrics only on the main port, with the admin token.
        alerts: the ``[alerts]`` table (rules, webhooks, state file); ``None``: no alerts.
    """

    write_keys: Mapping[str, Catalog] = field(default_factory=dict)
    store_url: str = DEFAULT_STORE_URL
    admin_token: str = ""
    retention_days: int = 90
    min_installs: int = 5
    rate_limit: float = 50.0
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_pending_events: int = 100_000
    max_concurrent_requests: int = 1024
    revocations_dir: Path | None = None
    metrics_address: tuple[str, int] | None = None
    alerts: AlertsConfig | None = None

    def __post_init__(self) -> None:
        """Refuse values that cannot work."""
        if self.retention_days < 0:
            raise ValueError("retention_days must be >= 0 (0 keeps raw events forever)")
        if self.min_installs < 1:
            raise ValueError("min_installs must be >= 1")
        if self.rate_limit < 0:
            raise ValueError("rate_limit must be >= 0 (0 turns rate limiting off)")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        if self.metrics_address is not None and not 0 <= self.metrics_address[1] <= 65535:
            raise ValueError("the metrics port must be between 0 and 65535")
        for key in self.write_keys:
            if not key or ":" in key:
                raise ValueError("a write key must be non-empty and contain no ':'")


def parse_write_keys(specs: Iterable[str], default_catalog: str) -> dict[str, Catalog]:
    """Turn ``KEY`` and ``KEY=CATALOG`` specs into a write-key map.

    ``KEY`` uses ``default_catalog``; ``KEY=CATALOG`` names a shipped catalog
    or a catalog file, so several apps can share one collector.

    Raises:
        ValueError: an empty key, or a key given twice with different catalogs.
        CatalogError: a catalog cannot be loaded (the message says why).
    """
    loaded: dict[str, Catalog] = {}
    keys: dict[str, Catalog] = {}
    for spec in specs:
        key, sep, ref = spec.strip().partition("=")
        key, ref = key.strip(), (ref.strip() if sep else default_catalog)
        if not key or (sep and not ref):
            raise ValueError(f"invalid write key {spec!r}: expected KEY or KEY=CATALOG")
        if ":" in key:
            raise ValueError(f"invalid write key {key!r}: a write key cannot contain ':'")
        catalog = loaded.get(ref)
        if catalog is None:
            catalog = loaded[ref] = Catalog.load(ref)
        if key in keys and keys[key] != catalog:
            raise ValueError(f"write key {key!r} is given twice with different catalogs")
        keys[key] = catalog
    return keys
