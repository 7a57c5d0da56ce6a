"""Retention: delete raw events older than N days, at start and then daily."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from pigeon.collector._metrics import Metrics
from pigeon.collector.storage import Store, StoreError

__all__ = ["RETENTION_INTERVAL", "keep_retention"]

logger = logging.getLogger("pigeon.collector")

RETENTION_INTERVAL: Final = 86_400.0
"""Seconds between two retention runs."""


async def keep_retention(
    store: Store, days: int, metrics: Metrics, interval: float = RETENTION_INTERVAL
) -> None:
    """Apply retention now and every ``interval`` seconds, until cancelled."""
    while True:
        try:
            deleted = await store.apply_retention(days)
        except StoreError as exc:
            metrics.retention_runs.labels("failed").inc()
            logger.warning("retention failed, will retry: %s", exc)
        else:
            metrics.retention_runs.labels("ok").inc()
            metrics.retention_deleted.inc(deleted)
            if deleted:
                logger.info("retention: deleted %d raw events older than %d days", deleted, days)
        await asyncio.sleep(interval)
