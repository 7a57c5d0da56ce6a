"""The collector's Prometheus metrics (``GET /metrics``), with ``prometheus_client``.

One :class:`Metrics` per app. In one process its metrics live in a registry
of its own (two apps in one process, as in tests, count apart). When
``PROMETHEUS_MULTIPROC_DIR`` is set (``pigeon serve --workers N`` sets a
private one for its workers), ``prometheus_client`` keeps every process's
values in files there, and a scrape of any worker sums them all.

Labels take a few values fixed by the code (routes, statuses, refusal codes):
never a write key, an address, an install id or anything a client wrote.
Counters are bumped once per request or commit (``inc(n)``), never per event.
"""

from __future__ import annotations

import os
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["MULTIPROC_VARIABLE", "UNMATCHED_ROUTE", "Metrics"]

MULTIPROC_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"
"""Where ``prometheus_client`` keeps the values of several processes (read at its import)."""

UNMATCHED_ROUTE: Final = "unmatched"
"""The route label of a request that matched no route (a 404, a redirect)."""

_LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# SQLite groups at most 10,000 events per commit, ClickHouse up to its max_batch.
_SIZE_BUCKETS: Final = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 50_000, 100_000)


class Metrics:
    """Every metric of one collector app, and their exposition."""

    def __init__(self) -> None:
        """Create the metrics (in multi-process mode when ``PROMETHEUS_MULTIPROC_DIR`` is set)."""
        directory = os.environ.get(MULTIPROC_VARIABLE)
        self.multiprocess = bool(directory)
        self._scraped = CollectorRegistry()
        if directory:
            # The metrics write to files; a scrape reads every process's files.
            MultiProcessCollector(self._scraped, path=directory)  # type: ignore[no-untyped-call]
        owner = None if directory else self._scraped
        self.http_requests = Counter(
            "pigeon_http_requests",
            "HTTP requests answered, by route template and status code.",
            ["route", "status"],
            registry=owner,
        )
        self.events_accepted = Counter(
            "pigeon_events_accepted",
            "Events accepted and committed to the store (duplicates of stored ids included).",
            registry=owner,
        )
        self.events_refused = Counter(
            "pigeon_events_refused",
            "Events of a read request that were not stored: too_large (over 32 KiB), invalid "
            "(the catalog or the wire format refused it), store_unavailable (the commit failed).",
            ["reason"],
            registry=owner,
        )
        self.requests_refused = Counter(
            "pigeon_ingest_requests_refused",
            "Ingestion requests refused whole, by the code of their JSON error.",
            ["reason"],
            registry=owner,
        )
        self.rate_limited = Counter(
            "pigeon_rate_limited_requests",
            "Requests answered 429 by the per-address rate limiter.",
            registry=owner,
        )
        self.write_seconds = Histogram(
            "pigeon_store_write_seconds",
            "Time an ingestion request waited for the store to commit its events.",
            buckets=_LATENCY_BUCKETS,
            registry=owner,
        )
        self.commit_seconds = Histogram(
            "pigeon_store_commit_seconds",
            "Duration of one store commit of events (write lock wait included).",
            buckets=_LATENCY_BUCKETS,
            registry=owner,
        )
        self.commit_events = Histogram(
            "pigeon_store_commit_events",
            "Events per store commit (concurrent requests share one commit).",
            buckets=_SIZE_BUCKETS,
            registry=owner,
        )
        self.queue_events = Gauge(
            "pigeon_writer_queue_events",
            "Events handed to the store's writer and not committed yet.",
            multiprocess_mode="livesum",
            registry=owner,
        )
        self.retention_runs = Counter(
            "pigeon_retention_runs",
            "Retention runs, by outcome (ok or failed).",
            ["outcome"],
            registry=owner,
        )
        self.retention_deleted = Counter(
            "pigeon_retention_deleted_events",
            "Raw events deleted by retention.",
            registry=owner,
        )
        self.alert_runs = Counter(
            "pigeon_alert_runs",
            "Evaluations of the alert rules, by outcome (ok or failed).",
            ["outcome"],
            registry=owner,
        )
        self.alert_run_seconds = Histogram(
            "pigeon_alert_run_seconds",
            "Duration of one evaluation of every alert rule.",
            buckets=_LATENCY_BUCKETS,
            registry=owner,
        )
        self.alerts_raised = Counter(
            "pigeon_alerts",
            "Alerts raised (each once), by rule name.",
            ["rule"],
            registry=owner,
        )
        self.alert_deliveries = Counter(
            "pigeon_alert_deliveries",
            "Attempts to deliver an alert, by webhook name and outcome (sent, retry, failed).",
            ["webhook", "outcome"],
            registry=owner,
        )
        self.alert_deliveries_pending = Gauge(
            "pigeon_alert_deliveries_pending",
            "Alert deliveries not sent yet (waiting for their first try or a retry).",
            multiprocess_mode="livemax",
            registry=owner,
        )
        self._answered: dict[tuple[str, int], Counter] = {}

    def count_response(self, route: str, status: int) -> None:
        """Count one answered request (the label pairs are few: their counters are kept)."""
        counter = self._answered.get((route, status))
        if counter is None:
            counter = self._answered[route, status] = self.http_requests.labels(route, str(status))
        counter.inc()

    def observe_commit(self, events: int, seconds: float) -> None:
        """Record one commit of ``events`` events that took ``seconds`` (any thread)."""
        self.commit_events.observe(events)
        self.commit_seconds.observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus's text format, and its content type."""
        return generate_latest(self._scraped), CONTENT_TYPE_PLAIN_0_0_4
