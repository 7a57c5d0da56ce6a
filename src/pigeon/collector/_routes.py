"""The ingestion, forget and health routes, documented for ``/openapi.json``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from starlette.responses import Response

from pigeon._version import __version__
from pigeon.collector._errors import json_response
from pigeon.collector._ingest import Ingestor
from pigeon.collector._openapi import ERROR_RESPONSES, INGEST_RESPONSES, request_body

__all__ = ["Handler", "ingest_handlers", "ingest_router"]

_POSTHOG_PATHS = ("/batch/", "/capture/", "/e/", "/i/v0/e/")


async def healthz() -> Response:
    """Liveness: 200 as soon as the collector accepts requests."""
    return json_response({"status": "ok", "version": __version__})


def _json_object(description: str, **types: str) -> dict[str, object]:
    """An OpenAPI response: a JSON object with these property types."""
    properties = {name: {"type": kind} for name, kind in types.items()}
    schema = {"type": "object", "properties": properties}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_INGEST_DOCS: dict[str, tuple[str, str, str]] = {
    "/v1/batch": (
        "Segment batch",
        "Segment HTTP Tracking API batch (what pigeon's SDK sends). Write key as HTTP Basic "
        "user name or `writeKey` in the body. Answered after the commit.",
        "segment_batch",
    ),
    "/v1/track": (
        "Segment track",
        "One Segment track message. Write key as HTTP Basic user name or `writeKey` in the body.",
        "segment_track",
    ),
}
"""Path -> (summary, description, request body schema) of the OpenAPI document."""
_POSTHOG_DOC = (
    "PostHog capture",
    "PostHog capture API: a batch, one event or an array of events; `api_key` in the body. "
    "gzip as Content-Encoding or `?compression=gzip-js`.",
    "posthog",
)

Handler = Callable[[Request], Awaitable[Response]]
"""An ingestion endpoint: the request in, the response out (errors raised as ApiError)."""


def ingest_handlers(ingestor: Ingestor) -> dict[str, Handler]:
    """``POST`` path -> handler of every ingestion route (also served by ``CollectorApp``)."""
    handlers: dict[str, Handler] = {
        "/v1/batch": ingestor.segment_batch,
        "/v1/track": ingestor.segment_track,
    }
    handlers.update(dict.fromkeys(_POSTHOG_PATHS, ingestor.posthog_capture))
    return handlers


def ingest_router(ingestor: Ingestor) -> APIRouter:
    """The routes through which events come in (and installs are forgotten)."""
    router = APIRouter()

    # Declares the path parameter for the OpenAPI document; the ingestor reads the request.
    async def forget_install(request: Request, anonymous_id: str) -> Response:
        return await ingestor.forget(request)

    for path, handler in ingest_handlers(ingestor).items():
        summary, description, body = _INGEST_DOCS.get(path, _POSTHOG_DOC)
        posthog = path in _POSTHOG_PATHS
        router.add_api_route(
            path,
            handler,
            methods=["POST"],
            tags=["ingest"],
            summary=f"{summary} ({path})" if posthog else summary,
            description=description,
            openapi_extra=request_body(body),
            responses=INGEST_RESPONSES,
            operation_id=f"posthog_capture_{path.strip('/').replace('/', '_')}"
            if posthog
            else None,
        )
    router.add_api_route(
        "/v1/installs/{anonymous_id}",
        forget_install,
        methods=["DELETE"],
        tags=["ingest"],
        summary="Forget an install",
        description="Delete one install's raw events and its distinct-install rows (the "
        "anonymous aggregate counts stay). Write key as HTTP Basic user name.",
        responses={
            200: _json_object("Deleted.", success="boolean", deleted="integer"),
            **ERROR_RESPONSES,
        },
    )
    router.add_api_route(
        "/healthz",
        healthz,
        methods=["GET"],
        tags=["health"],
        summary="Health",
        responses={200: _json_object("The collector is up.", status="string", version="string")},
    )
    return router
