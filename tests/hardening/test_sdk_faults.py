"""The SDK inside a host, under every way its collector can fail.

For each failure mode a host thread tracks events while the collector fails:
``track()`` stays as fast as with a healthy collector, nothing raises, and
once the collector is back every event arrives exactly once (the failure
lasts far less than the SDK's long back-off, see docs/sdk.md).
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import pigeon
from pigeon._sender import Sender
from tests.collector._running import WRITE_KEY, RunningCollector
from tests.hardening._certs import make_certificates
from tests.hardening._front import FaultyFront
from tests.hardening._probe import wait_until
from tests.hardening.conftest import Record
from tests.sdk.conftest import QUICK

EVENTS = 300
FAILING_SECONDS = 1.5
MODES = ["refused", "blackhole", "slow", "500", "429", "garbage", "tls-untrusted"]


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCollector]:
    workdir = tmp_path_factory.mktemp("sdk-faults")
    running = RunningCollector.with_store(
        workdir, f"sqlite:///{workdir / 'data' / 'pigeon.db'}", "--rate-limit", "0"
    )
    yield running
    running.stop()


def stored(collector: RunningCollector, install: str) -> tuple[int, int]:
    path = collector.workdir / "data" / "pigeon.db"
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        total, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT message_id) FROM events WHERE anonymous_id = ?",
            (install,),
        ).fetchone()
        return int(total), int(distinct)
    finally:
        conn.close()


@pytest.mark.parametrize("mode", MODES)
def test_the_host_keeps_its_latency_and_everything_arrives_after_recovery(
    collector: RunningCollector,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    reliability: Record,
    mode: str,
) -> None:
    reliability.tried("sdk", f"collector failure mode '{mode}' for {FAILING_SECONDS} s, then back")
    front = FaultyFront(collector.url)
    scheme = "http"
    if mode == "tls-untrusted":
        certs = make_certificates(tmp_path / "certs")
        monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))  # trust the test CA only
        front.tls = certs.untrusted
        scheme = "https"
        front.set_mode("ok")
    else:
        front.delay = 3.0
        front.set_mode(mode)
    client = pigeon.Client(
        "argilla", "1.29.0", endpoint=front.url(scheme), write_key=WRITE_KEY,
        home=tmp_path / "home", environ={},
    )  # fmt: skip
    sender = client._sender
    assert isinstance(sender, Sender)
    sender.policy = QUICK._replace(timeout=1.0)
    try:
        latencies: list[float] = []
        failing_until = time.monotonic() + FAILING_SECONDS
        for n in range(EVENTS):
            began = time.perf_counter()
            client.track("LogRecordsRequested", {"task": "Text2Text", "records": n})
            latencies.append(time.perf_counter() - began)
            time.sleep(FAILING_SECONDS / EVENTS)  # a host producing events at its own pace
        wait_until(lambda: time.monotonic() >= failing_until, 10, "the failure window")
        failures = {k: v for k, v in client.counters.items() if k.startswith("failed_")}
        if mode == "tls-untrusted":
            front.tls = certs.trusted
        else:
            front.set_mode("ok")
        recovered_at = time.monotonic()
        delivered = client.flush(timeout=30)
        recovery = time.monotonic() - recovered_at
    finally:
        client.shutdown(timeout=0.0)
        front.close()
    latencies.sort()
    install = client.anonymous_id
    assert install is not None
    total, distinct = stored(collector, install)
    reliability.figures.update(
        {
            "track_p50_us": round(statistics.median(latencies) * 1e6, 1),
            "track_max_us": round(latencies[-1] * 1e6, 1),
            "failed_attempts": sum(failures.values()),
            "recovery_s": round(recovery, 2),
            "stored": total,
        }
    )
    reliability.figures["failure_kinds"] = "/".join(sorted(failures))
    assert failures, client.counters
    if mode == "tls-untrusted":
        assert set(failures) == {"failed_tls"}, failures
    assert delivered, client.counters
    assert (total, distinct) == (EVENTS, EVENTS)
    # A call that waited on the network would take the attempt timeout (1 s) against the
    # blackhole; queueing takes microseconds (the bound leaves room for a loaded CI machine).
    assert latencies[-1] < 0.5
