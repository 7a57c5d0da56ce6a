"""Delivery to a real local webhook receiver: retries, Retry-After, refusals, timeouts, formats."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pigeon.collector._metrics import Metrics
from pigeon.collector.alerts import Alert, Alerter, AlertsConfig, Webhook, body_of, retry_delay
from pigeon.collector.alerts._delivery import MAX_ATTEMPTS, text_of
from pigeon.collector.storage import open_store
from tests.collector.alerts._helpers import NOW_MS, Receiver, config, rule, state_rows
from tests.dashboard._data import ENF

ALERT = Alert(
    "r|argilla|x",
    "r",
    "new",
    "error",
    "argilla",
    {"code": ENF, "type": "<Dataset>"},
    None,
    {"events": 7, "installs": 5, "days": 2, "look_back_days": 30},
)


def _alerter(tmp_path: Path, url: str, *, timeout: float = 5.0, form: str = "json") -> Alerter:
    alerts = config(tmp_path / "alerts.db", [rule("r", "new", "error")])
    hooks = {"ops": Webhook("ops", url, form, timeout)}  # type: ignore[arg-type]
    alerts = AlertsConfig(alerts.state, alerts.interval, hooks, alerts.rules)
    store = open_store(f"sqlite:///{tmp_path}/store/p.db")
    alerter = Alerter(alerts, store, 5, Metrics(), first_retry=30.0, max_retry=3600.0)
    alerter.state.record(ALERT, ["ops"], NOW_MS)
    return alerter


def _statuses(tmp_path: Path) -> list[tuple[str, int]]:
    return [(status, attempts) for _, _, status, attempts in state_rows(tmp_path / "alerts.db")]


def _next_ms(alerter: Alerter) -> int:
    due = alerter.state.next_due_ms()
    assert due is not None
    return due


def test_503_then_200_is_retried_after_a_back_off_and_sent_once(tmp_path: Path) -> None:
    with Receiver([(503, {}), (200, {})]) as receiver:
        alerter = _alerter(tmp_path, receiver.url)
        assert asyncio.run(alerter.deliver_due(NOW_MS)) == 0
        assert _statuses(tmp_path) == [("pending", 1)]
        retry_at = _next_ms(alerter)
        assert NOW_MS + 22_500 <= retry_at <= NOW_MS + 30_000  # 30 s less up to 25% jitter
        assert asyncio.run(alerter.deliver_due(retry_at - 1)) == 0  # not due yet: not sent
        assert len(receiver.bodies) == 1
        assert asyncio.run(alerter.deliver_due(retry_at)) == 1
        assert asyncio.run(alerter.deliver_due(retry_at + 10**9)) == 0  # sent: never again
        assert len(receiver.bodies) == 2
    assert _statuses(tmp_path) == [("sent", 2)]
    assert receiver.bodies[1]["alert"]["problem"] == {"code": ENF, "type": "<Dataset>"}


def test_429_waits_for_its_retry_after(tmp_path: Path) -> None:
    with Receiver([(429, {"Retry-After": "120"}), (200, {})]) as receiver:
        alerter = _alerter(tmp_path, receiver.url)
        asyncio.run(alerter.deliver_due(NOW_MS))
        assert _next_ms(alerter) == NOW_MS + 120_000
        assert asyncio.run(alerter.deliver_due(NOW_MS + 120_000)) == 1
    assert _statuses(tmp_path) == [("sent", 2)]


def test_400_fails_at_once(tmp_path: Path) -> None:
    with Receiver([(400, {})]) as receiver:
        alerter = _alerter(tmp_path, receiver.url)
        asyncio.run(alerter.deliver_due(NOW_MS))
        asyncio.run(alerter.deliver_due(NOW_MS + 10**9))
        assert len(receiver.bodies) == 1
    assert _statuses(tmp_path) == [("failed", 1)]
    delivery = alerter.state.history()[0]["deliveries"][0]
    assert (delivery["status"], delivery["last_error"]) == ("failed", "HTTP 400")
    assert alerter.state.next_due_ms() is None


def test_a_hanging_receiver_times_out_and_is_retried(tmp_path: Path) -> None:
    with Receiver([(200, {})], hang=True) as receiver:
        alerter = _alerter(tmp_path, receiver.url, timeout=0.3)
        assert asyncio.run(alerter.deliver_due(NOW_MS)) == 0
    assert _statuses(tmp_path) == [("pending", 1)]
    assert alerter.state.history()[0]["deliveries"][0]["last_error"] == "timeout"


def test_a_refused_connection_gives_up_after_the_last_attempt(tmp_path: Path) -> None:
    with Receiver([(200, {})]) as receiver:
        url = receiver.url
    alerter = _alerter(tmp_path, url)  # nothing listens there any more
    now = NOW_MS
    for _ in range(MAX_ATTEMPTS):
        asyncio.run(alerter.deliver_due(now))
        now = alerter.state.next_due_ms() or now
    assert _statuses(tmp_path) == [("failed", MAX_ATTEMPTS)]


def test_the_slack_format_escapes_markup(tmp_path: Path) -> None:
    with Receiver([(200, {})]) as receiver:
        alerter = _alerter(tmp_path, receiver.url, form="slack")
        assert asyncio.run(alerter.deliver_due(NOW_MS)) == 1
    body = receiver.bodies[0]
    assert set(body) == {"text", "blocks"}
    assert "&lt;Dataset&gt;" in body["text"]
    assert "<" not in body["text"]
    assert body["blocks"][0]["text"]["text"] == body["text"]


def test_the_json_format() -> None:
    body = body_of(ALERT, NOW_MS, "json")["alert"]
    assert body["time"].endswith("T12:00:00Z")
    assert {k: body[k] for k in ("rule", "kind", "what", "app", "version")} == {
        "rule": "r",
        "kind": "new",
        "what": "error",
        "app": "argilla",
        "version": None,
    }
    assert (
        body["text"]
        == f"New error in argilla: {ENF} <Dataset> (7 events from 5 installs in the last 2 days)"
    )


@pytest.mark.parametrize(
    ("attempts", "retry_after", "expected"),
    [
        (1, None, 30.0),
        (2, None, 60.0),
        (8, None, 3600.0),
        (30, None, 3600.0),
        (1, 90.0, 90.0),
        (1, 10**6, 3600.0),
    ],
)
def test_back_off_doubles_is_capped_and_honours_retry_after(
    attempts: int, retry_after: float | None, expected: float
) -> None:
    assert retry_delay(attempts, retry_after, jitter=lambda: 0.0) == expected
    if retry_after is None:
        assert retry_delay(attempts, jitter=lambda: 1.0) == expected * 0.75


def test_the_text_of_a_rate_alert_names_both_versions() -> None:
    numbers: dict[str, float | str | None] = {
        "rate": 24.0,
        "previous_rate": 3.0,
        "previous_version": "1.0.0",
        "installs": 3,
    }
    worse = Alert(
        "k",
        "w",
        "rate",
        "crash",
        "argilla",
        {"signature": "ab", "exception": "E"},
        "1.1.0",
        numbers,
    )
    assert text_of(worse) == (
        "Crash rate up in argilla 1.1.0: ab E, 24.0 per 100 installs per day "
        "(was 3.0 in 1.0.0; 3 installs affected)"
    )
    fresh = Alert(
        "k",
        "w",
        "rate",
        "crash",
        "argilla",
        {"signature": "ab"},
        "1.1.0",
        {**numbers, "previous_rate": None},
    )
    assert "(was not reported or rare in 1.0.0;" in text_of(fresh)
