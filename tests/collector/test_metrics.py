"""``GET /metrics``: Prometheus counts that match the traffic, with one process and with workers."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pigeon._wire import uuid7
from tests.collector._running import (
    ADMIN_TOKEN,
    WRITE_KEY,
    RunningCollector,
    basic,
    request,
    segment_batch,
    worker_pids,
)
from tests.demo.processes import wait_for

BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape: ``(name, labels) -> value``."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value, 0 when the scrape has no such sample."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def metrics_url(collector: RunningCollector) -> str:
    """The ``--metrics-address`` listener's base URL, as ``pigeon serve`` printed it."""
    for line in collector.stdout.splitlines():
        if "metrics on http://" in line:
            return line.split("metrics on ", 1)[1].split()[0].removesuffix("/metrics")
    raise AssertionError(f"no metrics line in {collector.stdout!r}")


def scrape(base_url: str, headers: dict[str, str] | None = None) -> Samples:
    reply = request(base_url, "GET", "/metrics", headers=headers)
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(reply.body.decode())


def message(install: str, **properties: object) -> dict[str, object]:
    return {
        "type": "track",
        "event": "LogRecordsRequested",
        "anonymousId": install,
        "messageId": uuid7(),
        "properties": {"task": "Text2Text", "records": 1, **properties},
    }


def post(collector: RunningCollector, body: bytes, source: str, key: str = WRITE_KEY) -> int:
    return collector.request("POST", "/v1/batch", body, basic(key), source=source).status


def start(tmp_path: Path, workers: int, *extra: str) -> RunningCollector:
    """A collector whose temporary files (the workers' metrics) go under ``tmp_path / "tmp"``."""
    db = tmp_path / "data" / "pigeon.db"
    (tmp_path / "tmp").mkdir()
    return RunningCollector.with_store(
        tmp_path / "run",
        f"sqlite:///{db}",
        "--workers",
        str(workers),
        *extra,
        env={"TMPDIR": str(tmp_path / "tmp")},
    )


def metrics_dirs(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "tmp").glob("pigeon-metrics-*"))


@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_count_the_traffic_sent(tmp_path: Path, workers: int) -> None:
    # 0.5 requests per second, bursts of 10, per address (per worker with --workers).
    collector = start(tmp_path, workers, "--rate-limit", "0.5", "--metrics-address", "127.0.0.1:0")
    try:
        ok = [post(collector, segment_batch(f"a{n}", 5)[1], "127.0.0.2") for n in range(3)]
        assert ok == [200, 200, 200]
        mixed = [message("b"), message("b"), message("b"), message("b", pad="x" * 40_000)]
        mixed[2]["event"] = "NotInTheCatalog"
        reply = collector.request(
            "POST", "/v1/batch", json.dumps({"batch": mixed}).encode(), basic(WRITE_KEY),
            source="127.0.0.3",
        )  # fmt: skip
        assert (reply.status, reply.json["accepted"], len(reply.json["rejected"])) == (200, 2, 2)
        invalid = json.dumps({"batch": [message("c", records=-1), message("c", task="No")]})
        assert post(collector, invalid.encode(), "127.0.0.4") == 400
        assert post(collector, segment_batch("d", 1)[1], "127.0.0.4", key="wrong-key") == 401
        assert post(collector, b"{not json", "127.0.0.4") == 400
        forget = collector.request(
            "DELETE", "/v1/installs/some-install", headers=basic(WRITE_KEY), source="127.0.0.5"
        )
        assert forget.status == 200
        # The burst is 10 per worker: a 429 comes within 60 requests in any spread.
        limited = {200: 0, 429: 0}
        for n in range(60):
            limited[post(collector, segment_batch(f"e{n}", 1)[1], "127.0.0.6")] += 1
            if limited[429] >= 2:
                break
        assert limited[429] == 2
        assert collector.request("GET", "/healthz").status == 200
        assert collector.request("GET", "/healthz").status == 200
        assert collector.request("GET", "/no-such-page").status == 404

        accepted = 15 + 2 + limited[200]
        batch_200 = 3 + 1 + limited[200]
        # Every scrape, whichever worker answers it, holds the counts of all of them.
        for _ in range(4):
            for samples in (scrape(collector.url, BEARER), scrape(metrics_url(collector))):
                assert value(samples, "pigeon_events_accepted_total") == accepted
                assert value(samples, "pigeon_events_refused_total", reason="invalid") == 3
                assert value(samples, "pigeon_events_refused_total", reason="too_large") == 1
                refused = "pigeon_ingest_requests_refused_total"
                assert value(samples, refused, reason="invalid_events") == 1
                assert value(samples, refused, reason="invalid_json") == 1
                assert value(samples, refused, reason="unauthorized") == 1
                assert value(samples, refused, reason="rate_limited") == 2
                assert value(samples, "pigeon_rate_limited_requests_total") == 2
                http = "pigeon_http_requests_total"
                assert value(samples, http, route="/v1/batch", status="200") == batch_200
                assert value(samples, http, route="/v1/batch", status="400") == 2
                assert value(samples, http, route="/v1/batch", status="401") == 1
                assert value(samples, http, route="/v1/batch", status="429") == 2
                forgets = value(samples, http, route="/v1/installs/{anonymous_id}", status="200")
                assert forgets == 1
                assert value(samples, http, route="/healthz", status="200") == 2
                assert value(samples, http, route="unmatched", status="404") == 1
                # Each request with events waited for one write; commits hold them all.
                assert value(samples, "pigeon_store_write_seconds_count") == batch_200
                assert value(samples, "pigeon_store_commit_events_sum") == accepted
                assert 1 <= value(samples, "pigeon_store_commit_events_count") <= batch_200
                assert value(samples, "pigeon_writer_queue_events") == 0
                # No address, write key or install id in any label.
                labels = {v for _, pairs in samples for _, v in pairs}
                assert not [v for v in labels if "127.0.0" in v or "some-install" in v]
                assert WRITE_KEY not in labels
        # Retention runs at start in one worker; the task may still be finishing.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            runs = value(scrape(collector.url, BEARER), "pigeon_retention_runs_total", outcome="ok")
            if runs:
                break
        assert runs == 1
        if workers > 1:  # in a private directory, one file per kind and worker
            (directory,) = metrics_dirs(tmp_path)
            assert {p.name for p in directory.iterdir()} >= {
                f"counter_{pid}.db" for pid in worker_pids(collector)
            }
        else:
            assert not metrics_dirs(tmp_path)
    finally:
        code = collector.stop()
    assert code == 0 or workers == 1  # one process re-raises the SIGTERM it handled
    assert not metrics_dirs(tmp_path)


def test_counts_of_a_dead_worker_stay_in_the_sums(tmp_path: Path) -> None:
    collector = start(tmp_path, 2, "--rate-limit", "0")
    try:
        for n in range(10):  # new connections: spread over both workers
            assert post(collector, segment_batch(f"before-{n}", 5)[1], "127.0.0.2") == 200
        first, _ = worker_pids(collector)
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: "is serving again" in collector.stderr, 30, "a new worker")
        assert post(collector, segment_batch("after", 5)[1], "127.0.0.2") == 200
        for _ in range(4):
            samples = scrape(collector.url, BEARER)
            assert value(samples, "pigeon_events_accepted_total") == 55
            assert value(samples, "pigeon_writer_queue_events") == 0
    finally:
        assert collector.stop() == 0
    assert not metrics_dirs(tmp_path)


def test_metrics_need_the_token_on_the_main_port_only(tmp_path: Path) -> None:
    collector = start(tmp_path, 1, "--metrics-address", "127.0.0.1:0")
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}, basic(ADMIN_TOKEN)):
            reply = collector.request("GET", "/metrics", headers=headers)
            assert reply.status == 401
            assert reply.headers["content-type"] == "application/json"
            assert reply.json["code"] == "unauthorized"
        assert value(scrape(collector.url, BEARER), "pigeon_events_accepted_total") == 0
        listener = metrics_url(collector)
        assert listener != collector.url
        samples = scrape(listener)
        http = "pigeon_http_requests_total"
        assert value(samples, http, route="/metrics", status="401") == 3
        # The token-free listener serves nothing but GET /metrics.
        for method, path in (("GET", "/healthz"), ("GET", "/api/v1/stats"), ("POST", "/v1/batch")):
            reply = request(
                listener, method, path, segment_batch("x", 1)[1], headers=basic(WRITE_KEY)
            )
            assert (reply.status, reply.json["code"]) == (404, "not_found")
        reply = request(listener, "POST", "/metrics", b"")
        assert (reply.status, reply.json["code"]) == (405, "method_not_allowed")
        assert value(scrape(listener), "pigeon_events_accepted_total") == 0
    finally:
        collector.stop()


def test_without_a_metrics_address_there_is_one_listener(tmp_path: Path) -> None:
    collector = start(tmp_path, 1)
    try:
        assert "metrics on" not in collector.stdout
        assert collector.request("GET", "/metrics").status == 401
        assert "pigeon_http_requests_total" in {name for name, _ in scrape(collector.url, BEARER)}
    finally:
        collector.stop()
