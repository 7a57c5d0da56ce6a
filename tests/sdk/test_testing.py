"""``pigeon.testing``: what host apps use to assert exactly what they send."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import pigeon
from pigeon.testing import CapturedEvents, MemoryTransport, capture_events


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def client(tmp_path: Path, transport: MemoryTransport) -> Iterator[pigeon.Client]:
    client = pigeon.Client("argilla", "1.0", transport=transport, home=tmp_path)
    yield client
    client.shutdown()


def test_captures_existing_clients_synchronously(
    client: pigeon.Client, transport: MemoryTransport
) -> None:
    with capture_events() as events:
        client.track("LogRecordsRequested", {"task": "Text2Text", "records": 2, "extra": 1})
        # Synchronous: visible at once, no flush needed.
        assert events.properties("LogRecordsRequested") == [{"task": "Text2Text", "records": 2}]
    assert isinstance(events, CapturedEvents)
    assert client.flush(timeout=5)
    assert transport.messages == []  # captured instead of queued


def test_captures_clients_created_inside_the_block(tmp_path: Path) -> None:
    transport = MemoryTransport()
    with capture_events() as events:
        late = pigeon.Client("argilla", "1.0", transport=transport, home=tmp_path)
        late.track("ServerStarted")
    late.shutdown()
    assert [m["event"] for m in events] == ["ServerStarted"]
    assert events[0]["anonymousId"] == late.anonymous_id


def test_captured_messages_are_the_wire_messages(client: pigeon.Client) -> None:
    with capture_events() as events:
        client.track("TrainerUsage", {"framework": "peft", "task": "DPO"})
    [message] = events
    assert set(message) == {
        "type",
        "event",
        "properties",
        "anonymousId",
        "messageId",
        "timestamp",
        "context",
    }
    assert message["type"] == "track"
    assert message["context"]["app"] == {"name": "argilla", "version": "1.0"}
    json.dumps(message)  # plain JSON data


def test_tracking_resumes_normally_after_the_block(
    client: pigeon.Client, transport: MemoryTransport
) -> None:
    with capture_events():
        client.track("ServerStarted")
    client.track("LogRecordsRequested", {"task": "Text2Text", "records": 1})
    assert client.flush(timeout=10)
    assert [m["event"] for m in transport.messages] == ["LogRecordsRequested"]


def test_clients_created_after_the_block_are_not_captured(tmp_path: Path) -> None:
    with capture_events() as events:
        pass
    transport = MemoryTransport()
    client = pigeon.Client("argilla", "1.0", transport=transport, home=tmp_path)
    client.track("ServerStarted")
    assert client.flush(timeout=10)
    client.shutdown()
    assert events == []
    assert len(transport.messages) == 1


def test_refused_events_are_not_captured(client: pigeon.Client) -> None:
    with capture_events() as events:
        client.track("NoSuchEvent")
        client.track("LogRecordsRequested", {"records": "many"})
        client.track("ServerStarted")
    assert [m["event"] for m in events] == ["ServerStarted"]


def test_disabled_clients_capture_nothing() -> None:
    with capture_events() as events:
        client = pigeon.Client("argilla", "1.0", enabled=False)
        client.track("ServerStarted")
    assert events == []


def test_nested_blocks_both_capture(client: pigeon.Client, transport: MemoryTransport) -> None:
    with capture_events() as outer:
        client.track("ServerStarted")
        with capture_events() as inner:
            client.track("TrainerUsage", {"framework": "trl"})
        client.track("LogRecordsRequested", {"task": "Text2Text", "records": 0})
    assert [m["event"] for m in outer] == ["ServerStarted", "TrainerUsage", "LogRecordsRequested"]
    assert [m["event"] for m in inner] == ["TrainerUsage"]
    client.track("ServerStarted")
    assert client.flush(timeout=10)
    assert len(transport.messages) == 1


def test_named_and_properties_helpers(client: pigeon.Client) -> None:
    with capture_events() as events:
        client.track("TrainerUsage", {"framework": "trl", "task": "PPO"})
        client.track("ServerStarted")
        client.track("TrainerUsage", {"framework": "spacy"})
    assert len(events.named("TrainerUsage")) == 2
    assert events.named("Nothing") == []
    assert events.properties("TrainerUsage") == [
        {"framework": "trl", "task": "PPO"},
        {"framework": "spacy"},
    ]


def test_a_client_shut_down_inside_the_block_stays_silent(
    tmp_path: Path, transport: MemoryTransport
) -> None:
    client = pigeon.Client("argilla", "1.0", transport=transport, home=tmp_path)
    with capture_events() as events:
        client.shutdown()
        client.track("ServerStarted")
    client.track("ServerStarted")
    assert events == []
    assert transport.messages == []


def test_memory_transport_records_batches(
    client: pigeon.Client, transport: MemoryTransport
) -> None:
    for _ in range(3):
        client.track("ServerStarted")
    assert client.flush(timeout=10)
    assert sum(len(b) for b in transport.batches) == 3
    assert all(isinstance(m, str) for b in transport.batches for m in b)
    assert [m["event"] for m in transport.messages] == ["ServerStarted"] * 3
