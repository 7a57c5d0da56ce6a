"""Call an ASGI app in-process, synchronously, through httpx (with its lifespan if asked).

Starlette's ``TestClient`` warns that plain ``httpx`` is deprecated for it, and
the suite turns warnings into errors; ``httpx.ASGITransport`` driven from an
anyio blocking portal does the same job without the warning.
"""

from __future__ import annotations

import contextlib
import functools
from types import TracebackType
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from pigeon.integrations.asgi._types import ASGIApp


class AppClient:
    """A synchronous HTTP client for one ASGI app.

    Args:
        app: the ASGI app.
        lifespan: run the app's lifespan (Starlette/FastAPI apps) around the requests.
        raise_app_exceptions: re-raise exceptions that escape the app (else a 500).
    """

    def __init__(
        self, app: ASGIApp, *, lifespan: bool = False, raise_app_exceptions: bool = False
    ) -> None:
        self.app = app
        self._lifespan = lifespan
        self._raise = raise_app_exceptions
        self._stack = contextlib.ExitStack()
        self._portal: BlockingPortal | None = None
        self._client: httpx.AsyncClient | None = None

    def __enter__(self) -> AppClient:
        portal = self._stack.enter_context(start_blocking_portal())
        self._portal = portal
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=self._raise)
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self._client = client
        self._stack.callback(lambda: portal.call(client.aclose))
        if self._lifespan:
            lifespan = self.app.router.lifespan_context(self.app)  # type: ignore[attr-defined]
            self._stack.enter_context(portal.wrap_async_context_manager(lifespan))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and return the whole response."""
        assert self._portal is not None, "use `with AppClient(...)`"
        assert self._client is not None
        call = functools.partial(self._client.request, method, url, **kwargs)
        return self._portal.call(call)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """``GET url``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """``POST url``."""
        return self.request("POST", url, **kwargs)
