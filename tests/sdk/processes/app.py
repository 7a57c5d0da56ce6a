"""A module-level client, as host apps have one: WSGI and ASGI apps and pool tasks.

Importing it builds the client and tracks ``Started``; ``GET /work?n=N``
tracks ``Work`` number N and answers the process id.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from pigeon.integrations.asgi import TelemetryMiddleware
from tests.sdk.processes.probe import make_client, track

client = make_client()
track(client, "Started")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


def work(n: int) -> int:
    """A pool task: track ``Work`` number ``n``; return the process id."""
    track(client, "Work", n)
    return os.getpid()


def _number(query: str) -> int:
    return int(dict(p.split("=", 1) for p in query.split("&") if "=" in p)["n"])


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., object]) -> Iterable[bytes]:
    """WSGI: ``GET /work?n=N``."""
    body = str(work(_number(environ.get("QUERY_STRING", "")))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


async def _asgi_app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """ASGI: ``GET /work?n=N`` (and the lifespan protocol)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = str(work(_number(scope["query_string"].decode()))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


asgi_app = TelemetryMiddleware(_asgi_app, client)
"""The ASGI app as a host app serves it: with the middleware, which settles at shutdown."""
