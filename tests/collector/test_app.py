"""The app in process: JSON for every failure, 503 when overloaded, the store's lifecycle.

The app runs over ASGI with its lifespan (Starlette's TestClient warns about its
httpx backend, and the suite turns warnings into errors).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import httpx
from fastapi import FastAPI

from pigeon._wire import uuid7
from pigeon.catalog import Catalog
from pigeon.collector import CollectorConfig, create_app
from pigeon.collector.storage import StoredEvent, WriteResult, open_store
from tests.collector._running import basic


def batch() -> bytes:
    return json.dumps(
        {"batch": [{"event": "ServerStarted", "anonymousId": "i", "messageId": uuid7()}]}
    ).encode()


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://collector.test")


class SlowStore:
    """A real SQLite store whose writes wait until the test lets them through."""

    def __init__(self, url: str) -> None:
        self.inner = open_store(url)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def write(self, events: Sequence[StoredEvent]) -> WriteResult:
        self.entered.set()
        await self.release.wait()
        return await self.inner.write(events)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_overload_is_answered_503_with_retry_after(tmp_path: Path) -> None:
    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        store = SlowStore(f"sqlite:///{tmp_path / 'p.db'}")
        config = CollectorConfig(
            write_keys={"k": Catalog.load("argilla")}, rate_limit=0, max_concurrent_requests=1
        )
        app = create_app(config, store=store)  # type: ignore[arg-type]  # a Store by duck typing
        async with app.router.lifespan_context(app), client(app) as http:
            first = asyncio.create_task(http.post("/v1/batch", content=batch(), headers=basic("k")))
            await asyncio.wait_for(store.entered.wait(), 30)  # the first request is in the store
            busy = await http.post("/v1/batch", content=batch(), headers=basic("k"))
            store.release.set()
            return await first, busy

    first, busy = asyncio.run(scenario())
    assert first.status_code == 200
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["code"] == "busy"


def test_unexpected_errors_and_bad_parameters_are_json(tmp_path: Path) -> None:
    config = CollectorConfig(
        store_url=f"sqlite:///{tmp_path / 'p.db'}", write_keys={"k": Catalog.load("argilla")}
    )
    app: FastAPI = create_app(config)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("internal detail that must not leak")

    @app.get("/number")
    async def number(n: int) -> dict[str, int]:
        return {"n": n}

    async def scenario() -> None:
        async with app.router.lifespan_context(app), client(app) as http:
            crashed = await http.get("/boom")
            assert crashed.status_code == 500
            assert crashed.json() == {
                "code": "internal_error",
                "message": "internal error",
                "details": [],
            }
            bad = await http.get("/number", params={"n": "seven"})
            assert bad.status_code == 400
            assert bad.json()["code"] == "invalid_request"
            assert bad.json()["details"][0]["path"] == "query.n"
            accepted = await http.post("/v1/batch", content=batch(), headers=basic("k"))
            assert accepted.json()["accepted"] == 1
            assert app.state.store is not None

    asyncio.run(scenario())
    reopened = open_store(config.store_url)
    try:
        assert asyncio.run(reopened.count_events()) == 1  # committed, and closed at shutdown
    finally:
        asyncio.run(reopened.close())
