"""The ASGI type aliases, so that this package never imports Starlette."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]

Scope = MutableMapping[str, Any]
"""The connection scope of one request (``type``, ``method``, ``path``, ``headers``...)."""

Message = MutableMapping[str, Any]
"""One ASGI event (``http.request``, ``http.response.start``...)."""

Receive = Callable[[], Awaitable[Message]]
"""The awaitable that yields the next incoming message."""

Send = Callable[[Message], Awaitable[None]]
"""The awaitable that sends one outgoing message."""

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
"""An ASGI application (or middleware)."""
