"""The collector under faults: SIGKILL and restart during load, a full disk under the store.

Clients behave like the SDK: a batch that was not acknowledged is sent again
with the same message ids. Afterwards every acknowledged id is in the store,
and the rollups count each stored event once.
"""

from __future__ import annotations

import http.client
import resource
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.collector._running import (
    WRITE_KEY,
    RunningCollector,
    basic,
    request,
    segment_batch,
    stored_message_ids,
)
from tests.collector.conftest import SyncStore
from tests.hardening._probe import wait_until
from tests.hardening.conftest import Record

KILLS = 10
BATCH = 40


def counted_events(url: str) -> int:
    today = int(time.time() // 86400)
    reader = SyncStore(url)
    try:
        return sum(row.events for row in reader.totals(None, "all", today - 2, today + 2))
    finally:
        reader.close()


class Senders:
    """Threads that send batches to whichever collector is current, retrying until acknowledged."""

    def __init__(self, workers: int) -> None:
        self.url = ""
        self.acked: list[str] = []
        self.attempts = 0
        self.failures = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(workers)
        ]

    def start(self, url: str) -> None:
        self.url = url
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self, worker: int) -> None:
        pending: tuple[list[str], bytes] | None = None
        while not self._stop.is_set():
            if pending is None:
                pending = segment_batch(f"install-{worker}", BATCH)
            ids, body = pending
            self.attempts += 1
            try:
                reply = request(self.url, "POST", "/v1/batch", body, headers=basic(WRITE_KEY))
            except (OSError, http.client.HTTPException):
                self.failures += 1
                time.sleep(0.02)  # the collector is down: retry the same ids shortly
                continue
            if reply.status == 200:
                with self._lock:
                    self.acked.extend(ids)
                pending = None
            else:
                self.failures += 1


def more_acked(senders: Senders, count: int) -> Callable[[], bool]:
    """A condition: ``count`` more events acknowledged than now."""
    target = len(senders.acked) + count
    return lambda: len(senders.acked) >= target


def test_repeated_sigkill_under_load_loses_and_duplicates_nothing(
    tmp_path: Path, reliability: Record
) -> None:
    reliability.tried(
        "faults", f"collector SIGKILLed and restarted {KILLS} times under load from 4 senders"
    )
    db = tmp_path / "data" / "pigeon.db"
    url = f"sqlite:///{db}"
    senders = Senders(4)
    collector = RunningCollector.with_store(tmp_path / "run0", url, "--rate-limit", "0")
    senders.start(collector.url)
    started = time.monotonic()
    try:
        for kill in range(KILLS):
            wait_until(more_acked(senders, 400), 60, "acknowledged batches")
            collector.process.send_signal(signal.SIGKILL)
            collector.process.wait(timeout=30)
            collector = RunningCollector.with_store(
                tmp_path / f"run{kill + 1}", url, "--rate-limit", "0"
            )
            senders.url = collector.url
        wait_until(more_acked(senders, 400), 60, "batches after the last restart")
    finally:
        senders.stop()
        collector.stop()
    ids = stored_message_ids(db)
    missing = set(senders.acked) - set(ids)
    reliability.figures.update(
        {
            "kills": KILLS,
            "acknowledged": len(senders.acked),
            "stored": len(ids),
            "failed_attempts": senders.failures,
            "seconds": round(time.monotonic() - started, 1),
        }
    )
    assert not missing, f"{len(missing)} acknowledged events lost"
    assert len(ids) == len(set(ids))
    assert counted_events(url) == len(ids)  # each stored event counted once in the rollups


def test_a_full_disk_is_a_503_and_nothing_acknowledged_is_lost(
    tmp_path: Path, reliability: Record
) -> None:
    reliability.tried(
        "faults", "disk full under the store (RLIMIT_FSIZE on the collector), then space returns"
    )
    db = tmp_path / "data" / "pigeon.db"
    url = f"sqlite:///{db}"
    collector = RunningCollector.with_store(tmp_path / "run", url, "--rate-limit", "0")
    acked: list[str] = []
    refused: list[tuple[list[str], bytes]] = []
    statuses: dict[int, int] = {}
    try:
        for n in range(3):
            ids, body = segment_batch(f"before-{n}", BATCH)
            assert collector.request("POST", "/v1/batch", body, basic(WRITE_KEY)).status == 200
            acked.extend(ids)
        # Python ignores SIGXFSZ: writes past the limit fail with EFBIG, as on a full disk.
        sizes = [p.stat().st_size for p in db.parent.iterdir()]
        limit = max(sizes) + 4096
        unlimited = resource.RLIM_INFINITY
        resource.prlimit(collector.process.pid, resource.RLIMIT_FSIZE, (limit, unlimited))
        for n in range(60):
            ids, body = segment_batch(f"full-{n}", 200)
            reply = collector.request("POST", "/v1/batch", body, basic(WRITE_KEY))
            statuses[reply.status] = statuses.get(reply.status, 0) + 1
            if reply.status == 200:
                acked.extend(ids)
            else:
                assert reply.status == 503, reply.body
                assert reply.headers["content-type"] == "application/json"
                assert reply.json["code"] == "store_unavailable"
                assert int(reply.headers["retry-after"]) >= 1
                refused.append((ids, body))
        assert refused, f"the store never hit the limit: {statuses}"
        assert collector.request("GET", "/healthz").status == 200
        resource.prlimit(collector.process.pid, resource.RLIMIT_FSIZE, (unlimited, unlimited))
        recovered = 0
        deadline = time.monotonic() + 30
        for ids, body in refused:  # the SDK retries what was refused, with the same ids
            while True:
                reply = collector.request("POST", "/v1/batch", body, basic(WRITE_KEY))
                if reply.status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)  # Retry-After, shortened for the test
            assert reply.status == 200, f"no recovery once space returned: {reply.body!r}"
            acked.extend(ids)
            recovered += 1
    finally:
        collector.stop()
    ids = stored_message_ids(db)
    reliability.figures.update(
        {"accepted_while_full": statuses.get(200, 0), "refused_503": len(refused),
         "recovered": recovered, "stored": len(ids)}
    )  # fmt: skip
    assert not set(acked) - set(ids)
    assert counted_events(url) == len(ids)
