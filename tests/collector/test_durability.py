"""No acknowledged event is ever lost: SIGKILL under load, SIGTERM with a request in flight."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.collector._running import (
    WRITE_KEY,
    RunningCollector,
    basic,
    process_tree,
    request,
    segment_batch,
    stored_message_ids,
)
from tests.collector.conftest import SyncStore


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigkill_during_load_loses_no_acknowledged_event(tmp_path: Path, workers: str) -> None:
    db = tmp_path / "data" / "pigeon.db"
    url = f"sqlite:///{db}"
    options = ("--rate-limit", "0", "--workers", workers)
    collector = RunningCollector.with_store(tmp_path / "first", url, *options)
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(worker: int) -> None:
        while not stop.is_set():
            ids, body = segment_batch(f"install-{worker}", 50)
            try:
                reply = request(collector.url, "POST", "/v1/batch", body, headers=basic(WRITE_KEY))
            except (OSError, http.client.HTTPException):
                # The collector is gone (maybe in the middle of an answer, IncompleteRead):
                # this batch was never acknowledged.
                continue
            if reply.status == 200:
                with lock:
                    acked.extend(ids)

    loaders = [threading.Thread(target=load, args=(n,)) for n in range(6)]
    for loader in loaders:
        loader.start()
    deadline = time.monotonic() + 60
    while len(acked) < 3000 and time.monotonic() < deadline:  # well into the load
        time.sleep(0.01)
    for pid in process_tree(collector.process.pid):  # the supervisor and its workers at once
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    collector.process.wait(timeout=30)
    stop.set()
    for loader in loaders:
        loader.join(timeout=60)
    assert len(acked) >= 3000
    # Restart on the same store: it recovers the WAL and holds every acknowledged event.
    restarted = RunningCollector.with_store(tmp_path / "second", url, *options)
    try:
        reader = SyncStore(url)
        try:
            assert reader.count() >= len(acked)
        finally:
            reader.close()
        missing = set(acked) - set(stored_message_ids(db))
        assert not missing, f"{len(missing)} acknowledged events lost"
        _, body = segment_batch("after-restart", 10)
        assert restarted.request("POST", "/v1/batch", body, basic(WRITE_KEY)).json["accepted"] == 10
    finally:
        restarted.stop()


def test_sigterm_answers_the_request_in_flight_then_stops(tmp_path: Path) -> None:
    db = tmp_path / "data" / "pigeon.db"
    collector = RunningCollector.with_store(tmp_path, f"sqlite:///{db}")
    host, port = collector.url.removeprefix("http://").rsplit(":", 1)
    ids, body = segment_batch("in-flight", 25)
    head = (
        f"POST /v1/batch HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Authorization: {basic(WRITE_KEY)['Authorization']}\r\nContent-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(head.encode() + body[:100])
        # "100 Continue" proves the collector is now reading this request's body.
        assert conn.recv(1024).startswith(b"HTTP/1.1 100")
        collector.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until it stopped accepting connections
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
            except OSError:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the collector kept accepting connections after SIGTERM")
        # A slow client: the rest of the body comes well after the stop began. This is
        # the scenario under test, not a wait for a race: the drain must wait for it.
        time.sleep(1.5)
        conn.sendall(body[100:])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 200"), answer
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1]) == {
        "success": True,
        "accepted": 25,
        "rejected": [],
    }
    assert collector.process.wait(timeout=60) in (0, -signal.SIGTERM)
    assert "stopped: every acknowledged event is committed" in collector.stdout
    assert "Traceback" not in collector.stderr
    assert set(ids) <= set(stored_message_ids(db))
    assert (
        not db.with_name("pigeon.db-wal").exists()
        or db.with_name("pigeon.db-wal").stat().st_size == 0
    )
