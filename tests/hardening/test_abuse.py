"""Hostile input against a real collector process: it answers 4xx JSON and stays up and small.

Decompression bombs, deep nesting, huge arrays, invalid UTF-8, numbers out of
range, duplicate keys, absurd timestamps, a write key used for another app,
oversize headers. Each case says what it sent; the collector's memory is
measured around the bombs.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.collector._running import WRITE_KEY, RunningCollector, basic
from tests.collector.test_ingest import assert_alive, assert_error, track
from tests.hardening._probe import raw_exchange, rss_bytes, status_of
from tests.hardening.conftest import Record

OTHER_KEY = "other-app-key"
OTHER_CATALOG = """
[catalog]
name = "otherapp"
version = "1"
description = "A second app sharing the collector."

[events.Ping]
purpose = "Counts pings."
"""


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCollector]:
    workdir = tmp_path_factory.mktemp("abuse")
    catalog = workdir / "otherapp.toml"
    catalog.write_text(OTHER_CATALOG)
    running = RunningCollector.with_store(
        workdir,
        f"sqlite:///{workdir / 'data' / 'pigeon.db'}",
        "--rate-limit",
        "0",
        "--write-key",
        f"{OTHER_KEY}={catalog}",
    )
    yield running
    running.stop()


def rows(collector: RunningCollector, sql: str, *params: object) -> list[tuple[Any, ...]]:
    path = collector.workdir / "data" / "pigeon.db"
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def post_raw(
    collector: RunningCollector, body: bytes, encoding: str | None = None, key: str = WRITE_KEY
) -> Any:
    headers = {**basic(key), "Content-Type": "application/json"}
    if encoding:
        headers["Content-Encoding"] = encoding
    return collector.request("POST", "/v1/batch", body, headers)


def zeros(megabytes: int, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    chunk = bytes(1 << 20)
    return b"".join(packer.compress(chunk) for _ in range(megabytes)) + packer.flush()


BOMBS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "gzip of 100 MB of zeros": ("gzip", lambda: zeros(100, 31)),
    "deflate of 100 MB of zeros": ("deflate", lambda: zeros(100, 15)),
    "2000 concatenated gzip members of 1 MB of zeros": (
        "gzip",
        lambda: gzip.compress(bytes(1 << 20), 9) * 2000,
    ),
    "gzip inside gzip (50 MB inside)": ("gzip", lambda: gzip.compress(zeros(50, 31))),
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_decompression_bombs_cost_no_memory(
    collector: RunningCollector, reliability: Record, name: str
) -> None:
    reliability.tried("abuse", f"decompression bomb: {name}")
    encoding, make = BOMBS[name]
    body = make()
    before = rss_bytes(collector.process.pid)
    reply = post_raw(collector, body, encoding)
    grown = rss_bytes(collector.process.pid) - before
    reliability.figures.update(
        {"wire_kb": len(body) // 1024, "status": reply.status, "rss_growth_mb": grown / 2**20}
    )
    assert reply.status in (400, 413), reply.body
    assert_error(reply, reply.status, reply.json["code"], "body")
    assert grown < 16 * 2**20  # the cap is 500 KB; a full inflate would be 50-100 MB
    assert_alive(collector)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_deeply_nested_json_is_a_400(collector: RunningCollector, reliability: Record) -> None:
    reliability.tried("abuse", "JSON nested 100 000 deep, as the body and inside properties")
    reply = post_raw(collector, nested(100_000))
    assert_error(reply, 400, reply.json["code"])
    inner = b'{"batch": [{"type": "track", "event": "ServerStarted", "anonymousId": "a", '
    inner += b'"messageId": "m-nested", "properties": {"x": ' + nested(50_000) + b"}}]}"
    reply = post_raw(collector, inner)
    reliability.figures["status"] = reply.status
    assert_error(reply, 400, reply.json["code"])
    assert rows(collector, "SELECT COUNT(*) FROM events WHERE message_id = 'm-nested'") == [(0,)]
    assert_alive(collector)


def test_huge_arrays_get_a_bounded_answer(collector: RunningCollector, reliability: Record) -> None:
    reliability.tried("abuse", "a batch of 200 000 invalid elements (within the 500 KB cap)")
    body = b'{"batch": [' + b",".join([b"0"] * 200_000) + b"]}"
    reply = post_raw(collector, body)
    reliability.figures.update({"status": reply.status, "answer_bytes": len(reply.body)})
    assert_error(reply, 400, reply.json["code"])
    assert len(reply.body) < 64 * 1024  # details are capped, not one per element
    assert_alive(collector)


def test_invalid_utf8_is_a_400(collector: RunningCollector, reliability: Record) -> None:
    reliability.tried("abuse", "invalid UTF-8 in strings, keys and the event name")
    for bad in (b'"\xff\xfe"', b'"\xc3\x28"', b'"\xed\xa0\x80"'):
        body = (
            b'{"batch": [{"type": "track", "event": '
            + bad
            + b', "anonymousId": "a", "messageId": "m", "properties": {'
            + bad
            + b": 1}}]}"
        )
        reply = post_raw(collector, body)
        assert_error(reply, 400, reply.json["code"])
    reliability.figures.update({"cases": 3, "status": reply.status})
    assert_alive(collector)


OUT_OF_RANGE = {
    "10**30": 10**30,
    "-1": -1,
    "2**63": 2**63,
    "-(2**63) - 1": -(2**63) - 1,
    "1e308": 1e308,
    "1.5": 1.5,
    "true": True,
    "'12'": "12",
}


def test_numbers_out_of_range_are_refused_by_name(
    collector: RunningCollector, reliability: Record
) -> None:
    reliability.tried("abuse", "records = 10**30, -1, 2**63, 1e308, 1.5, true, '12'")
    messages = [
        track("LogRecordsRequested", properties={"task": "Text2Text", "records": value})
        for value in OUT_OF_RANGE.values()
    ]
    reply = collector.post("/v1/batch", {"batch": messages}, basic(WRITE_KEY))
    body = assert_error(reply, 400, "invalid_events")
    assert len(body["details"]) == len(OUT_OF_RANGE)
    for detail in body["details"]:
        assert "records" in detail["path"] + detail["reason"], detail
    for literal in (b"NaN", b"Infinity", b"1e999"):
        text = json.dumps(
            {"batch": [track("LogRecordsRequested", properties={"task": "Text2Text"})]}
        ).encode()
        text = text.replace(b'"task": "Text2Text"', b'"task": "Text2Text", "records": ' + literal)
        reply = post_raw(collector, text)
        assert_error(reply, 400, reply.json["code"])
    reliability.figures["cases"] = len(OUT_OF_RANGE) + 3
    assert_alive(collector)


def test_duplicate_keys_never_smuggle_an_invalid_value(
    collector: RunningCollector, reliability: Record
) -> None:
    reliability.tried("abuse", "duplicate JSON keys: a valid value then an invalid one, and back")
    statuses = []
    for first, second in ((b"5", b"-5"), (b"-5", b"5"), (b"5", b'"x" ')):
        message = track("LogRecordsRequested", properties={"task": "Text2Text", "records": 0})
        text = json.dumps({"batch": [message]}).encode()
        text = text.replace(b'"records": 0', b'"records": ' + first + b', "records": ' + second)
        reply = post_raw(collector, text)
        statuses.append(reply.status)
        assert reply.status in (200, 400), reply.body
        if reply.status == 200:
            (value,) = rows(
                collector,
                "SELECT properties FROM events WHERE message_id = ?",
                message["messageId"],
            )[0]
            records = json.loads(value)["records"]
            assert isinstance(records, int)
            assert records >= 0
        else:
            assert_error(reply, 400, "invalid_events")
    reliability.figures["statuses"] = "/".join(map(str, statuses))
    reliability.note = "the last duplicate wins (msgspec), and the winner is validated"
    assert_alive(collector)


def test_absurd_timestamps_are_refused(collector: RunningCollector, reliability: Record) -> None:
    reliability.tried("abuse", "timestamps in year 1, 1970, 9999, 10**20 and sentAt in 9999")
    stamps: list[object] = ["0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
    stamps += [10**20, "2024-02-30T00:00:00Z", ""]
    reply = collector.post(
        "/v1/batch", {"batch": [track(timestamp=s) for s in stamps]}, basic(WRITE_KEY)
    )
    body = assert_error(reply, 400, "invalid_events")
    assert [d["path"] for d in body["details"]] == [f"batch[{i}].timestamp" for i in range(6)]
    reliability.figures["refused"] = len(body["details"])
    reply = collector.post(
        "/v1/batch", {"batch": [track()], "sentAt": "9999-12-31T23:59:59Z"}, basic(WRITE_KEY)
    )
    assert reply.status in (200, 400), reply.body
    if reply.status == 400:
        assert_error(reply, 400, reply.json["code"])
    assert_alive(collector)


def test_a_write_key_cannot_write_for_another_app(
    collector: RunningCollector, reliability: Record
) -> None:
    reliability.tried("abuse", "forged events: argilla's key claiming app 'otherapp', and back")
    forged = track("ServerStarted", context={"app": {"name": "otherapp", "version": "9"}})
    forged["context"]["catalog"] = {"name": "otherapp", "version": "1"}
    reply = collector.post("/v1/batch", {"batch": [forged]}, basic(WRITE_KEY))
    if reply.status == 200:
        stored = rows(collector, "SELECT app FROM events WHERE message_id = ?", forged["messageId"])
        assert stored == [("argilla",)]  # kept under the key's app, never the claimed one
    ping = track("Ping")
    reply = collector.post("/v1/batch", {"batch": [ping]}, basic(WRITE_KEY))
    assert_error(reply, 400, "invalid_events")  # argilla's catalog has no Ping
    argilla_event = track("LogRecordsRequested", properties={"task": "Text2Text", "records": 1})
    reply = collector.post("/v1/batch", {"batch": [argilla_event]}, basic(OTHER_KEY))
    assert_error(reply, 400, "invalid_events")
    reply = collector.post(
        "/v1/batch", {"batch": [track("Ping")], "writeKey": WRITE_KEY}, basic(OTHER_KEY)
    )
    assert reply.status == 200
    assert rows(collector, "SELECT COUNT(*) FROM events WHERE app = 'otherapp'") == [(1,)]
    reliability.figures["stored_under_claimed_app"] = rows(
        collector,
        "SELECT COUNT(*) FROM events WHERE message_id = ? AND app = 'otherapp'",
        forged["messageId"],
    )[0][0]
    assert_alive(collector)


HEADER_CASES = {
    "one 200 KB header": b"X-Big: " + b"a" * 200_000 + b"\r\n",
    "10 000 small headers": b"".join(b"X-%d: v\r\n" % n for n in range(10_000)),
    "a 100 KB request line": b"",
}


@pytest.mark.parametrize("name", list(HEADER_CASES))
def test_oversize_headers_are_refused_without_5xx(
    collector: RunningCollector, reliability: Record, name: str
) -> None:
    reliability.tried("abuse", f"oversize headers: {name}")
    path = b"/v1/batch"
    if name.startswith("a 100 KB request line"):
        path += b"?" + b"q" * 100_000
    request = b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    request += HEADER_CASES[name] + b"\r\n{}"
    answer = raw_exchange(collector.url, request)
    status = status_of(answer)
    reliability.figures["status"] = status or "connection closed"
    assert status < 500
    assert_alive(collector)
