"""The alerting loop: evaluate the rules, record new alerts, deliver what is due.

One :class:`Alerter` per collector process that evaluates (``--workers N``:
worker 0). Every blocking step (SQLite state, HTTP) runs in a thread, so the
event loop keeps serving ingestion; a failing evaluation or webhook is
logged, without any data, and tried again later.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, ParamSpec, TypeVar

from pigeon.collector._metrics import Metrics
from pigeon.collector.alerts._config import AlertsConfig
from pigeon.collector.alerts._delivery import (
    FIRST_RETRY_SECONDS,
    MAX_ATTEMPTS,
    MAX_RETRY_SECONDS,
    Outcome,
    body_of,
    post,
    retry_delay,
)
from pigeon.collector.alerts._rules import Alert, evaluate_rule
from pigeon.collector.alerts._state import AlertState, Delivery, DeliveryStatus
from pigeon.collector.storage._base import MS_PER_DAY, Store

__all__ = ["Alerter"]

logger = logging.getLogger("pigeon.collector")

_LEASE_MARGIN_MS: Final = 30_000
"""A claimed delivery's lease outlives its timeout by this much."""
_THREADS: Final = 4
"""Deliveries (and state reads) at once."""
_T = TypeVar("_T")
_P = ParamSpec("_P")


class Alerter:
    """Evaluates one collector's rules and delivers their alerts.

    Args:
        config: the ``[alerts]`` table.
        store: the collector's open store.
        min_installs: the collector's k-anonymity threshold.
        metrics: the collector's metrics (``pigeon_alert_*``).
        state: the state file (default: open ``config.state``).
        clock: seconds since the epoch (tests pass their own).
        first_retry, max_retry: the back-off's first delay and cap, in seconds.
    """

    def __init__(
        self,
        config: AlertsConfig,
        store: Store,
        min_installs: int,
        metrics: Metrics,
        *,
        state: AlertState | None = None,
        clock: Callable[[], float] = time.time,
        first_retry: float = FIRST_RETRY_SECONDS,
        max_retry: float = MAX_RETRY_SECONDS,
    ) -> None:
        """Keep the parts; the state file is opened (created) now."""
        self.config = config
        self.store = store
        self.min_installs = min_installs
        self.metrics = metrics
        self.state = state if state is not None else AlertState(config.state)
        self.clock = clock
        self.first_retry = first_retry
        self.max_retry = max_retry
        timeout = max((hook.timeout for hook in config.webhooks.values()), default=10.0)
        self._lease_ms = int(timeout * 1000) + _LEASE_MARGIN_MS
        # Threads of its own: hanging webhooks must not hold the loop's default executor.
        self._threads = ThreadPoolExecutor(_THREADS, thread_name_prefix="pigeon-alerts")

    async def _blocking(self, call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, functools.partial(call, *args, **kwargs))

    def close(self) -> None:
        """Let the alerter's threads go (a delivery in flight finishes in the background)."""
        self._threads.shutdown(wait=False)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def evaluate(self, now_ms: int | None = None) -> list[Alert]:
        """Evaluate every rule once; return the alerts raised for the first time."""
        now_ms = self._now_ms() if now_ms is None else now_ms
        today = now_ms // MS_PER_DAY
        apps = await self.store.apps()
        raised = []
        for rule in self.config.rules:
            for alert in await evaluate_rule(self.store, rule, apps, self.min_installs, today):
                if await self._blocking(self.state.record, alert, rule.webhooks, now_ms):
                    self.metrics.alerts_raised.labels(rule.name).inc()
                    raised.append(alert)
        return raised

    async def deliver_due(self, now_ms: int | None = None) -> int:
        """Attempt every delivery due by ``now_ms`` once; return how many were sent."""
        now_ms = self._now_ms() if now_ms is None else now_ms
        due = await self._blocking(self.state.claim_due, now_ms, self._lease_ms)
        outcomes = await asyncio.gather(*(self._blocking(self._attempt, d, now_ms) for d in due))
        await self._count_pending()
        return sum(1 for outcome in outcomes if outcome == "sent")

    def _attempt(self, delivery: Delivery, now_ms: int) -> str:
        """Send one delivery and record its outcome, in one thread.

        Sending and recording are one step: a stop that cancels the loop
        mid-send still records the answer, so a sent alert is not sent again.
        """
        hook = self.config.webhooks.get(delivery.webhook)
        if hook is None:  # removed from the configuration since the alert was raised
            outcome = Outcome("failed", "webhook no longer configured")
        else:
            body = body_of(delivery.alert, delivery.raised_ms, hook.format)
            outcome = post(hook.url, body, hook.timeout)
        attempts = delivery.attempts + 1
        if outcome.result == "retry" and attempts >= MAX_ATTEMPTS:
            outcome = Outcome("failed", f"{outcome.error} (gave up after {attempts} attempts)")
        if outcome.result == "retry":
            delay = retry_delay(
                attempts, outcome.retry_after, first=self.first_retry, cap=self.max_retry
            )
            next_ms = now_ms + int(delay * 1000)
            self.state.finish(delivery, "pending", now_ms, error=outcome.error, next_ms=next_ms)
            logger.warning(
                "alert webhook %r: %s; retrying in %.0f s", delivery.webhook, outcome.error, delay
            )
        else:
            status: DeliveryStatus = "sent" if outcome.result == "sent" else "failed"
            self.state.finish(delivery, status, now_ms, error=outcome.error)
            if status == "failed":
                logger.warning("alert webhook %r failed: %s", delivery.webhook, outcome.error)
        self.metrics.alert_deliveries.labels(delivery.webhook, outcome.result).inc()
        return outcome.result

    async def _count_pending(self) -> None:
        self.metrics.alert_deliveries_pending.set(await self._blocking(self.state.pending))

    async def run_once(self) -> None:
        """One evaluation and one delivery pass, timed and counted (errors logged, not raised)."""
        started = time.perf_counter()
        try:
            await self.evaluate()
        except Exception as exc:  # any failure is retried at the next run
            self.metrics.alert_runs.labels("failed").inc()
            # The type only: a message could quote data (an app name, a problem).
            logger.warning("alert evaluation failed (%s); retrying next run", type(exc).__name__)
        else:
            self.metrics.alert_runs.labels("ok").inc()
        finally:
            self.metrics.alert_run_seconds.observe(time.perf_counter() - started)
        await self._deliver_quietly()

    async def _deliver_quietly(self) -> None:
        try:
            await self.deliver_due()
        except Exception as exc:  # the state file may be busy: next pass
            logger.warning("alert delivery pass failed (%s); retrying", type(exc).__name__)

    async def run_forever(self) -> None:
        """Evaluate every ``interval`` seconds, deliver as deliveries fall due; until cancelled."""
        try:
            await self._run_forever()
        finally:
            self.close()

    async def _run_forever(self) -> None:
        interval = self.config.interval
        while True:
            next_run = self.clock() + interval
            await self.run_once()
            while (left := next_run - self.clock()) > 0:
                due_ms = await self._next_due()
                wait = left if due_ms is None else min(left, max(0.0, due_ms / 1000 - self.clock()))
                await asyncio.sleep(max(wait, 0.05))
                if due_ms is not None and due_ms / 1000 <= self.clock():
                    await self._deliver_quietly()

    async def _next_due(self) -> int | None:
        try:
            return await self._blocking(self.state.next_due_ms)
        except Exception:  # wait for the next evaluation instead
            return None
