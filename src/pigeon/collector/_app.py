"""The collector's ASGI app: ingestion routes, JSON errors, store lifecycle, retention, metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from pigeon._version import __version__
from pigeon.collector._config import CollectorConfig
from pigeon.collector._errors import install_error_handlers
from pigeon.collector._fast_path import CollectorApp
from pigeon.collector._ingest import Ingestor
from pigeon.collector._metrics import Metrics
from pigeon.collector._monitoring import metrics_router
from pigeon.collector._read_api import read_router
from pigeon.collector._retention import keep_retention
from pigeon.collector._routes import ingest_handlers, ingest_router
from pigeon.collector.alerts import Alerter, AlertState
from pigeon.collector.storage import Store, open_store

__all__ = ["create_app"]

_DESCRIPTION = (
    "Self-hosted collector of anonymous telemetry. Accepts pigeon's SDK, Segment and "
    "PostHog clients, validates every event against the app's catalog and stores it."
)


def _start_alerts(
    config: CollectorConfig, store: Store, metrics: Metrics, state: AlertState | None
) -> asyncio.Task[None] | None:
    """The alert loop's task, when this process evaluates alerts."""
    if config.alerts is None or state is None or not config.alerts.evaluate:
        return None
    alerter = Alerter(config.alerts, store, config.min_installs, metrics, state=state)
    return asyncio.create_task(alerter.run_forever())


def create_app(config: CollectorConfig, *, store: Store | None = None) -> CollectorApp:
    """Build the collector app.

    The store (``store``, or the one ``config.store_url`` names) is opened when
    the app starts and closed, after committing everything pending, when it
    stops. While running, ``app.state.config`` is the config and
    ``app.state.store`` the store, for the routers mounted on the app;
    ``app.metrics`` holds its Prometheus metrics, served at ``GET /metrics``
    to the admin token.

    Args:
        config: keys, store URL, limits.
        store: an already open store to use instead of opening ``config.store_url``.
    """
    metrics = Metrics()
    ingestor = Ingestor(config, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active = store if store is not None else open_store(config.store_url)
        app.state.store = active
        active.observe_commits(metrics.observe_commit)
        ingestor.store = active
        retention = (
            asyncio.create_task(keep_retention(active, config.retention_days, metrics))
            if config.retention_days > 0
            else None
        )
        if config.alerts is not None:
            app.state.alert_state = await asyncio.to_thread(AlertState, config.alerts.state)
        alerting = _start_alerts(config, active, metrics, app.state.alert_state)
        try:
            yield
        finally:
            if alerting is not None:
                alerting.cancel()
                await asyncio.gather(alerting, return_exceptions=True)
            if retention is not None:
                retention.cancel()
                await asyncio.gather(retention, return_exceptions=True)
            await active.close()
            active.observe_commits(None)

    app = CollectorApp(
        metrics,
        title="pigeon collector",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN: not in a privacy tool
        redoc_url=None,
    )
    app.state.config = config
    app.state.store = store
    app.state.alert_state = None
    install_error_handlers(app)
    app.include_router(ingest_router(ingestor))
    app.fast_routes = ingest_handlers(ingestor)
    # The reading side (dashboard, stats API, export) is mounted here.
    app.include_router(
        read_router(
            lambda: app.state.store,
            config.admin_token,
            config.min_installs,
            revocations_dir=config.revocations_dir,
            alerts=(lambda: app.state.alert_state) if config.alerts is not None else None,
        )
    )
    app.include_router(metrics_router(metrics, config.admin_token))
    return app
