"""GET /api/v1/alerts, and a failing evaluation: logged without data, counted, retried."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from fastapi import FastAPI

from pigeon.collector._metrics import Metrics
from pigeon.collector._read_api import read_router
from pigeon.collector.alerts import Alerter, AlertState
from pigeon.collector.storage import StoreError, open_store
from tests.collector.alerts._helpers import NOW_MS, config, crash, rule
from tests.dashboard._client import ReadClient
from tests.dashboard._data import ADMIN_TOKEN, AUTH, TODAY, fill


def _client(state: AlertState | None, configured: bool) -> ReadClient:
    app = FastAPI()
    alerts = (lambda: state) if configured else None
    app.include_router(read_router(lambda: None, ADMIN_TOKEN, 3, alerts=alerts))  # type: ignore[arg-type, return-value]
    return ReadClient(app, "http://testserver")


def test_the_history_needs_the_token_and_lists_newest_first(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/store/p.db")
    fill(store, [crash(f"n{i}", TODAY) for i in range(3)])
    rules = [rule("a", "new", "crash"), rule("b", "new", "crash")]
    alerter = Alerter(config(tmp_path / "alerts.db", rules), store, 3, Metrics())
    asyncio.run(alerter.evaluate(NOW_MS))
    asyncio.run(store.close())
    client = _client(alerter.state, configured=True)
    try:
        assert client.get("/api/v1/alerts").status_code == 401
        body = client.get("/api/v1/alerts", headers=AUTH).json()
    finally:
        client.close()
    assert body["configured"] is True
    assert [a["rule"] for a in body["alerts"]] == ["b", "a"]
    assert body["alerts"][0]["deliveries"] == [
        {"webhook": "ops", "status": "pending", "attempts": 0, "last_error": None, "time_ms": None}
    ]
    assert body["alerts"][0]["time_ms"] == NOW_MS


def test_without_alerts_configured_the_history_is_empty() -> None:
    client = _client(None, configured=False)
    try:
        assert client.get("/api/v1/alerts", headers=AUTH).json() == {
            "configured": False,
            "alerts": [],
        }
    finally:
        client.close()


class _BrokenStore:
    async def apps(self) -> list[str]:
        raise StoreError("cannot reach secret-host with app secret-app")


def test_a_failing_evaluation_is_logged_without_its_message_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    alerts = config(tmp_path / "alerts.db", [rule("a", "new", "crash")])
    alerter = Alerter(alerts, _BrokenStore(), 3, metrics)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="pigeon"):
        asyncio.run(alerter.run_once())
        asyncio.run(alerter.run_once())
    assert "StoreError" in caplog.text
    assert "secret" not in caplog.text
    text = metrics.exposition()[0].decode()
    assert 'pigeon_alert_runs_total{outcome="failed"} 2.0' in text
    assert "pigeon_alert_run_seconds_count 2.0" in text
