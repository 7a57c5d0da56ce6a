"""The collector's app: FastAPI, with a direct path for the ingestion ``POST``s.

An ingestion request is the same small piece of work thousands of times a
second, and FastAPI's layers around it (middleware stack, routing, endpoint
dispatch) cost about a quarter of it. :class:`CollectorApp` hands a ``POST``
to an exact ingestion path straight to its handler, the one FastAPI also
routes to (``ingest_handlers``), so both paths run the same code and answer
the same JSON errors. Everything else (forget, health, the reading side, the
OpenAPI document, and any other method or path) goes through FastAPI.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from pigeon.collector._errors import ApiError
from pigeon.collector._routes import Handler

__all__ = ["CollectorApp"]

logger = logging.getLogger("pigeon.collector")


class CollectorApp(FastAPI):
    """FastAPI, except that ingestion ``POST``s skip straight to their handler."""

    fast_routes: Mapping[str, Handler] = {}
    """``POST`` path -> handler (set by ``create_app``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            handler = self.fast_routes.get(scope["path"])
            if handler is not None:
                await _ingest(handler, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def _ingest(handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
    try:
        response = await handler(Request(scope, receive))
    except ApiError as exc:
        response = exc.response()
    except Exception:
        # The traceback, never the request: no address, no body.
        logger.exception("an ingestion request failed")
        response = ApiError(500, "internal_error", "internal error").response()
    await response(scope, receive, send)
