"""Real processes for the end-to-end tests: a collector, reference servers, the store."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pigeon.collector.storage import RollupRow, day_of, open_store
from pigeon.demo._processes import ChildProcess, free_port
from tests.conftest import clean_subprocess_env

WRITE_KEY = "argilla-demo"
READY_SECONDS = 60.0


@dataclass
class Collector:
    """A running ``pigeon serve`` on SQLite."""

    port: int
    db: Path
    process: ChildProcess

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def running_collector(data_dir: Path, token: str = "test-admin-token") -> Iterator[Collector]:
    """``python -m pigeon serve`` on 127.0.0.1, stopped at the end of the block."""
    port = free_port()
    db = data_dir / "pigeon.db"
    argv = [
        sys.executable, "-m", "pigeon", "serve",
        "--host", "127.0.0.1", "--port", str(port),
        "--store", f"sqlite:///{db}",
        "--write-key", WRITE_KEY,
        "--admin-token", token,
    ]  # fmt: skip
    process = ChildProcess("collector", argv, clean_subprocess_env(), data_dir / "collector.log")
    process.start()
    try:
        process.wait_ready(f"http://127.0.0.1:{port}", "/healthz", READY_SECONDS)
        yield Collector(port, db, process)
    finally:
        process.stop()


@contextmanager
def running_server(env: dict[str, str], log: Path) -> Iterator[tuple[ChildProcess, str]]:
    """``uvicorn pigeon.demo.server:app`` on 127.0.0.1 with ``env``; yields it and its URL."""
    port = free_port()
    argv = [
        sys.executable, "-m", "uvicorn", "pigeon.demo.server:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    process = ChildProcess("reference server", argv, env, log)
    process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_ready(url, "/api/_info", READY_SECONDS)
        yield process, url
    finally:
        process.stop()


def totals(db: Path, dimension: str) -> dict[str, RollupRow]:
    """The store's rollup of one dimension over yesterday..tomorrow, by value."""

    async def read() -> list[RollupRow]:
        store = open_store(f"sqlite:///{db}")
        try:
            today = day_of(int(time.time() * 1000))
            return await store.totals("argilla", dimension, today - 1, today + 1)
        finally:
            await store.close()

    return {row.value: row for row in asyncio.run(read())}


def every_stored_value(db: Path) -> list[bytes]:
    """Every value of every row of every table of a SQLite file, as bytes."""
    values: list[bytes] = []
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # names from the schema
                for value in row:
                    if isinstance(value, bytes):
                        values.append(value)
                    elif value is not None:
                        values.append(str(value).encode("utf-8"))
    conn.close()
    return values


def wait_for(condition: object, timeout: float, what: str) -> None:
    """Poll ``condition()`` until true, failing with ``what`` after ``timeout`` seconds."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
