"""Per-client-address rate limiting, in memory only and with bounded memory.

A token bucket per address: ``rate`` requests per second, bursts up to
``burst``. Addresses live only in this process's memory (never stored or
logged); idle ones are pruned, and the table never holds more than
``max_clients`` entries.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token buckets keyed by client address."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Allow ``rate`` requests per second per client, ``burst`` at once (default 2x, >= 10)."""
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = burst if burst is not None else max(10.0, 2 * rate)
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, at)

    def __len__(self) -> int:
        """How many addresses are tracked right now."""
        return len(self._buckets)

    def admit(self, client: str) -> float:
        """Take one token for ``client``: 0 when allowed, else the seconds to wait."""
        now = self._clock()
        tokens, at = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._store(client, tokens - 1.0, now)
            return 0.0
        self._store(client, tokens, now)
        return (1.0 - tokens) / self.rate

    def retry_after_header(self, wait: float) -> str:
        """``wait`` as a ``Retry-After`` value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(wait)))

    def _store(self, client: str, tokens: float, now: float) -> None:
        buckets = self._buckets
        if buckets.pop(client, None) is None and len(buckets) >= self._max_clients:
            self._prune(now)
        buckets[client] = (tokens, now)  # re-inserted: the dict's order is least recent first

    def _prune(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: drop those first.
        refill = self.burst / self.rate
        buckets = self._buckets
        for client in [c for c, (_, at) in buckets.items() if now - at >= refill]:
            del buckets[client]
        # Still full (a flood of distinct addresses): drop the least recent half.
        excess = len(buckets) - self._max_clients // 2
        if excess > 0:
            for client in list(buckets)[:excess]:
                del buckets[client]
