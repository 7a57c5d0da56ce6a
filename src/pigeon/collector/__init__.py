"""The self-hosted collector: ingestion, storage, dashboard and reports.

Needs the ``collector`` extra: ``pip install 'pigeon-telemetry[collector]'``.

Example::

    from pigeon.catalog import Catalog
    from pigeon.collector import CollectorConfig, create_app

    app = create_app(CollectorConfig(write_keys={"my-key": Catalog.load("argilla")}))

``pigeon serve`` runs the same app with uvicorn (see :func:`serve`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pigeon.collector._app import create_app
    from pigeon.collector._config import CollectorConfig, parse_write_keys
    from pigeon.collector._server import serve

__all__ = ["CollectorConfig", "create_app", "parse_write_keys", "serve"]

_EXPORTS = {
    "CollectorConfig": "pigeon.collector._config",
    "parse_write_keys": "pigeon.collector._config",
    "create_app": "pigeon.collector._app",
    "serve": "pigeon.collector._server",
}


def __getattr__(name: str) -> Any:
    # Lazy: `pigeon.collector.storage` (benchmarks, reports) must not import the web stack.
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pigeon.collector' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
