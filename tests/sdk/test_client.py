"""``pigeon.Client``: the API a host app holds, end to end through an in-memory transport."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pigeon
from pigeon.catalog import Catalog
from pigeon.testing import MemoryTransport


@pytest.fixture
def transport() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def client(tmp_path: Path, transport: MemoryTransport) -> Iterator[pigeon.Client]:
    client = pigeon.Client("argilla", "1.29.0", transport=transport, home=tmp_path)
    yield client
    client.shutdown()


def test_enabled_client_attributes(client: pigeon.Client) -> None:
    assert client.enabled is True
    assert client.disabled_reason is None
    assert isinstance(client.anonymous_id, str)
    assert client.app == "argilla"
    assert client.version == "1.29.0"
    assert client.env_prefix == "ARGILLA"
    assert "enabled" in repr(client)


def test_disabled_client_attributes() -> None:
    client = pigeon.Client("argilla", "1.29.0", enabled=False)
    assert client.enabled is False
    assert client.disabled_reason == "enabled=False in code"
    assert client.anonymous_id is None
    assert client.flush() is True
    client.shutdown()
    assert "disabled: enabled=False in code" in repr(client)


def test_track_flush_delivers_exactly_the_validated_events(
    client: pigeon.Client, transport: MemoryTransport
) -> None:
    client.track("ServerStarted")
    client.track("LogRecordsRequested", {"task": "TextClassification", "records": 120})
    client.track("TrainerUsage", {"framework": "jax", "task": "SupervisedFineTuning"})
    client.track("UserInfoRequested", {"user-agent": "u" * 300, "is_default_user": True})
    assert client.flush(timeout=10)
    messages = transport.messages
    assert [m["event"] for m in messages] == [
        "ServerStarted",
        "LogRecordsRequested",
        "TrainerUsage",
        "UserInfoRequested",
    ]
    assert [m["properties"] for m in messages] == [
        {},
        {"task": "TextClassification", "records": 120},
        {"framework": "other", "task": "SupervisedFineTuning"},
        {"user-agent": "u" * 256, "is_default_user": True},
    ]
    assert {m["anonymousId"] for m in messages} == {client.anonymous_id}
    assert len({m["messageId"] for m in messages}) == 4
    assert all(m["type"] == "track" for m in messages)


def test_refused_events_are_counted_and_warned_about_once(
    tmp_path: Path, transport: MemoryTransport, caplog: pytest.LogCaptureFixture
) -> None:
    # Names never seen before: warnings are once per kind per process.
    event, unknown = f"Bulk{secrets.token_hex(4)}", f"NoSuchEvent{secrets.token_hex(4)}"
    catalog = Catalog.from_toml(
        f'[catalog]\nname = "c"\nversion = "1"\n[events.{event}]\npurpose = "Counts."\n'
        f'[events.{event}.properties.n]\ntype = "integer"\nmin = 0\npurpose = "A count."\n'
        '[events.Ok]\npurpose = "Liveness."\n'
    )
    client = pigeon.Client("c", "1", catalog=catalog, transport=transport, home=tmp_path)
    caplog.set_level(logging.WARNING, logger="pigeon")
    for _ in range(3):
        client.track(event, {"n": -5})
    client.track(unknown)
    client.track("Ok")
    assert client.flush(timeout=10)
    client.shutdown()
    assert [m["event"] for m in transport.messages] == ["Ok"]
    assert client.counters["refused"] == 4
    warnings = [r.getMessage() for r in caplog.records]
    assert sum(event in w for w in warnings) == 1
    assert sum(unknown in w for w in warnings) == 1
    assert not any("-5" in w for w in warnings if event in w)  # reasons never quote values


@pytest.mark.parametrize(
    ("event", "properties"),
    [
        (None, None),
        (42, {"a": 1}),
        ("LogRecordsRequested", "not a mapping"),
        ("LogRecordsRequested", {"records": object()}),
        ("LogRecordsRequested", {object(): 1}),
        ("UserInfoRequested", {"user-agent": "\ud800"}),
    ],
)
def test_track_never_raises(
    client: pigeon.Client, transport: MemoryTransport, event: Any, properties: Any
) -> None:
    client.track(event, properties)  # no exception is the assertion
    client.track("ServerStarted")
    assert client.flush(timeout=10)
    assert transport.messages[-1]["event"] == "ServerStarted"


def test_track_from_many_threads(client: pigeon.Client, transport: MemoryTransport) -> None:
    def work() -> None:
        for i in range(200):
            client.track("LogRecordsRequested", {"task": "Text2Text", "records": i})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert client.flush(timeout=30)
    records = sorted(m["properties"]["records"] for m in transport.messages)  # type: ignore[index]
    assert records == sorted(list(range(200)) * 4)


def test_events_after_shutdown_are_dropped(tmp_path: Path, transport: MemoryTransport) -> None:
    client = pigeon.Client("argilla", "1.0", transport=transport, home=tmp_path)
    client.track("ServerStarted")
    client.shutdown(timeout=10)
    client.track("ServerStarted")
    assert client.flush(timeout=1)
    assert len(transport.messages) == 1


def test_catalog_by_object_path_and_default(tmp_path: Path, transport: MemoryTransport) -> None:
    custom = Catalog.from_toml(
        '[catalog]\nname = "mini"\nversion = "7"\n'
        '[events.Ping]\npurpose = "Liveness."\n'
        '[events.Ping.properties.n]\ntype = "integer"\npurpose = "A count."\n'
    )
    path = tmp_path / "mini.toml"
    path.write_text(
        '[catalog]\nname = "mini-file"\nversion = "8"\n[events.Ping]\npurpose = "Liveness."\n'
    )
    by_object = pigeon.Client("mini", "1", catalog=custom, transport=transport, home=tmp_path)
    by_path = pigeon.Client("mini", "1", catalog=path, transport=transport, home=tmp_path)
    default = pigeon.Client("argilla", "1", transport=transport, home=tmp_path)
    by_object.track("Ping", {"n": 3, "m": 4})
    by_path.track("Ping", {"n": 3})
    default.track("Ping")
    for client in (by_object, by_path, default):
        assert client.flush(timeout=10)
        client.shutdown()
    catalogs = [(m["context"]["catalog"], m["properties"]) for m in transport.messages]  # type: ignore[index]
    assert sorted(catalogs, key=repr) == sorted(
        [({"name": "mini", "version": "7"}, {"n": 3}), ({"name": "mini-file", "version": "8"}, {})],
        key=repr,
    )
    assert by_object.catalog is custom
    assert default.catalog.name == "argilla"


def test_unknown_catalog_never_raises_into_the_host(
    tmp_path: Path, transport: MemoryTransport
) -> None:
    client = pigeon.Client("nosuchapp", "1", transport=transport, home=tmp_path)
    client.track("ServerStarted")
    client.flush(timeout=5)
    client.shutdown()
    assert transport.messages == []


def test_disabled_client_catalog_is_still_readable() -> None:
    client = pigeon.Client("argilla", "1", enabled=False)
    assert client.catalog.name == "argilla"
