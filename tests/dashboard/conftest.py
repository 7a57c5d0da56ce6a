"""Fixtures of the read side: a real SQLite store of known events (see ``_data``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pigeon.collector.storage import open_store
from pigeon.collector.storage._base import Store
from tests.dashboard._client import ReadClient, read_app
from tests.dashboard._data import demo_app_events, fill, known_events


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """The URL of a fresh SQLite store in the test's directory."""
    return f"sqlite:///{tmp_path / 'data' / 'pigeon.db'}"


@pytest.fixture
def known_store(store_url: str) -> Iterator[Store]:
    """A real SQLite store holding :func:`known_events` and :func:`demo_app_events`."""
    store = open_store(store_url)
    fill(store, known_events() + demo_app_events())
    yield store
    asyncio.run(store.close())


@pytest.fixture
def make_client() -> Iterator[Any]:
    """A factory of read clients (``store, min_installs=3, base_url=...``), closed after."""
    clients: list[ReadClient] = []

    def make(
        store: Store, min_installs: int = 3, base_url: str = "http://testserver"
    ) -> ReadClient:
        made = ReadClient(read_app(store, min_installs), base_url)
        clients.append(made)
        return made

    yield make
    for made in clients:
        made.close()


@pytest.fixture
def client(known_store: Store, make_client: Any) -> ReadClient:
    """The read API over the known store, k = 3."""
    made: ReadClient = make_client(known_store)
    return made
