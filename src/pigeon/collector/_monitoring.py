"""``GET /metrics``: the Prometheus scrape, behind the admin token on the main port.

On the separate listener of ``--metrics-address`` the same response needs no
token, and that listener serves nothing else (see ``CollectorApp``): it is
meant for an address only the monitoring system reaches.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBearer
from starlette.responses import Response

from pigeon.collector._errors import ApiError
from pigeon.collector._metrics import Metrics
from pigeon.collector.dashboard._auth import same_token

__all__ = ["METRICS_PATH", "metrics_response", "metrics_router", "not_served"]

METRICS_PATH = "/metrics"
"""Where the metrics are served, on either listener."""

# Documented in the OpenAPI schema; checked below (never auto-refused by FastAPI).
_bearer = HTTPBearer(auto_error=False, description="the collector's admin token")

_UNAUTHORIZED = ApiError(
    401,
    "unauthorized",
    "send the admin token as 'Authorization: Bearer <token>'",
    [("headers.authorization", "missing or wrong admin token")],
    headers={"WWW-Authenticate": 'Bearer realm="pigeon"'},
)


def metrics_response(metrics: Metrics) -> Response:
    """The current metrics in Prometheus's text format."""
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


def not_served(method: str, path: str) -> ApiError:
    """The refusal of a request to the metrics listener for anything but ``GET /metrics``."""
    if path == METRICS_PATH:
        return ApiError(
            405, "method_not_allowed", f"use GET {METRICS_PATH}", headers={"Allow": "GET"}
        )
    return ApiError(404, "not_found", f"this listener serves GET {METRICS_PATH} only")


def _bearer_token(request: Request) -> str:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def metrics_router(metrics: Metrics, admin_token: str) -> APIRouter:
    """The ``GET /metrics`` route of the main listener (Bearer admin token)."""
    router = APIRouter()

    @router.get(
        METRICS_PATH,
        tags=["monitoring"],
        summary="Prometheus metrics",
        dependencies=[Depends(_bearer)],
        response_class=Response,
        responses={
            200: {"description": "Prometheus text format.", "content": {"text/plain": {}}},
            401: {"description": "No admin token (Bearer), or a wrong one."},
        },
    )
    async def scrape(request: Request) -> Response:
        """Every ``pigeon_`` metric, summed over the worker processes."""
        if not same_token(_bearer_token(request), admin_token):
            return _UNAUTHORIZED.response()
        return metrics_response(metrics)

    return router
