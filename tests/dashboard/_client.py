"""A synchronous client of the read side, over ASGI, for the API tests."""

from __future__ import annotations

import functools
import re
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from pigeon.collector._read_api import read_router
from pigeon.collector.storage._base import Store
from tests.dashboard._data import ADMIN_TOKEN, TODAY


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token of the form on a dashboard page."""
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


class ReadClient:
    """A synchronous HTTP client of an ASGI app, on one event loop in a portal thread.

    (Starlette's own ``TestClient`` warns about its httpx backend, and the suite
    turns warnings into errors.)
    """

    def __init__(self, app: FastAPI, base_url: str) -> None:
        self._portal_cm = start_blocking_portal()
        self._portal: BlockingPortal = self._portal_cm.__enter__()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base_url, follow_redirects=False
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        call = functools.partial(self.http.request, method, url, **kwargs)
        return self._portal.call(call)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self._portal.call(self.http.aclose)
        self._portal_cm.__exit__(None, None, None)


def read_app(store: Store, min_installs: int = 3) -> FastAPI:
    """An app serving only the read side over ``store``, with today pinned to ``TODAY``."""
    app = FastAPI()
    app.include_router(read_router(lambda: store, ADMIN_TOKEN, min_installs, today=lambda: TODAY))
    return app
