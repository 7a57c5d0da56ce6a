"""The HTTP transport on real sockets: wire format, retries, failures of every kind."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from tests.sdk._sink import Blackhole, Reply, Sink, refused_port
from tests.sdk.conftest import QUICK, ClientFactory, records, track_records


def test_batches_are_gzipped_json_with_the_write_key_as_basic_auth_user(
    sink: Sink, make_client: ClientFactory
) -> None:
    client = make_client(sink.url, write_key="argilla-demo")
    track_records(client, range(3))
    assert client.flush(timeout=10)
    [request] = sink.requests
    assert request.method == "POST"
    assert request.path == "/v1/batch"
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("pigeon/")
    user, _, password = (
        base64.b64decode(request.headers["authorization"].removeprefix("Basic "))
        .decode()
        .partition(":")
    )
    assert (user, password) == ("argilla-demo", "")
    body = json.loads(gzip.decompress(request.raw))
    assert set(body) == {"batch", "sentAt"}
    assert records(body["batch"]) == [0, 1, 2]


def test_an_endpoint_with_a_path_prefix_keeps_it(sink: Sink, make_client: ClientFactory) -> None:
    client = make_client(f"{sink.url}/telemetry/")
    track_records(client, [1])
    assert client.flush(timeout=10)
    assert [r.path for r in sink.requests] == ["/telemetry/v1/batch"]


def test_batches_share_one_keep_alive_connection(sink: Sink, make_client: ClientFactory) -> None:
    client = make_client(sink.url)
    for batch in range(4):
        track_records(client, range(batch * 10, batch * 10 + 10))
        assert client.flush(timeout=10)
    assert len(sink.requests) == 4
    assert len({r.client_port for r in sink.requests}) == 1


def test_a_connection_the_server_dropped_while_idle_is_replaced_silently(
    sink: Sink, make_client: ClientFactory
) -> None:
    sink.script(Reply(close_after=True))
    client = make_client(sink.url)
    track_records(client, [1])
    assert client.flush(timeout=10)
    track_records(client, [2])
    assert client.flush(timeout=10)
    assert records(sink.events()) == [1, 2]
    assert len({r.client_port for r in sink.requests}) == 2
    assert client.counters == {"sent": 2}


def test_server_errors_are_retried_with_the_same_message_ids(
    sink: Sink, make_client: ClientFactory
) -> None:
    sink.script(Reply(500), Reply(503))
    client = make_client(sink.url)
    track_records(client, range(5))
    assert client.flush(timeout=10)
    batches = sink.batches()
    assert len(batches) == 3
    assert [[m["messageId"] for m in b] for b in batches[1:]] == [
        [m["messageId"] for m in batches[0]]
    ] * 2
    assert client.counters == {"sent": 5, "failed_http_500": 1, "failed_http_503": 1}


def test_429_is_retried_no_sooner_than_retry_after(sink: Sink, make_client: ClientFactory) -> None:
    sink.script(Reply(429, headers={"Retry-After": "1"}))
    client = make_client(sink.url)
    track_records(client, [1])
    assert client.flush(timeout=10)
    first, second = sink.requests
    assert second.at - first.at >= 0.95  # QUICK would retry after 50 ms without the header
    assert client.counters == {"sent": 1, "failed_http_429": 1}


def test_other_client_errors_drop_the_batch_without_retry(
    sink: Sink, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sink.script(Reply(400, body={"code": "invalid_batch", "message": "no valid event"}))
    client = make_client(sink.url)
    track_records(client, range(3))
    assert not client.flush(timeout=10)  # nothing left to send, but 3 events were lost
    assert len(sink.requests) == 1
    assert client.counters == {"failed_http_400": 1, "dropped_rejected": 3}
    [warning] = [r for r in caplog.records if "http_400" in r.getMessage()]
    assert "invalid_batch" in warning.getMessage()
    track_records(client, [4])
    assert client.flush(timeout=10)  # later batches are unaffected
    assert records(sink.events()[-1:]) == [4]


def test_events_the_collector_rejects_one_by_one_are_counted(
    sink: Sink, make_client: ClientFactory
) -> None:
    rejected = {"success": True, "accepted": 2, "rejected": [{"index": 1, "reason": "x"}]}
    sink.script(Reply(200, body=rejected))
    client = make_client(sink.url)
    track_records(client, range(3))
    assert not client.flush(timeout=10)
    assert client.counters == {"sent": 2, "dropped_rejected": 1}


def test_a_refused_connection_is_retried_and_never_raises(make_client: ClientFactory) -> None:
    client = make_client(f"http://127.0.0.1:{refused_port()}")
    track_records(client, [1])
    assert not client.flush(timeout=0.5)
    assert client.counters["failed_connect"] >= 1
    assert "sent" not in client.counters


def test_a_collector_that_never_answers_times_out(
    blackhole: Blackhole, make_client: ClientFactory
) -> None:
    client = make_client(blackhole.url, policy=QUICK._replace(timeout=0.2))
    track_records(client, [1])
    assert not client.flush(timeout=1.0)
    assert client.counters["failed_timeout"] >= 1


def test_a_slow_answer_within_the_timeout_is_delivered(
    sink: Sink, make_client: ClientFactory
) -> None:
    sink.script(Reply(delay=0.3))
    client = make_client(sink.url, policy=QUICK._replace(timeout=5.0))
    track_records(client, [1])
    assert client.flush(timeout=10)
    assert client.counters == {"sent": 1}


def test_a_slower_answer_times_out_and_the_retry_resends_the_same_ids(
    sink: Sink, make_client: ClientFactory
) -> None:
    sink.script(Reply(delay=30.0))
    client = make_client(sink.url, policy=QUICK._replace(timeout=0.3))
    track_records(client, [1, 2])
    assert client.flush(timeout=10)
    first, second = sink.batches()
    assert [m["messageId"] for m in first] == [m["messageId"] for m in second]
    assert client.counters == {"sent": 2, "failed_timeout": 1}


def test_an_unresolvable_name_fails_within_the_attempt_budget(make_client: ClientFactory) -> None:
    client = make_client("http://pigeon-test.invalid:8080", policy=QUICK._replace(timeout=0.5))
    track_records(client, [1])
    assert not client.flush(timeout=1.0)
    failures = {k for k in client.counters if k.startswith("failed_")}
    # NXDOMAIN where a resolver answers; a timeout where none does.
    assert failures
    assert failures <= {"failed_dns", "failed_timeout"}


def test_tls_to_a_plain_http_server_fails_cleanly(sink: Sink, make_client: ClientFactory) -> None:
    client = make_client(sink.url.replace("http://", "https://"))
    track_records(client, [1])
    assert not client.flush(timeout=0.5)
    assert {k for k in client.counters if k.startswith("failed_")} <= {
        "failed_tls",
        "failed_network",
    }
    assert "sent" not in client.counters


def test_a_retried_batch_and_the_one_built_behind_it_each_arrive_once(
    sink: Sink, make_client: ClientFactory
) -> None:
    sink.script(Reply(500))
    client = make_client(sink.url)
    track_records(client, range(250))  # more than a batch: the next is built during a send
    assert client.flush(timeout=10)
    sizes = [len(b) for b in sink.batches()]
    assert sizes == [100, 100, 100, 50]
    ids = [m["messageId"] for m in sink.events()]
    assert ids[:100] == ids[100:200]  # the failed batch, resent as is
    assert len(set(ids)) == 250
    assert records(sink.events()[100:]) == list(range(250))
