"""Slow and greedy clients: slow bodies, idle half-open requests, floods from one address."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from pigeon.collector._body import BODY_TIMEOUT_SECONDS
from tests.collector._running import WRITE_KEY, RunningCollector, basic
from tests.collector.test_ingest import assert_alive, assert_error, track
from tests.hardening._probe import host_port, read_answer, rss_bytes, status_of
from tests.hardening.conftest import Record


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCollector]:
    workdir = tmp_path_factory.mktemp("slow")
    running = RunningCollector.with_store(
        workdir, f"sqlite:///{workdir / 'data' / 'pigeon.db'}", "--rate-limit", "0"
    )
    yield running
    running.stop()


def test_a_slow_body_is_cut_off_at_the_deadline(
    collector: RunningCollector, reliability: Record
) -> None:
    reliability.tried("abuse", "slowloris body: 1 byte every 0.5 s of a 2 KB batch")
    body = json.dumps({"batch": [track()]}).encode()
    head = (
        b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + b"Authorization: "
        + basic(WRITE_KEY)["Authorization"].encode()
        + b"\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    started = time.monotonic()
    answer = b""
    with socket.create_connection(host_port(collector.url), timeout=5) as sock:
        sock.sendall(head)
        for byte in body:
            if time.monotonic() - started > 3 * BODY_TIMEOUT_SECONDS:
                break
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break  # the collector closed the connection: its answer is waiting
            sock.settimeout(0.5)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            if answer:
                break
        sock.settimeout(5)
        answer = read_answer(sock, answer)
    elapsed = time.monotonic() - started
    reliability.figures.update({"answered_after_s": round(elapsed, 1), "status": status_of(answer)})
    assert status_of(answer) == 408, answer[:300]
    assert b'"request_timeout"' in answer
    assert elapsed < BODY_TIMEOUT_SECONDS + 5
    assert_alive(collector)


def test_idle_half_open_requests_do_not_block_others(
    collector: RunningCollector, reliability: Record
) -> None:
    reliability.tried("abuse", "300 connections holding half-sent headers while others ingest")
    held: list[socket.socket] = []
    try:
        for _ in range(300):
            sock = socket.create_connection(host_port(collector.url), timeout=5)
            sock.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            held.append(sock)
        before = rss_bytes(collector.process.pid)
        started = time.monotonic()
        for _ in range(20):
            reply = collector.post("/v1/batch", {"batch": [track()]}, basic(WRITE_KEY))
            assert reply.status == 200, reply.body
        took = time.monotonic() - started
        grown = rss_bytes(collector.process.pid) - before
    finally:
        for sock in held:
            sock.close()
    reliability.figures.update(
        {
            "held_connections": len(held),
            "20_batches_s": round(took, 2),
            "rss_growth_mb": grown / 2**20,
        }
    )
    reliability.note = (
        "uvicorn has no timeout for the header phase: a connection that never finishes its "
        "headers is held until the client goes away (bodies are cut at "
        f"{BODY_TIMEOUT_SECONDS:g} s). Behind the public internet, put the collector behind a "
        "reverse proxy with a header timeout (nginx client_header_timeout)."
    )
    assert_alive(collector)


def test_a_flood_from_one_address_gets_429_and_memory_stays_flat(
    tmp_path_factory: pytest.TempPathFactory, reliability: Record
) -> None:
    reliability.tried("abuse", "a flood of 3000 requests from one address (rate limit 20/s)")
    workdir = tmp_path_factory.mktemp("flood")
    running = RunningCollector.with_store(
        workdir, f"sqlite:///{workdir / 'data' / 'p.db'}", "--rate-limit", "20"
    )
    try:
        body = json.dumps({"batch": [track()]}).encode()
        headers = {**basic(WRITE_KEY), "Content-Type": "application/json"}
        statuses: dict[int, int] = {}
        samples: list[int] = []
        limited = None
        for n in range(3000):
            reply = running.request("POST", "/v1/batch", body, headers)
            statuses[reply.status] = statuses.get(reply.status, 0) + 1
            if reply.status == 429:
                limited = reply
            if n % 300 == 0:
                samples.append(rss_bytes(running.process.pid))
        assert limited is not None
        assert_error(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1
        assert set(statuses) <= {200, 429}, statuses
        growth = samples[-1] - samples[1]
        reliability.figures.update(
            {
                "200": statuses.get(200, 0),
                "429": statuses.get(429, 0),
                "rss_first_mb": samples[1] / 2**20,
                "rss_last_mb": samples[-1] / 2**20,
            }
        )
        assert statuses[429] > statuses[200]
        assert growth < 8 * 2**20, samples
        assert_alive(running)
    finally:
        running.stop()
