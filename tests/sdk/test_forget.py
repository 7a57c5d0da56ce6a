"""``client.forget()``: delete the install's events on the collector and rotate the id."""

from __future__ import annotations

import base64
from pathlib import Path

import pigeon
from pigeon._identity import ID_FILENAME
from pigeon._spool import SPOOL_DIRNAME
from pigeon.testing import MemoryTransport
from tests.sdk._sink import Blackhole, Reply, Sink, refused_port
from tests.sdk.conftest import QUICK, ClientFactory, records, track_records


def test_forget_deletes_on_the_collector_and_rotates_the_id(
    sink: Sink, make_client: ClientFactory, tmp_path: Path
) -> None:
    home = tmp_path / "app-home"
    client = make_client(sink.url, home=home, write_key="argilla-demo")
    old = client.anonymous_id
    assert old is not None
    assert client.forget()
    [request] = sink.requests
    assert (request.method, request.path) == ("DELETE", f"/v1/installs/{old}")
    token = request.headers["authorization"].removeprefix("Basic ")
    assert base64.b64decode(token) == b"argilla-demo:"
    new = client.anonymous_id
    assert new not in (None, old)
    assert (home / ID_FILENAME).read_text().strip() == new
    track_records(client, [1])
    assert client.flush(timeout=10)
    assert [m["anonymousId"] for m in sink.events()] == [new]


def test_events_not_yet_delivered_are_dropped_spool_included(
    blackhole: Blackhole, sink: Sink, make_client: ClientFactory, tmp_path: Path
) -> None:
    home = tmp_path / "app-home"
    stuck = make_client(blackhole.url, home=home)
    track_records(stuck, [1, 2])
    stuck.shutdown(timeout=0.2)
    assert list((home / SPOOL_DIRNAME).glob("spool-*"))
    client = make_client(sink.url, home=home, policy=QUICK._replace(interval=3600.0))
    track_records(client, [3, 4])
    assert client.forget()
    assert client.counters["dropped_forgotten"] == 2
    assert not list((home / SPOOL_DIRNAME).glob("spool-*"))
    assert client.flush(timeout=10)
    assert records(sink.events()) == []


def test_forget_reports_an_unreachable_collector_and_still_rotates(
    make_client: ClientFactory,
) -> None:
    client = make_client(f"http://127.0.0.1:{refused_port()}")
    old = client.anonymous_id
    assert not client.forget(timeout=1.0)
    assert client.anonymous_id not in (None, old)


def test_forget_answers_follow_the_collector(sink: Sink, make_client: ClientFactory) -> None:
    client = make_client(sink.url)
    sink.script(Reply(404), Reply(500), Reply(401))
    assert client.forget()  # nothing stored under that id: nothing to forget
    assert not client.forget()
    assert not client.forget()
    assert len(sink.requests) == 3


def test_a_disabled_client_forgets_nothing_and_touches_nothing(tmp_path: Path) -> None:
    client = pigeon.Client(
        "argilla", "1.0", endpoint="http://127.0.0.1:9", home=tmp_path, enabled=False
    )
    assert not client.forget()
    assert list(tmp_path.iterdir()) == []


def test_forget_through_a_memory_transport(make_client: ClientFactory) -> None:
    transport = MemoryTransport()
    client = make_client(transport=transport)
    old = client.anonymous_id
    assert client.forget()
    assert transport.forgotten == [old]
