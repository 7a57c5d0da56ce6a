"""Two real collector processes on one ClickHouse server, fed the same duplicated events.

Each batch is posted to both ClickHouse collectors at the same moment (a client
retrying on another collector behind a load balancer), later once more to each,
and once to a third collector on SQLite. The two collectors share one server, or
talk to different nodes of a cluster of two shards. Every stats view and the export must
come out identical from all three: duplicates counted once, no ``if clickhouse``
anywhere above the store.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import random
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from pigeon.collector.stats._views import VIEWS
from pigeon.collector.storage.clickhouse import ClickHouseStore
from pigeon.demo._processes import ChildProcess, free_port
from tests.conftest import clean_subprocess_env

WRITE_KEY = "argilla-key"
TOKEN = "clickhouse-test-admin-token"
READY_SECONDS = 60.0
AUTH = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.slow


@contextmanager
def collector(store_url: str, directory: Path) -> Iterator[str]:
    """``python -m pigeon serve --store URL`` on 127.0.0.1; yields its base URL."""
    port = free_port()
    argv = [
        sys.executable, "-m", "pigeon", "serve",
        "--host", "127.0.0.1", "--port", str(port),
        "--store", store_url,
        "--write-key", WRITE_KEY,
        "--admin-token", TOKEN,
        "--rate-limit", "0",
        "--retention-days", "0",
    ]  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    process = ChildProcess("collector", argv, clean_subprocess_env(), directory / "collector.log")
    process.start()
    base = f"http://127.0.0.1:{port}"
    try:
        process.wait_ready(base, "/healthz", READY_SECONDS)
        yield base
    finally:
        process.stop()


def _message(rng: random.Random, today: datetime.date) -> dict[str, Any]:
    name, properties = rng.choice(
        [
            ("ServerStarted", {}),
            ("ServerErrorFound", {"code": rng.choice(["E::NotFound", "E::Forbidden"]),
                                  "type": rng.choice(["Dataset", "User"])}),
            ("LogRecordsRequested", {"task": rng.choice(["TextClassification", "Text2Text"]),
                                     "records": rng.randrange(1, 500)}),
            ("TrainerUsage", {"framework": rng.choice(["setfit", "transformers", "peft"]),
                              "task": "TextClassification"}),
            ("UserInfoRequested", {"user-agent": rng.choice(["Firefox/126.0", "python-httpx/0.27"]),
                                   "accept-language": rng.choice(["de-DE", "en-US,en;q=0.9"])}),
        ]
    )  # fmt: skip
    day = today - datetime.timedelta(days=rng.randrange(20))
    moment = datetime.datetime.combine(day, datetime.time(12), datetime.UTC)
    moment += datetime.timedelta(seconds=rng.randrange(3600))
    install = rng.randrange(24)
    return {
        "type": "track",
        "event": name,
        "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "anonymousId": f"00000000-0000-4000-8000-{install:012d}",
        "timestamp": moment.isoformat().replace("+00:00", "Z"),
        "properties": properties,
        "context": {
            "version": rng.choice(["1.28.0", "1.29.0"]),
            "python_version": rng.choice(["3.11.9", "3.12.3"]),
            "system": rng.choice(["Linux", "Darwin"]),
            "machine": "x86_64",
        },
    }


def _post(client: httpx.Client, base: str, batch: list[dict[str, Any]]) -> int:
    credentials = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    response = client.post(
        f"{base}/v1/batch",
        json={"batch": batch},
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert response.status_code == 200, response.text
    accepted: int = response.json()["accepted"]
    return accepted


@pytest.fixture(params=["one-server", "two-shards"])
def store_urls(request: pytest.FixtureRequest) -> list[str]:
    """The two collectors' store URLs: the same server, or each a node of a 2-shard cluster."""
    if request.param == "one-server":
        url: str = request.getfixturevalue("clickhouse_url")
        return [url, url]
    urls: list[str] = request.getfixturevalue("clickhouse_cluster_urls")
    return urls


def test_two_collectors_on_one_clickhouse_count_duplicates_once(
    store_urls: list[str], tmp_path: Path
) -> None:
    rng = random.Random(7)
    today = datetime.datetime.now(datetime.UTC).date()
    messages = [_message(rng, today) for _ in range(400)]
    batches = [messages[i : i + 50] for i in range(0, 400, 50)]
    batches = [batch + batch[:5] for batch in batches]  # a client resending inside a batch
    with ExitStack() as stack:
        first = stack.enter_context(collector(store_urls[0], tmp_path / "a"))
        second = stack.enter_context(collector(store_urls[1], tmp_path / "b"))
        reference = stack.enter_context(
            collector(f"sqlite:///{tmp_path / 'ref' / 'pigeon.db'}", tmp_path / "ref")
        )
        client = stack.enter_context(httpx.Client(timeout=30.0))
        pool = stack.enter_context(ThreadPoolExecutor(2))

        def views(base: str) -> dict[str, Any]:
            out = {
                name: client.get(f"{base}/api/v1/stats/{name}?days=30", headers=AUTH).json()
                for name in VIEWS
            }
            export = client.get(f"{base}/api/v1/export?days=30", headers=AUTH).json()
            export.pop("generated_at")  # the only field that is not data
            out["export"] = export
            return out

        for batch in batches:
            assert _post(client, reference, batch) == 55
            # The same batch reaches both collectors at once: both usually find none of
            # its ids stored yet and insert them all (the race the corrections resolve).
            at_once = list(pool.map(lambda base, b=batch: _post(client, base, b), (first, second)))
            assert at_once == [55, 55]
        expected = views(reference)
        assert expected["overview"]["events"] > 0
        assert views(first) == expected
        assert views(second) == expected

        for batch in batches:  # then clients retry on either collector: plain duplicates
            assert _post(client, second, batch) == 55
            assert _post(client, first, batch) == 55
        assert views(first) == expected
        assert views(second) == expected

    async def count() -> int:
        store = ClickHouseStore.from_url(store_urls[1])
        try:
            return await store.count_events()
        finally:
            await store.close()

    assert asyncio.run(count()) == 400
