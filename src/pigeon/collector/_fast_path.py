"""The collector's app: FastAPI, with a direct path for the ingestion ``POST``s.

An ingestion request is the same small piece of work thousands of times a
second, and FastAPI's layers around it (middleware stack, routing, endpoint
dispatch) cost about a quarter of it. :class:`CollectorApp` hands a ``POST``
to an exact ingestion path straight to its handler, the one FastAPI also
routes to (``ingest_handlers``), so both paths run the same code and answer
the same JSON errors. Everything else (forget, health, the reading side, the
OpenAPI document, and any other method or path) goes through FastAPI.

Every answered request is counted by route template and status just before
its response starts (a client holding its answer finds it counted). A
connection that arrived on the metrics listener (``metrics_port``) may only
``GET /metrics``, without a token.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from pigeon.collector._errors import ApiError
from pigeon.collector._metrics import UNMATCHED_ROUTE, Metrics
from pigeon.collector._monitoring import METRICS_PATH, metrics_response, not_served
from pigeon.collector._routes import Handler

__all__ = ["CollectorApp"]

logger = logging.getLogger("pigeon.collector")


class CollectorApp(FastAPI):
    """FastAPI, except that ingestion ``POST``s skip straight to their handler."""

    fast_routes: Mapping[str, Handler] = {}
    """``POST`` path -> handler (set by ``create_app``)."""
    metrics_port: int | None = None
    """The local port of the token-free metrics listener, if any (set by ``serve``)."""

    def __init__(self, metrics: Metrics, **options: Any) -> None:
        """FastAPI with ``options``, counting every answer in ``metrics``."""
        super().__init__(**options)
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if self.metrics_port is not None and _local_port(scope) == self.metrics_port:
            await self._metrics_listener(scope, receive, send)
            return
        if scope["method"] == "POST" and not scope.get("root_path"):
            handler = self.fast_routes.get(scope["path"])
            if handler is not None:
                response = await _ingest(handler, scope, receive)
                self.metrics.count_response(scope["path"], response.status_code)
                await response(scope, receive, send)
                return
        count = self.metrics.count_response

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The router has matched by now: the scope names the route.
                count(_route_of(scope), message["status"])
            await send(message)

        await super().__call__(scope, receive, counting_send)

    async def _metrics_listener(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == METRICS_PATH and scope["method"] == "GET":
            response = metrics_response(self.metrics)
        else:
            response = not_served(scope["method"], scope["path"]).response()
        route = METRICS_PATH if scope["path"] == METRICS_PATH else UNMATCHED_ROUTE
        self.metrics.count_response(route, response.status_code)
        await response(scope, receive, send)


def _local_port(scope: Scope) -> int | None:
    server = scope.get("server")
    return server[1] if server else None


def _route_of(scope: Scope) -> str:
    """The template of the route that matched (bounded: never the raw path of a parameter)."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    # A plain Starlette route (/openapi.json) without parameters: its path is its template.
    if "endpoint" in scope and not scope.get("path_params"):
        return str(scope["path"])
    return UNMATCHED_ROUTE


async def _ingest(handler: Handler, scope: Scope, receive: Receive) -> Response:
    try:
        return await handler(Request(scope, receive))
    except ApiError as exc:
        return exc.response()
    except Exception:
        # The traceback, never the request: no address, no body.
        logger.exception("an ingestion request failed")
        return ApiError(500, "internal_error", "internal error").response()
