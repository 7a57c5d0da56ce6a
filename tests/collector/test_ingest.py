"""The ingestion endpoints of a real collector process on 127.0.0.1.

Every bad input gets its documented status and JSON body, and the collector
stays up; valid events are validated against the catalog and stored once.
"""

from __future__ import annotations

import datetime
import gzip
import json
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pigeon._crash import crash_signature
from pigeon._wire import uuid7
from tests.collector._running import WRITE_KEY, RunningCollector, basic

NOW = datetime.datetime.now(datetime.UTC)


def iso(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def track(event: str = "ServerStarted", **fields: Any) -> dict[str, Any]:
    """A pigeon-style track message (fresh message id, pigeon's context layout)."""
    message: dict[str, Any] = {
        "type": "track",
        "event": event,
        "properties": {},
        "anonymousId": "install-1",
        "messageId": uuid7(),
        "timestamp": iso(NOW),
        "context": {
            "app": {"name": "argilla", "version": "1.29.0"},
            "library": {"name": "pigeon", "version": "0.1.0"},
            "os": {"name": "Linux", "version": "6.1"},
            "runtime": {"python_version": "3.11.7", "system": "Linux", "release": "6.1",
                        "sys_version": "#1 SMP", "machine": "x86_64",
                        "platform": "Linux-6.1-x86_64"},
            "catalog": {"name": "argilla", "version": "1"},
        },
    }  # fmt: skip
    message.update(fields)
    return message


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCollector]:
    workdir = tmp_path_factory.mktemp("collector")
    running = RunningCollector.with_store(
        workdir, f"sqlite:///{workdir / 'data' / 'pigeon.db'}", "--rate-limit", "0"
    )
    yield running
    running.stop()


def db(collector: RunningCollector) -> Path:
    return collector.workdir / "data" / "pigeon.db"


def stored(collector: RunningCollector, message_id: str) -> dict[str, Any] | None:
    """The raw row of one message id, read straight from the SQLite file."""
    conn = sqlite3.connect(f"{db(collector).as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM events WHERE message_id = ?", (message_id,)).fetchone()
        return dict(row) if row is not None else None
    finally:
        conn.close()


def count(collector: RunningCollector, sql: str, *params: object) -> int:
    conn = sqlite3.connect(f"{db(collector).as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute(sql, params).fetchone()[0])
    finally:
        conn.close()


def assert_error(reply: Any, status: int, code: str, path: str | None = None) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/json"
    body: dict[str, Any] = reply.json
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["details"], list)
    if path is not None:
        assert path in [d["path"] for d in body["details"]], body
    return body


def assert_alive(collector: RunningCollector) -> None:
    reply = collector.request("GET", "/healthz")
    assert reply.status == 200
    assert reply.json["status"] == "ok"


def test_healthz_and_openapi_describe_every_endpoint(collector: RunningCollector) -> None:
    assert_alive(collector)
    spec = collector.request("GET", "/openapi.json").json
    paths = spec["paths"]
    for path in ("/v1/batch", "/v1/track", "/batch/", "/capture/", "/e/", "/i/v0/e/"):
        post = paths[path]["post"]
        assert post["requestBody"]["content"]["application/json"]["schema"]
        assert {"200", "400", "401", "413", "415", "429"} <= set(post["responses"])
    assert "delete" in paths["/v1/installs/{anonymous_id}"]
    assert "get" in paths["/healthz"]


def test_a_mixed_batch_keeps_valid_events_and_lists_the_others(collector: RunningCollector) -> None:
    good = track(
        "LogRecordsRequested",
        properties={"task": "Text2Text", "records": 7, "dataset": "secret-name"},
    )
    long_agent = "x" * 1000
    agent = track(
        "UserInfoRequested", properties={"user-agent": long_agent, "accept-language": None}
    )
    batch = [
        good,
        track("NotInTheCatalog"),
        track("LogRecordsRequested", properties={"records": "7"}),
        track("LogRecordsRequested", properties={"task": "Nope"}),
        track("ServerStarted", type="identify"),
        track("ServerStarted", anonymousId=None),
        track() | {"event": 12},
        agent,
    ]
    reply = collector.post("/v1/batch", {"batch": batch, "sentAt": iso(NOW)}, basic(WRITE_KEY))
    assert reply.status == 200
    assert reply.json == {
        "success": True,
        "accepted": 2,
        "rejected": [
            {"index": 1, "reason": "event: not declared in the catalog"},
            {"index": 2, "reason": "properties.records: must be an integer"},
            {"index": 3, "reason": "properties.task: not one of the declared values"},
            {"index": 4, "reason": "type: only track messages are accepted"},
            {"index": 5, "reason": "anonymousId: required: the anonymous install id"},
            {"index": 6, "reason": "event: expected str | null, got int"},
        ],
    }
    row = stored(collector, good["messageId"])
    assert row is not None
    assert json.loads(row["properties"]) == {
        "task": "Text2Text",
        "records": 7,
    }  # undeclared dropped
    assert (row["app"], row["app_version"], row["python_version"], row["system"]) == (
        "argilla",
        "1.29.0",
        "3.11.7",
        "Linux",
    )
    assert (row["release"], row["machine"], row["library"], row["catalog_version"]) == (
        "6.1",
        "x86_64",
        "pigeon/0.1.0",
        "1",
    )
    agent_row = stored(collector, agent["messageId"])
    assert agent_row is not None
    assert json.loads(agent_row["properties"]) == {"user-agent": "x" * 256, "accept-language": None}
    assert stored(collector, batch[1]["messageId"]) is None


def test_the_historical_argilla_layout_is_read(collector: RunningCollector) -> None:
    # What the reference server's Segment client sent: userId, anonymousId null, flat context.
    message: dict[str, Any] = {
        "type": "track", "event": "UserInfoRequested", "userId": "server-id-1", "anonymousId": None,
        "messageId": str(uuid7()), "timestamp": NOW.isoformat(), "integrations": {},
        "properties": {"user-agent": "argilla/1.29.0", "accept-language": None,
                       "is_default_user": True},
        "context": {"version": "1.20.0", "python_version": "3.8.10", "system": "Darwin",
                    "machine": "arm64", "platform": "macOS-13-arm64", "sys_version": "Darwin 22",
                    "library": {"name": "analytics-python", "version": "2.2.2"}},
    }  # fmt: skip
    reply = collector.post(
        "/v1/batch", {"batch": [message], "writeKey": WRITE_KEY, "sentAt": NOW.isoformat()}
    )
    assert reply.json == {"success": True, "accepted": 1, "rejected": []}
    row = stored(collector, message["messageId"])
    assert row is not None
    assert row["anonymous_id"] == "server-id-1"
    assert (row["app_version"], row["python_version"], row["system"], row["machine"]) == (
        "1.20.0",
        "3.8.10",
        "Darwin",
        "arm64",
    )
    assert (row["platform"], row["library"]) == ("macOS-13-arm64", "analytics-python/2.2.2")


def test_track_takes_one_message_and_its_write_key(collector: RunningCollector) -> None:
    message = track(properties=None) | {"writeKey": WRITE_KEY, "sentAt": iso(NOW)}
    reply = collector.post("/v1/track", message)
    assert reply.json == {"success": True, "accepted": 1, "rejected": []}
    assert stored(collector, message["messageId"]) is not None
    bad = collector.post("/v1/track", track("Unknown"), basic(WRITE_KEY))
    assert_error(bad, 400, "invalid_events", "event")


def test_a_retried_batch_is_stored_and_counted_once(collector: RunningCollector) -> None:
    batch = [
        track(
            "TrainerUsage",
            anonymousId="dup-install",
            properties={"framework": "trl", "task": "DPO"},
        )
        for _ in range(5)
    ]
    for _ in range(3):
        reply = collector.post("/v1/batch", {"batch": batch}, basic(WRITE_KEY))
        assert reply.json["accepted"] == 5
    assert count(collector, "SELECT COUNT(*) FROM events WHERE anonymous_id = 'dup-install'") == 5
    events = count(
        collector,
        "SELECT SUM(events) FROM rollup_daily WHERE dimension = 'trainer' AND value = 'trl\tDPO'",
    )
    assert events == 5


def test_clock_skew_is_corrected_with_sent_at_and_absurd_times_are_refused(
    collector: RunningCollector,
) -> None:
    # The module's NOW is taken at import, which may be minutes before this test runs.
    now = datetime.datetime.now(datetime.UTC)
    ahead = now + datetime.timedelta(hours=5)  # the client's clock is 5 hours fast
    skewed = track(timestamp=iso(ahead - datetime.timedelta(minutes=10)))
    too_old = track(timestamp="2012-01-01T00:00:00Z")
    future = track(timestamp=iso(now + datetime.timedelta(days=3)))
    not_a_time = track(timestamp="yesterday")
    reply = collector.post(
        "/v1/batch", {"batch": [skewed, too_old], "sentAt": iso(ahead)}, basic(WRITE_KEY)
    )
    assert reply.json["rejected"] == [
        {"index": 1, "reason": "timestamp: before 2015-01-01 (after clock-skew correction)"}
    ]
    row = stored(collector, skewed["messageId"])
    assert row is not None
    expected = (now - datetime.timedelta(minutes=10)).timestamp() * 1000
    assert abs(row["timestamp_ms"] - expected) < 60_000  # minus the network and test time
    reply = collector.post("/v1/batch", {"batch": [future, not_a_time]}, basic(WRITE_KEY))
    body = assert_error(reply, 400, "invalid_events")
    assert body["details"] == [
        {
            "path": "batch[0].timestamp",
            "reason": "more than a day in the future (after clock-skew correction)",
        },
        {"path": "batch[1].timestamp", "reason": "invalid RFC3339 encoded datetime"},
    ]


def test_malformed_bodies_get_400_with_the_reason(collector: RunningCollector) -> None:
    headers = {**basic(WRITE_KEY), "Content-Type": "application/json"}
    assert_error(
        collector.request("POST", "/v1/batch", b"{not json", headers), 400, "invalid_json", "body"
    )
    assert_error(collector.request("POST", "/v1/batch", b"", headers), 400, "invalid_json", "body")
    assert_error(
        collector.post("/v1/batch", {"batch": "nope"}, basic(WRITE_KEY)),
        400,
        "invalid_body",
        "batch",
    )
    assert_error(
        collector.post("/v1/batch", {"sentAt": "x"}, basic(WRITE_KEY)), 400, "invalid_body", "batch"
    )
    assert_error(
        collector.post("/v1/batch", {"batch": []}, basic(WRITE_KEY)), 400, "invalid_events", "batch"
    )
    assert_error(collector.post("/v1/batch", [1, 2], basic(WRITE_KEY)), 400, "invalid_body")
    truncated = gzip.compress(json.dumps({"batch": [track()]}).encode())[:-12]
    reply = collector.request(
        "POST", "/v1/batch", truncated, {**headers, "Content-Encoding": "gzip"}
    )
    assert_error(reply, 400, "bad_encoding", "body")
    reply = collector.request(
        "POST", "/v1/batch", b"\x1f\x8bnot gzip at all", {**headers, "Content-Encoding": "gzip"}
    )
    assert_error(reply, 400, "bad_encoding", "body")
    assert_alive(collector)


def test_unknown_write_keys_get_401(collector: RunningCollector) -> None:
    batch = {"batch": [track()]}
    assert_error(
        collector.post("/v1/batch", batch, basic("wrong")),
        401,
        "unauthorized",
        "headers.authorization",
    )
    assert_error(collector.post("/v1/batch", batch), 401, "unauthorized", "writeKey")
    assert_error(
        collector.post("/v1/batch", batch | {"writeKey": "wrong"}), 401, "unauthorized", "writeKey"
    )
    reply = collector.request("POST", "/v1/batch", b"{}", {"Authorization": "Basic !!!"})
    assert_error(reply, 401, "unauthorized", "headers.authorization")
    assert_error(
        collector.post("/batch/", {"api_key": "wrong", "batch": []}), 401, "unauthorized", "api_key"
    )
    assert_alive(collector)


def test_oversized_events_and_bodies_get_413(collector: RunningCollector) -> None:
    huge = track(properties={"user-agent": "y" * 40_000})
    small = track()
    reply = collector.post("/v1/batch", {"batch": [huge, small]}, basic(WRITE_KEY))
    assert reply.json == {
        "success": True,
        "accepted": 1,
        "rejected": [{"index": 0, "reason": "message: larger than 32768 bytes"}],
    }
    assert_error(
        collector.post("/v1/batch", {"batch": [huge]}, basic(WRITE_KEY)),
        413,
        "too_large",
        "batch[0].message",
    )
    assert_error(collector.post("/v1/track", huge, basic(WRITE_KEY)), 413, "too_large", "body")
    many = {"batch": [track(properties={"user-agent": "z" * 20_000}) for _ in range(30)]}
    assert_error(collector.post("/v1/batch", many, basic(WRITE_KEY)), 413, "too_large", "body")
    assert stored(collector, small["messageId"]) is not None
    assert_alive(collector)


def test_a_decompression_bomb_is_refused(collector: RunningCollector) -> None:
    # 200 MB of zeros is about 200 KB of gzip: refused at the 500 KB decompression cap.
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = b"".join(bomb.compress(bytes(1 << 20)) for _ in range(200)) + bomb.flush()
    assert len(body) < 500_000
    headers = {**basic(WRITE_KEY), "Content-Encoding": "gzip"}
    assert_error(collector.request("POST", "/v1/batch", body, headers), 413, "too_large", "body")
    deflated = zlib.compress(bytes(5 << 20), 9)
    reply = collector.request(
        "POST", "/v1/batch", deflated, {**basic(WRITE_KEY), "Content-Encoding": "deflate"}
    )
    assert_error(reply, 413, "too_large", "body")
    too_long = collector.request("POST", "/v1/batch", bytes(600_000), basic(WRITE_KEY))
    assert_error(too_long, 413, "too_large", "body")
    assert_alive(collector)


def test_unsupported_encodings_get_415(collector: RunningCollector) -> None:
    body = json.dumps({"batch": [track()]}).encode()
    for encoding in ("br", "zstd", "compress"):
        reply = collector.request(
            "POST", "/v1/batch", body, {**basic(WRITE_KEY), "Content-Encoding": encoding}
        )
        assert_error(reply, 415, "unsupported_encoding", "headers.content-encoding")
    reply = collector.request("POST", "/e/?compression=lz64", body, {})
    assert_error(reply, 415, "unsupported_encoding", "query.compression")
    assert_alive(collector)


def test_every_error_is_json(collector: RunningCollector) -> None:
    assert_error(collector.request("GET", "/nowhere"), 404, "not_found")
    reply = collector.request("GET", "/v1/batch")
    assert_error(reply, 405, "method_not_allowed")
    assert "POST" in reply.headers["allow"]
    assert_error(collector.request("PUT", "/healthz"), 405, "method_not_allowed")


def test_gzip_bodies_are_accepted(collector: RunningCollector) -> None:
    message = track()
    body = gzip.compress(json.dumps({"batch": [message]}).encode())
    reply = collector.request(
        "POST", "/v1/batch", body, {**basic(WRITE_KEY), "Content-Encoding": "gzip"}
    )
    assert reply.json["accepted"] == 1
    message2 = track()
    body = zlib.compress(json.dumps({"batch": [message2]}).encode())
    reply = collector.request(
        "POST", "/v1/batch", body, {**basic(WRITE_KEY), "Content-Encoding": "deflate"}
    )
    assert reply.json["accepted"] == 1
    assert stored(collector, message2["messageId"]) is not None


def posthog_event(event: str = "ServerStarted", **fields: Any) -> dict[str, Any]:
    properties = {"$lib": "posthog-python", "$lib_version": "7.0.0", "$python_version": "3.12.1",
                  "$os": "Linux", "$os_version": "22.04", "$geoip_disable": True}  # fmt: skip
    return {
        "event": event,
        "distinct_id": "ph-install",
        "uuid": uuid7(),
        "timestamp": NOW.isoformat(),
        "properties": properties,
    } | fields


def test_posthog_capture_shapes(collector: RunningCollector) -> None:
    first = posthog_event()
    reply = collector.post(
        "/batch/",
        {"api_key": WRITE_KEY, "batch": [first, posthog_event("Nope")], "sent_at": NOW.isoformat()},
    )
    assert reply.json == {
        "success": True,
        "accepted": 1,
        "rejected": [{"index": 1, "reason": "event: not declared in the catalog"}],
    }
    row = stored(collector, first["uuid"])
    assert row is not None
    context = (row["library"], row["python_version"], row["system"], row["release"])
    assert context == ("posthog-python/7.0.0", "3.12.1", "Linux", "22.04")
    assert row["anonymous_id"] == "ph-install"
    assert row["properties"] == "{}"  # the $ properties are context, not stored properties
    single = posthog_event() | {"api_key": WRITE_KEY}
    assert collector.post("/capture/", single).json["accepted"] == 1
    with_token = posthog_event()
    with_token["properties"]["token"] = WRITE_KEY
    assert collector.post("/e/", [with_token]).json["accepted"] == 1
    gz = gzip.compress(json.dumps({"api_key": WRITE_KEY, "batch": [posthog_event()]}).encode())
    assert (
        collector.request("POST", "/i/v0/e/", gz, {"Content-Encoding": "gzip"}).json["accepted"]
        == 1
    )
    assert (
        collector.request(
            "POST", "/e/?compression=gzip-js", gz, {"Content-Type": "text/plain"}
        ).json["accepted"]
        == 1
    )
    assert_error(
        collector.post("/capture/", posthog_event() | {"api_key": WRITE_KEY, "distinct_id": None}),
        400,
        "invalid_events",
        "distinct_id",
    )
    assert stored(collector, with_token["uuid"]) is not None


def test_forget_deletes_an_install(collector: RunningCollector) -> None:
    batch = [track(anonymousId="forget-me") for _ in range(4)]
    collector.post("/v1/batch", {"batch": batch}, basic(WRITE_KEY))
    reply = collector.request("DELETE", "/v1/installs/forget-me", headers=basic(WRITE_KEY))
    assert reply.json == {"success": True, "deleted": 4}
    assert count(collector, "SELECT COUNT(*) FROM events WHERE anonymous_id = 'forget-me'") == 0
    assert (
        collector.request("DELETE", "/v1/installs/forget-me", headers=basic(WRITE_KEY)).json[
            "deleted"
        ]
        == 0
    )
    assert_error(collector.request("DELETE", "/v1/installs/forget-me"), 401, "unauthorized")
    assert_error(
        collector.request("DELETE", "/v1/installs/" + "x" * 200, headers=basic(WRITE_KEY)),
        400,
        "invalid_request",
    )


def test_undeclared_data_never_reaches_the_store(collector: RunningCollector) -> None:
    canary = "CANARY-7f3a9c"
    message = track(
        "ServerErrorFound",
        properties={
            "code": "argilla.api.errors::EntityNotFoundError",
            "message": f"dataset {canary} missing",
            f"{canary}-key": 1,
        },
        context=track()["context"] | {"ip": canary, "hostname": canary, "traits": {"name": canary}},
    )
    posthog = posthog_event(properties={"$ip": canary, "$current_url": canary, "path": canary})
    assert collector.post("/v1/batch", {"batch": [message]}, basic(WRITE_KEY)).json["accepted"] == 1
    assert (
        collector.post("/batch/", {"api_key": WRITE_KEY, "batch": [posthog]}).json["accepted"] == 1
    )
    refused = collector.post(
        "/v1/batch", {"batch": [track("Nope", properties={"x": canary})]}, basic(WRITE_KEY)
    )
    assert canary not in refused.body.decode()
    collector.request("GET", "/healthz")
    for path in db(collector).parent.iterdir():
        assert canary.encode() not in path.read_bytes(), path.name
    assert canary not in collector.stderr


def test_no_client_address_is_logged_or_stored(tmp_path: Path) -> None:
    running = RunningCollector.with_store(
        tmp_path, f"sqlite:///{tmp_path / 'data' / 'p.db'}", "--rate-limit", "1"
    )
    try:
        source = "127.0.0.2"  # a loopback address of its own, so any trace of it is ours
        try:
            running.request("GET", "/healthz", source=source)
        except OSError:
            pytest.skip("this system cannot send from 127.0.0.2")
        for _ in range(5):  # accepted, refused, rate limited, malformed, unknown routes
            running.request(
                "POST",
                "/v1/batch",
                json.dumps({"batch": [track()]}).encode(),
                basic(WRITE_KEY),
                source,
            )
            running.request("POST", "/v1/batch", b"{", basic(WRITE_KEY), source)
            running.request("POST", "/v1/batch", b"{}", basic("nope"))
            running.request("GET", "/missing", source=source)
        running.request("POST", "/v1/batch", b"x", {"Content-Encoding": "gzip", **basic(WRITE_KEY)})
        for _ in range(3):
            running.request(
                "POST", "/v1/batch", json.dumps({"batch": [track()]}).encode(), basic(WRITE_KEY)
            )
    finally:
        assert running.stop() in (0, -15)
    logs = running.stderr
    assert "127.0.0.1" not in logs
    assert source not in logs
    assert "stopped" in running.stdout
    for path in (tmp_path / "data").iterdir():
        data = path.read_bytes()
        assert source.encode() not in data, path.name
        assert b"127.0.0.1" not in data, path.name


def test_requests_beyond_the_rate_limit_get_429_with_retry_after(tmp_path: Path) -> None:
    running = RunningCollector.with_store(
        tmp_path, f"sqlite:///{tmp_path / 'data' / 'p.db'}", "--rate-limit", "1"
    )
    try:
        replies = [
            running.post("/v1/batch", {"batch": [track()]}, basic(WRITE_KEY)) for _ in range(30)
        ]
        limited = [r for r in replies if r.status == 429]
        assert limited, [r.status for r in replies]
        assert {r.status for r in replies} == {200, 429}
        for reply in limited:
            assert_error(reply, 429, "rate_limited")
            assert int(reply.headers["retry-after"]) >= 1
        assert_alive(running)  # health checks are not rate limited
        accepted = sum(1 for r in replies if r.status == 200)
        assert count_rows(tmp_path / "data" / "p.db") == accepted
    finally:
        running.stop()


def count_rows(path: Path) -> int:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        conn.close()


CRASH = {
    "exception": "argilla_server.errors.Broken",
    "frames": ["<other>", "argilla_server.api:list_records:140", "argilla_server.store:sort:52"],
    "signature": "b91f4e191cf9700e",
}


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ("argilla_server.api:list_records:140", "must be a list of frames"),
        ({"0": "a:b:1"}, "must be a list of frames"),
        (["a:b:1"] * 33, "at most 32 frames"),
        (["a:b:1", "m:" + "f" * 200 + ":1"], "frame 1: longer than 200 characters"),
        (["/srv/app/api.py:handle:3"], "frame 0: not module:function:line or <other>"),
        (["api:handle"], "frame 0: not module:function:line or <other>"),
        (["api:handle:3 name='x'"], "frame 0: not module:function:line or <other>"),
        (["a:b:1", 7], "frame 1: must be a string"),
        ([None], "frame 0: must be a string"),
    ],
)
def test_invalid_frames_are_refused_naming_the_field_and_reason(
    collector: RunningCollector, frames: object, reason: str
) -> None:
    message = track("CrashReported", properties={**CRASH, "frames": frames})
    body = assert_error(
        collector.post("/v1/batch", {"batch": [message]}, basic(WRITE_KEY)),
        400,
        "invalid_events",
        "batch[0].properties.frames",
    )
    assert reason in json.dumps(body)
    assert stored(collector, message["messageId"]) is None
    assert_alive(collector)


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "0123456789abcdef"},
        {"exception": "argilla_server.errors.Other"},
        {"frames": ["<other>", "argilla_server.api:list_records:140"]},
    ],
)
def test_a_crash_whose_signature_is_not_its_exceptions_and_frames_is_refused(
    collector: RunningCollector, change: dict[str, object]
) -> None:
    # Crashes are counted by signature: a client hashing something else would
    # split one crash in two (or merge two) in every view and alert.
    refused = track("CrashReported", properties={**CRASH, **change})
    reply = collector.post("/v1/batch", {"batch": [refused]}, basic(WRITE_KEY))
    body = assert_error(reply, 400, "invalid_events", "batch[0].properties.signature")
    assert "not the signature of this exception and frames" in json.dumps(body)
    assert stored(collector, refused["messageId"]) is None
    # Lines are not hashed; an event without one of the three cannot be checked.
    shifted = ["<other>", "argilla_server.api:list_records:7", "argilla_server.store:sort:9"]
    kept = track("CrashReported", properties={**CRASH, "frames": shifted})
    partial = {k: v for k, v in CRASH.items() if k != "frames"}
    alone = track("CrashReported", properties={**partial, "signature": "0123456789abcdef"})
    reply = collector.post("/v1/batch", {"batch": [kept, alone]}, basic(WRITE_KEY))
    assert reply.json == {"success": True, "accepted": 2, "rejected": []}
    assert stored(collector, kept["messageId"]) is not None


def test_crash_frames_are_stored_as_a_json_array_and_forgotten(collector: RunningCollector) -> None:
    messages = [track("CrashReported", properties=CRASH, anonymousId="crash-install")]
    no_frames = {"frames": [], "signature": crash_signature(str(CRASH["exception"]), ())}
    messages.append(track("CrashReported", properties={**CRASH, **no_frames}))
    reply = collector.post("/v1/batch", {"batch": messages}, basic(WRITE_KEY))
    assert reply.json == {"success": True, "accepted": 2, "rejected": []}
    row = stored(collector, messages[0]["messageId"])
    assert row is not None
    assert json.loads(row["properties"]) == CRASH
    empty = stored(collector, messages[1]["messageId"])
    assert empty is not None
    assert json.loads(empty["properties"])["frames"] == []
    deleted = collector.request("DELETE", "/v1/installs/crash-install", headers=basic(WRITE_KEY))
    assert deleted.json == {"success": True, "deleted": 1}
    assert_alive(collector)
