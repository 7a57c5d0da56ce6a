"""``create_app``: the reference server, wired like a host app wires pigeon.

Three lines of telemetry wiring, all here: the middleware, the exception
handlers wrapped with ``reporting_handler`` (in ``_errors``), and
``ServerStarted`` in the lifespan. Plus the start banner.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

from fastapi import FastAPI

import pigeon
from pigeon.demo._errors import describe_api_error, register_error_handlers
from pigeon.demo._routes import router
from pigeon.demo._settings import DemoSettings
from pigeon.demo._store import DemoStore
from pigeon.demo._telemetry import build_client, telemetry_banner
from pigeon.integrations.asgi import TelemetryMiddleware

__all__ = ["create_app"]

_SHUTDOWN_FLUSH_SECONDS = 3.0


def create_app(
    client: pigeon.Client | None = None,
    *,
    settings: DemoSettings | None = None,
    instrument: bool = True,
    banner: TextIO | None = None,
) -> FastAPI:
    """Build the reference labelling server.

    Args:
        client: the telemetry client; by default one is built from the environment
            (``ARGILLA_ENABLE_TELEMETRY``, ``ARGILLA_TELEMETRY_*``, ``DO_NOT_TRACK``...).
        settings: the server's settings (default: read from the environment).
        instrument: ``False`` leaves the telemetry middleware out (benchmark baseline).
        banner: where the start banner is printed (default: stderr).

    Returns:
        The FastAPI app; its lifespan prints the banner and tracks ``ServerStarted``.
    """
    settings = settings or DemoSettings.from_env()
    telemetry = client if client is not None else build_client(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stream = banner or sys.stderr
        stream.write(telemetry_banner(telemetry, settings) + "\n")
        stream.flush()
        telemetry.track("ServerStarted", None)
        yield
        # Deliver what this run queued before the process goes (bounded).
        await asyncio.to_thread(telemetry.flush, _SHUTDOWN_FLUSH_SECONDS)

    app = FastAPI(
        title="Reference labelling server (pigeon demo)",
        version=settings.version,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = DemoStore(settings.api_key, settings.max_records_per_dataset)
    app.state.telemetry = telemetry
    register_error_handlers(app)
    app.include_router(router)
    if instrument:
        app.add_middleware(TelemetryMiddleware, client=telemetry, describe_error=describe_api_error)
    return app
