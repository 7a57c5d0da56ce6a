"""``pigeon serve --workers N``: several collector processes on one port and one store."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import httpx

from tests.collector._running import (
    ADMIN_TOKEN,
    WRITE_KEY,
    RunningCollector,
    basic,
    request,
    segment_batch,
    stored_message_ids,
    worker_pids,
)
from tests.dashboard._client import csrf_of
from tests.demo.processes import wait_for


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped has stopped)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return status != "Z"


def start(tmp_path: Path, workers: int = 2) -> tuple[RunningCollector, Path]:
    db = tmp_path / "data" / "pigeon.db"
    collector = RunningCollector.with_store(
        tmp_path / "run", f"sqlite:///{db}", "--rate-limit", "0", "--workers", str(workers)
    )
    return collector, db


def test_workers_share_one_port_and_store_every_event_once(tmp_path: Path) -> None:
    collector, db = start(tmp_path)
    try:
        listening = [line for line in collector.stdout.splitlines() if "listening on" in line]
        assert len(listening) == 1
        assert "2 worker processes" in listening[0]
        assert len(worker_pids(collector)) == 2
        sent: list[tuple[list[str], bytes]] = [segment_batch(f"i{n}", 20) for n in range(60)]
        replies: list[int] = []

        def post(part: list[tuple[list[str], bytes]]) -> None:
            for _, body in part:  # a new connection per request: spread over the workers
                reply = request(collector.url, "POST", "/v1/batch", body, headers=basic(WRITE_KEY))
                replies.append(reply.json["accepted"])

        threads = [threading.Thread(target=post, args=(sent[n::6],)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert replies.count(20) == 60
        # Retried batches (a lost answer): stored once, whichever worker takes them.
        for _, body in sent[:10]:
            assert collector.request("POST", "/v1/batch", body, basic(WRITE_KEY)).status == 200
    finally:
        pids = worker_pids(collector)
        code = collector.stop()
    assert code == 0
    assert "stopped: every acknowledged event is committed" in collector.stdout
    assert not [pid for pid in pids if alive(pid)]
    stored = stored_message_ids(db)
    assert sorted(stored) == sorted(mid for ids, _ in sent for mid in ids)


def test_a_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    collector, _ = start(tmp_path)
    try:
        first, second = worker_pids(collector)
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: "is serving again" in collector.stderr, 30, "a new worker")
        assert "exited with -9: starting a new one" in collector.stderr
        replacement = [pid for pid in worker_pids(collector) if pid != second]
        assert len(replacement) == 1
        assert first not in replacement
        for n in range(8):
            _, body = segment_batch(f"after-{n}", 5)
            assert collector.request("POST", "/v1/batch", body, basic(WRITE_KEY)).status == 200
    finally:
        assert collector.stop() == 0


def test_workers_stop_by_themselves_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    collector, db = start(tmp_path)
    pids = worker_pids(collector)
    ids, body = segment_batch("before", 30)
    assert collector.request("POST", "/v1/batch", body, basic(WRITE_KEY)).status == 200
    collector.process.send_signal(signal.SIGKILL)
    collector.process.wait(timeout=30)
    wait_for(lambda: not any(alive(pid) for pid in pids), 30, "the orphaned workers to stop")
    assert set(ids) <= set(stored_message_ids(db))


def test_a_dashboard_logout_holds_in_every_worker(tmp_path: Path) -> None:
    collector, _ = start(tmp_path)
    try:
        with httpx.Client(base_url=collector.url, timeout=30) as browser:
            form = {"csrf": csrf_of(browser.get("/")), "token": ADMIN_TOKEN}
            assert browser.post("/login", data=form).status_code == 303
            session = browser.cookies["pigeon_session"]
            logout = {"csrf": csrf_of(browser.get("/"))}
            assert browser.post("/logout", data=logout).status_code == 303
        # The stolen cookie, replayed on new connections (spread over both workers).
        for _ in range(12):
            with httpx.Client(
                base_url=collector.url, cookies={"pigeon_session": session}, timeout=30
            ) as replay:
                assert replay.get("/api/v1/stats/overview").status_code == 401
    finally:
        assert collector.stop() == 0
