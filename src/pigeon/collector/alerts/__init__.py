"""Alerts: rules over the store's rollups, delivered once to webhooks, with a history.

The collector runs an :class:`Alerter` in its lifespan when its config has
an ``[alerts]`` table (:func:`parse_alerts`); ``GET /api/v1/alerts`` and the
dashboard's "Alerts" card read the :class:`AlertState`. See the "Alerts"
section of ``docs/collector.md``.
"""

from __future__ import annotations

from pigeon.collector.alerts._alerter import Alerter
from pigeon.collector.alerts._config import AlertsConfig, Rule, Webhook, parse_alerts
from pigeon.collector.alerts._delivery import Outcome, body_of, post, retry_delay
from pigeon.collector.alerts._rules import Alert, evaluate_rule
from pigeon.collector.alerts._state import AlertState

__all__ = [
    "Alert",
    "AlertState",
    "Alerter",
    "AlertsConfig",
    "Outcome",
    "Rule",
    "Webhook",
    "body_of",
    "evaluate_rule",
    "parse_alerts",
    "post",
    "retry_delay",
]
