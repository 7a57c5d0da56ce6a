"""``pigeon serve --config FILE`` with alert rules: events over HTTP, one alert per rule."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from pigeon._wire import uuid7
from tests.collector._running import ADMIN_TOKEN, WRITE_KEY, RunningCollector, basic
from tests.collector.alerts._helpers import Receiver
from tests.dashboard._data import ENF

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _track(event: str, install: str, version: str, **props: str) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "anonymousId": install,
        "messageId": uuid7(),
        "properties": props,
        "context": {"app": {"name": "argilla", "version": version}},
    }


def _config(tmp_path: Path, url: str) -> Path:
    file = tmp_path / "pigeon.toml"
    file.write_text(
        f"""
store = "sqlite:///{tmp_path}/data/pigeon.db"
write_key = ["{WRITE_KEY}"]
admin_token = "{ADMIN_TOKEN}"
min_installs = 3
rate_limit = 0

[alerts]
interval = 0.2

[[alerts.webhooks]]
name = "ops"
url = "{url}"

[[alerts.webhooks]]
name = "chat"
url = "{url}"
format = "slack"

[[alerts.rules]]
name = "new-errors"
kind = "new"
what = "error"
webhooks = ["ops"]

[[alerts.rules]]
name = "worse-release"
kind = "rate"
what = "error"
factor = 2
min_installs = 3
webhooks = ["chat"]
"""
    )
    return file


def _metric(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{re.escape(name)} (\S+)$", text, re.M))


def _poll(check: Any, deadline: float) -> Any:
    """``check()`` until it is truthy or the deadline passes (each try a real request)."""
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_sends_one_alert_per_rule(tmp_path: Path, workers: int) -> None:
    with Receiver([(200, {})]) as receiver:
        collector = RunningCollector(
            tmp_path / "run",
            ["--config", str(_config(tmp_path, receiver.url)), "--workers", str(workers)],
        )
        try:
            batch = [_track("ServerStarted", f"old{n}", "1.0.0") for n in range(3)]
            batch += [_track("ServerStarted", f"new{n}", "1.1.0") for n in range(3)]
            batch += [_track("ServerErrorFound", f"new{n}", "1.1.0", code=ENF) for n in range(3)]
            assert collector.post("/v1/batch", {"batch": batch}, basic(WRITE_KEY)).status == 200
            bodies = receiver.wait_for(2, timeout=60)
            assert len(bodies) == 2, collector.stderr
            deadline = time.monotonic() + 60

            def sent() -> list[Any] | None:
                reply = collector.request("GET", "/api/v1/alerts", headers=AUTH)
                alerts: list[Any] = reply.json["alerts"]
                statuses = [d["status"] for a in alerts for d in a["deliveries"]]
                return alerts if statuses == ["sent", "sent"] else None

            alerts = _poll(sent, deadline)
            assert alerts, collector.request("GET", "/api/v1/alerts", headers=AUTH).body
            # Several more evaluations pass: still nothing new is sent.
            runs = _metric(
                collector.request("GET", "/metrics", headers=AUTH).body.decode(),
                'pigeon_alert_runs_total{outcome="ok"}',
            )

            def later() -> str | None:
                text = collector.request("GET", "/metrics", headers=AUTH).body.decode()
                return (
                    text
                    if _metric(text, 'pigeon_alert_runs_total{outcome="ok"}') >= runs + 3
                    else None
                )

            metrics = _poll(later, deadline)
            assert metrics, "the alert loop stopped evaluating"
        finally:
            assert collector.stop() in (0, -15)
    assert len(receiver.bodies) == 2
    by_format = {("alert" in body): body for body in receiver.bodies}
    generic, slack = by_format[True]["alert"], by_format[False]
    assert (generic["rule"], generic["problem"]["code"], generic["numbers"]["installs"]) == (
        "new-errors",
        ENF,
        3,
    )
    assert "1.1.0" in slack["text"]
    assert ENF in slack["text"]
    assert sorted((a["rule"], a["version"]) for a in alerts) == [
        ("new-errors", None),
        ("worse-release", "1.1.0"),
    ]
    assert _metric(metrics, 'pigeon_alerts_total{rule="new-errors"}') == 1
    assert _metric(metrics, 'pigeon_alerts_total{rule="worse-release"}') == 1
    assert _metric(metrics, 'pigeon_alert_deliveries_total{outcome="sent",webhook="ops"}') == 1
    assert _metric(metrics, "pigeon_alert_deliveries_pending") == 0
    assert json.dumps(alerts).count(ENF) == 2
