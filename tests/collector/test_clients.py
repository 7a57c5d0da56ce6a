"""Real clients into a real collector: pigeon's SDK, Segment's and PostHog's Python clients.

Each client is pointed at the collector with its own host setting; what it
sends must be stored and counted in the rollups.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pigeon
from pigeon.collector.storage import day_of
from tests.collector._running import WRITE_KEY, RunningCollector
from tests.collector.conftest import SyncStore


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCollector]:
    workdir = tmp_path_factory.mktemp("clients")
    running = RunningCollector.with_store(
        workdir, f"sqlite:///{workdir / 'data' / 'pigeon.db'}", "--rate-limit", "0"
    )
    yield running
    running.stop()


@pytest.fixture
def store(collector: RunningCollector) -> Iterator[SyncStore]:
    """The collector's store, opened beside it to read what was committed."""
    opened = SyncStore(f"sqlite:///{collector.workdir / 'data' / 'pigeon.db'}")
    yield opened
    opened.close()


def today() -> int:
    return day_of(int(time.time() * 1000))


def totals(store: SyncStore, dimension: str) -> dict[str, tuple[int, int, int]]:
    """value -> (events, amount, installs) over yesterday..tomorrow (the test may span midnight)."""
    rows = store.totals("argilla", dimension, today() - 1, today() + 1)
    return {r.value: (r.events, r.amount, r.installs) for r in rows}


def test_the_pigeon_sdk_delivers_end_to_end(
    collector: RunningCollector, store: SyncStore, tmp_path: Path
) -> None:
    client = pigeon.Client(
        app="argilla", version="7.7.7-sdk", catalog="argilla", endpoint=collector.url,
        write_key=WRITE_KEY, home=tmp_path / "home",
    )  # fmt: skip
    assert client.enabled, client.disabled_reason
    client.track("ServerStarted")
    for records in (10, 20, 30):
        client.track(
            "LogRecordsRequested", {"task": "Text2Text", "records": records, "dataset": "secret"}
        )
    client.track(
        "ServerErrorFound", {"code": "argilla.api.errors::EntityNotFoundError", "type": "Dataset"}
    )
    client.track("NotInTheCatalog", {"x": 1})  # refused by the SDK itself
    assert client.flush(timeout=20)
    client.shutdown()
    assert client.anonymous_id is not None
    assert totals(store, "version")["7.7.7-sdk"] == (5, 0, 1)  # the refused one never left
    assert totals(store, "bulk_task")["Text2Text"] == (3, 60, 1)
    errors = totals(store, "error")
    assert errors["argilla.api.errors::EntityNotFoundError\tDataset"] == (1, 0, 1)
    assert platform.python_version() in totals(store, "python")
    assert platform.machine() in totals(store, "machine")
    assert "pigeon/" + pigeon.__version__ in totals(store, "library")


def test_segment_python_client_delivers(collector: RunningCollector, store: SyncStore) -> None:
    from segment.analytics import Client

    failures: list[Any] = []
    client = Client(
        write_key=WRITE_KEY, host=collector.url, gzip=True, max_retries=0,
        on_error=lambda error, batch: failures.append(error),
    )  # fmt: skip
    # What the reference server's historical telemetry sent: the server id as user id,
    # the runtime flat in the context.
    context = {"version": "1.20.0", "python_version": "3.8.10", "system": "Linux",
               "machine": "x86_64", "platform": "Linux-5.4", "sys_version": "#1"}  # fmt: skip
    for n in range(12):
        client.track(
            user_id="segment-server-id",
            event="LogRecordsRequested",
            properties={"task": "TokenClassification", "records": n},
            context=dict(context),
        )
    client.track(user_id="segment-server-id", event="UserInfoRequested",
                 properties={"user-agent": "Mozilla/5.0 Firefox/120.0", "accept-language": None},
                 context=dict(context))  # fmt: skip
    client.flush()
    client.join()
    assert failures == []
    bulk = totals(store, "bulk_task")
    assert bulk["TokenClassification"] == (12, sum(range(12)), 1)
    assert totals(store, "version")["1.20.0"][0] == 13
    assert totals(store, "client")["Firefox"][0] == 1
    assert any(value.startswith("analytics-python/") for value in totals(store, "library"))


def test_posthog_python_client_delivers(collector: RunningCollector, store: SyncStore) -> None:
    from posthog import Posthog

    logging.getLogger("posthog").setLevel(logging.CRITICAL)
    failures: list[Any] = []
    client = Posthog(
        WRITE_KEY, host=collector.url, gzip=True, max_retries=0,
        on_error=lambda error, batch: failures.append(error),
    )  # fmt: skip
    for framework in ("setfit", "trl", "some-new-framework"):
        client.capture(
            "TrainerUsage",
            distinct_id="posthog-install",
            properties={"framework": framework, "task": "DPO"},
        )
    client.flush()
    client.shutdown()
    assert failures == []
    trainer = totals(store, "trainer")
    assert trainer["setfit\tDPO"][0] == 1
    assert trainer["trl\tDPO"][0] == 1
    assert trainer["other\tDPO"][0] == 1  # unknown frameworks fall back to "other"
    assert any(value.startswith("posthog-python/") for value in totals(store, "library"))
    assert platform.python_version() in totals(store, "python")
