"""Delivery and batching through a real local HTTP server, and the caller's side of it."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any

import pytest

from pigeon._http import HTTPTransport
from pigeon._pipeline import Item
from pigeon._sender import MAX_BATCH_EVENTS, Sender
from pigeon.testing import MemoryTransport
from tests.sdk._sink import Blackhole, Sink
from tests.sdk.conftest import QUICK, ClientFactory, records, sender_of, track_records

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_events_arrive_once_in_batches_of_at_most_100(
    sink: Sink, make_client: ClientFactory
) -> None:
    client = make_client(sink.url)
    track_records(client, range(250))
    assert client.flush(timeout=10)
    assert records(sink.events()) == list(range(250))
    assert all(len(batch) <= MAX_BATCH_EVENTS for batch in sink.batches())
    assert client.counters == {"sent": 250}


def test_a_full_batch_leaves_at_once_and_the_rest_waits_for_the_interval(
    sink: Sink, make_client: ClientFactory
) -> None:
    client = make_client(sink.url, policy=QUICK._replace(interval=3600.0))
    track_records(client, range(MAX_BATCH_EVENTS + 1))
    assert sink.wait_for(events=MAX_BATCH_EVENTS)
    # The 101st event waits for the interval (an hour) or a flush.
    assert [len(b) for b in sink.batches()] == [MAX_BATCH_EVENTS]
    assert client.flush(timeout=10)
    assert [len(b) for b in sink.batches()] == [MAX_BATCH_EVENTS, 1]


def test_an_event_leaves_within_the_interval_without_a_flush(
    sink: Sink, make_client: ClientFactory
) -> None:
    client = make_client(sink.url)
    track_records(client, [7])
    assert sink.wait_for(events=1)
    assert records(sink.events()) == [7]


def test_messages_follow_the_wire_format(sink: Sink, make_client: ClientFactory) -> None:
    client = make_client(sink.url)
    before = time.time()
    track_records(client, range(300))
    client.track("ServerStarted")
    assert client.flush(timeout=10)
    messages = sink.events()
    ids = [m["messageId"] for m in messages]
    assert all(UUID7.match(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)  # time-ordered, in the order tracked
    first = messages[0]
    assert first["type"] == "track"
    assert first["anonymousId"] == client.anonymous_id
    assert TIMESTAMP.match(first["timestamp"])
    assert int(ids[0][:8] + ids[0][9:13], 16) >= int(before * 1000)  # ms clock in the id
    assert set(first["context"]) == {"app", "library", "os", "runtime", "catalog"}
    assert first["context"]["app"] == {"name": "argilla", "version": "1.29.0"}
    assert messages[-1]["event"] == "ServerStarted"
    assert messages[-1]["properties"] == {}
    payloads = [r.payload for r in sink.requests]
    assert all(TIMESTAMP.match(p["sentAt"]) for p in payloads)


def test_refused_events_are_counted_and_never_sent(
    sink: Sink, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(sink.url)
    canary = "CANARY-dataset-name-6f1e"
    client.track("LogRecordsRequested", {"task": "Text2Text", "records": 1, canary: canary})
    client.track("NotInTheCatalog", {"task": canary})
    client.track("LogRecordsRequested", {"task": "Text2Text", "records": "many"})
    client.track("LogRecordsRequested", {"task": "Text2Text", "records": "many"})
    assert client.flush(timeout=10)
    assert records(sink.events()) == [1]
    assert canary.encode() not in b"".join(r.raw for r in sink.requests)
    assert client.counters == {"sent": 1, "refused": 3}
    refusals = [r for r in caplog.records if "refused by the catalog" in r.getMessage()]
    assert len(refusals) == 2  # once per event name, not once per event


def test_an_item_that_fails_to_encode_is_counted_and_spares_its_batch(sink: Sink) -> None:
    def prepare(item: Item) -> str | None:
        event, properties, _ = item
        if properties is None:
            raise RuntimeError("a bug in validation or encoding")
        return json.dumps({"type": "track", "event": event, "properties": properties})

    sender = Sender(HTTPTransport(sink.url, "k"), prepare, policy=QUICK)
    for item in [("A", {"records": 1}, 0.0), ("B", None, 0.0), ("C", {"records": 2}, 0.0)]:
        sender.queue.append(item)
    sender.kick()
    assert sender.flush(10)
    assert [m["event"] for m in sink.events()] == ["A", "C"]
    assert sender.counters == {"sent": 2, "internal_error": 1}
    sender.close(time.monotonic())


def test_flush_with_nothing_queued_returns_at_once_and_starts_nothing(
    make_client: ClientFactory, blackhole: Blackhole
) -> None:
    client = make_client(blackhole.url)
    assert client.flush(timeout=0)
    assert sender_of(client)._thread is None
    assert blackhole.connections == 0


def test_events_from_many_threads_arrive_exactly_once(
    sink: Sink, make_client: ClientFactory
) -> None:
    client = make_client(sink.url)
    start = threading.Barrier(4)

    def worker(base: int) -> None:
        start.wait()
        track_records(client, range(base, base + 500))

    threads = [threading.Thread(target=worker, args=(i * 1000,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.flush(timeout=20)
    expected = sorted(n for i in range(4) for n in range(i * 1000, i * 1000 + 500))
    assert records(sink.events()) == expected


def test_queue_overflow_drops_the_newest_counts_them_and_warns_once(
    blackhole: Blackhole, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(blackhole.url, capacity=10, policy=QUICK._replace(timeout=60.0))
    track_records(client, [0])
    assert blackhole.accepted.wait(10)  # the sender holds event 0 in a request that never ends
    track_records(client, range(1, 16))  # 10 fit in the queue, 5 do not
    assert client.counters.get("dropped_queue_full") == 5
    assert not client.flush(timeout=0)
    track_records(client, range(16, 20))
    assert not client.flush(timeout=0)
    assert client.counters.get("dropped_queue_full") == 9
    warnings = [r for r in caplog.records if "queue is full" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


def test_track_never_blocks_while_the_collector_hangs(
    blackhole: Blackhole, make_client: ClientFactory
) -> None:
    calls = 20_000
    baseline = make_client(transport=MemoryTransport(), capacity=calls + 10)
    blocked = make_client(blackhole.url, capacity=calls + 10, policy=QUICK._replace(timeout=60.0))
    track_records(blocked, [0])
    assert blackhole.accepted.wait(10)

    def aggregate(client: Any) -> float:
        props = {"task": "Text2Text", "records": 1}
        track = client.track
        start = time.perf_counter()
        for _ in range(calls):
            track("LogRecordsRequested", props)
        return time.perf_counter() - start

    reference = aggregate(baseline)
    hung = aggregate(blocked)
    # The sender was stuck in its request the whole time (its timeout is a minute)...
    assert not any(k.startswith("failed_") for k in blocked.counters)
    assert not blocked.flush(timeout=0)
    # ...and the calls cost what they cost with a memory transport: a generous
    # bound, far below what a single call waiting on the network would take.
    assert hung < 20 * reference + 1.0, (hung, reference)
